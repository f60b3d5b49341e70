// /v1/agent-profiles: credential profiles (create, list, get, merge-patch,
// delete). Secrets are accepted, sealed at rest and never answered here.
#include <boost/json/object.hpp>

#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/lease_service.h"

namespace agentry::http {

namespace {

Response Answer(const Request& req, const Profile& p, int status = 200) {
  return EntityResponse(req, status,
                        LeaseService::Etag(p.created_at_ms, p.revision),
                        LeaseService::SerializeProfile(p));
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

}  // namespace

void RegisterProfileRoutes(Router& router, LeaseService& leases) {
  RouteOptions read;
  read.scope = Scope::kProfilesRead;
  RouteOptions write;
  write.scope = Scope::kProfilesWrite;

  router.Add(Method::kPost, "/v1/agent-profiles", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto p = leases.CreateProfile(*req.principal, *body);
               if (!p.ok()) return Error(req, p.status());
               Response r = Answer(req, *p, 201);
               r.headers.emplace_back("Location",
                                      "/v1/agent-profiles/" + p->id);
               return r;
             });

  router.Add(Method::kGet, "/v1/agent-profiles", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req);
               if (!page.ok()) return Error(req, page.status());
               auto list = leases.ListProfiles(
                   *req.principal, PageRequest{page->after, page->limit});
               if (!list.ok()) return Error(req, list.status());
               PageWriter out;
               for (const Profile& p : list->items) {
                 out.Add(LeaseService::SerializeProfile(p));
               }
               const bool more = list->has_more && !list->items.empty();
               return out.Finish(more,
                                 more ? std::string_view(list->items.back().id)
                                      : std::string_view());
             });

  router.Add(Method::kGet, "/v1/agent-profiles/{id}", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto p = leases.GetProfile(*req.principal, req.Param("id"));
               if (!p.ok()) return Error(req, p.status());
               return Answer(req, *p);
             });

  router.Add(Method::kPatch, "/v1/agent-profiles/{id}", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto p = leases.PatchProfile(*req.principal, req.Param("id"),
                                            *body, req.Header("If-Match"));
               if (!p.ok()) return Error(req, p.status());
               return Answer(req, *p);
             });

  router.Add(Method::kDelete, "/v1/agent-profiles/{id}", write,
             [&leases](Request& req) -> std::optional<Response> {
               Status st = leases.DeleteProfile(*req.principal, req.Param("id"),
                                                req.Header("If-Match"));
               if (!st.ok()) return Error(req, st);
               return NoContent();
             });
}

}  // namespace agentry::http
