// /v1/instructions: versioned templates (create, list, get, patch = new
// version, versions, render).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <climits>

#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/instruction_service.h"
#include "agentry/service/references.h"

namespace agentry::http {

namespace {

Response Answer(const Request& req, const Instruction& ins, int status = 200) {
  return EntityResponse(req, status, InstructionService::Etag(ins),
                        SerializeInstruction(ins));
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

// ?version=N, or nullopt when absent.
Result<std::optional<int>> VersionQuery(const Request& req) {
  std::optional<std::string_view> text = req.Query("version");
  if (!text) return std::optional<int>();
  AGENTRY_ASSIGN_OR_RETURN(int n, ParseVersionNumber(*text, "version"));
  return std::optional<int>(n);
}

}  // namespace

Result<boost::json::object> ParseRenderSession(json::ObjectReader& r) {
  const boost::json::value* session = r.Raw("session");
  if (session == nullptr || session->is_null()) return boost::json::object();
  if (!session->is_object()) {
    return Status::InvalidRequest("\"session\" must be an object", "session");
  }
  return session->get_object();
}

void RegisterInstructionRoutes(Router& router, InstructionService& instructions,
                               References& references) {
  RouteOptions read;
  read.scope = Scope::kToolsRead;
  RouteOptions write;
  write.scope = Scope::kToolsWrite;

  router.Add(Method::kPost, "/v1/instructions", write,
             [&instructions](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto ins = instructions.Create(*req.principal, *body);
               if (!ins.ok()) return Error(req, ins.status());
               Response r = Answer(req, *ins, 201);
               r.headers.emplace_back("Location",
                                      "/v1/instructions/" + ins->id);
               return r;
             });

  router.Add(Method::kGet, "/v1/instructions", read,
             [&instructions](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req, CursorKind::kKey);
               if (!page.ok()) return Error(req, page.status());
               auto list = instructions.List(
                   *req.principal, PageRequest{page->after, page->limit});
               if (!list.ok()) return Error(req, list.status());
               PageWriter out;
               for (const Instruction& i : list->items) {
                 out.Add(SerializeInstruction(i));
               }
               const bool more = list->has_more && !list->items.empty();
               return out.Finish(more,
                                 more ? std::string_view(list->items.back().id)
                                      : std::string_view());
             });

  router.Add(Method::kGet, "/v1/instructions/{id}", read,
             [&instructions](Request& req) -> std::optional<Response> {
               auto version = VersionQuery(req);
               if (!version.ok()) return Error(req, version.status());
               auto ins =
                   instructions.Get(*req.principal, req.Param("id"), *version);
               if (!ins.ok()) return Error(req, ins.status());
               return Answer(req, *ins);
             });

  router.Add(Method::kPatch, "/v1/instructions/{id}", write,
             [&instructions](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto ins = instructions.Patch(*req.principal, req.Param("id"),
                                             *body, req.Header("If-Match"));
               if (!ins.ok()) return Error(req, ins.status());
               return Answer(req, *ins);
             });

  router.Add(Method::kGet, "/v1/instructions/{id}/versions", read,
             [&instructions](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req, CursorKind::kNumber);
               if (!page.ok()) return Error(req, page.status());
               auto before = VersionCursor(*page);
               if (!before.ok()) return Error(req, before.status());
               auto list = instructions.ListVersions(
                   *req.principal, req.Param("id"), *before, page->limit);
               if (!list.ok()) return Error(req, list.status());
               PageWriter out;
               for (const Instruction& i : list->items) {
                 out.Add(SerializeInstruction(i));
               }
               const bool more = list->has_more && !list->items.empty();
               return out.Finish(
                   more, more ? std::to_string(list->items.back().version)
                              : std::string());
             });

  router.Add(
      Method::kPost, "/v1/instructions/{id}/render", read,
      [&instructions, &references](Request& req) -> std::optional<Response> {
        auto body = ParseOptionalJsonBody(req);
        if (!body.ok()) return Error(req, body.status());
        json::ObjectReader r(*body);
        auto session = ParseRenderSession(r);
        if (!session.ok()) return Error(req, session.status());
        auto version = r.OptInt("version", 1, INT_MAX);
        if (!version.ok()) return Error(req, version.status());
        if (Status st = r.Finish(); !st.ok()) return Error(req, st);
        std::optional<int> n;
        if (*version) n = static_cast<int>(**version);
        // Resolve through the caller's organization first (404 otherwise).
        auto ins = instructions.Get(*req.principal, req.Param("id"), n);
        if (!ins.ok()) return Error(req, ins.status());
        auto compiled = instructions.Compiled(req.principal->organization_id,
                                              ins->id, ins->version);
        if (!compiled.ok()) return Error(req, compiled.status());
        auto text = InstructionService::Render(
            **compiled, references.InstructionContext(*session));
        if (!text.ok()) return Error(req, text.status());
        boost::json::object out;
        out["text"] = std::move(*text);
        return JsonResponse(200, boost::json::value(std::move(out)));
      });
}

}  // namespace agentry::http
