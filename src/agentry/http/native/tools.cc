// /v1/tools: the tool registry (create, list, get, merge-patch, delete).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/tool_service.h"

namespace agentry::http {

namespace {

Response Answer(const Request& req, const Tool& tool, int status = 200) {
  return EntityResponse(req, status, ToolService::Etag(tool),
                        SerializeTool(tool));
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

}  // namespace

void RegisterToolRoutes(Router& router, ToolService& tools) {
  RouteOptions read;
  read.scope = Scope::kToolsRead;
  RouteOptions write;
  write.scope = Scope::kToolsWrite;

  router.Add(Method::kPost, "/v1/tools", write,
             [&tools](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto tool = tools.Create(*req.principal, *body);
               if (!tool.ok()) return Error(req, tool.status());
               Response r = Answer(req, *tool, 201);
               r.headers.emplace_back("Location", "/v1/tools/" + tool->id);
               return r;
             });

  router.Add(Method::kGet, "/v1/tools", read,
             [&tools](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req, CursorKind::kKey);
               if (!page.ok()) return Error(req, page.status());
               auto list = tools.List(*req.principal,
                                      PageRequest{page->after, page->limit});
               if (!list.ok()) return Error(req, list.status());
               PageWriter out;
               for (const Tool& t : list->items) out.Add(SerializeTool(t));
               return out.Finish(list->has_more && !list->items.empty(),
                                 list->has_more && !list->items.empty()
                                     ? std::string_view(list->items.back().id)
                                     : std::string_view());
             });

  router.Add(Method::kGet, "/v1/tools/{id}", read,
             [&tools](Request& req) -> std::optional<Response> {
               auto tool = tools.Get(*req.principal, req.Param("id"));
               if (!tool.ok()) return Error(req, tool.status());
               return Answer(req, *tool);
             });

  router.Add(Method::kPatch, "/v1/tools/{id}", write,
             [&tools](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto tool = tools.Patch(*req.principal, req.Param("id"), *body,
                                       req.Header("If-Match"));
               if (!tool.ok()) return Error(req, tool.status());
               return Answer(req, *tool);
             });

  router.Add(Method::kDelete, "/v1/tools/{id}", write,
             [&tools](Request& req) -> std::optional<Response> {
               Status st = tools.Delete(*req.principal, req.Param("id"),
                                        req.Header("If-Match"));
               if (!st.ok()) return Error(req, st);
               return NoContent();
             });
}

}  // namespace agentry::http
