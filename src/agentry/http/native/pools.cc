// /v1/agent-profile-pools: pools of profiles (create, list, get,
// merge-patch, delete) and their members.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <set>

#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/lease_service.h"

namespace agentry::http {

namespace {

constexpr size_t kMaxMembersPerCall = 500;

Response Answer(const Request& req, const PoolView& v, int status = 200) {
  return EntityResponse(
      req, status, LeaseService::Etag(v.pool.created_at_ms, v.pool.revision),
      LeaseService::SerializePool(v));
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

// {profile_ids: [uuid, …]} with 1–500 distinct ids.
Result<std::vector<std::string>> ParseProfileIds(const boost::json::object& b) {
  json::ObjectReader r(b);
  const boost::json::value* ids = r.Raw("profile_ids");
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  if (ids == nullptr || ids->is_null()) {
    return json::FieldError("profile_ids", " is required");
  }
  if (!ids->is_array() || ids->get_array().empty() ||
      ids->get_array().size() > kMaxMembersPerCall) {
    return json::FieldError("profile_ids",
                            " must be an array of 1 to 500 profile ids");
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  const boost::json::array& list = ids->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = json::Index("profile_ids", i);
    if (!list[i].is_string() || !IsUuid(json::View(list[i].get_string()))) {
      return json::FieldError(field, " must be a profile id (a UUID)");
    }
    std::string id = LowercaseUuid(json::View(list[i].get_string()));
    if (seen.insert(id).second) out.push_back(std::move(id));
  }
  return out;
}

}  // namespace

void RegisterPoolRoutes(Router& router, LeaseService& leases) {
  RouteOptions read;
  read.scope = Scope::kPoolsRead;
  RouteOptions write;
  write.scope = Scope::kPoolsWrite;

  router.Add(Method::kPost, "/v1/agent-profile-pools", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto v = leases.CreatePool(*req.principal, *body);
               if (!v.ok()) return Error(req, v.status());
               Response r = Answer(req, *v, 201);
               r.headers.emplace_back("Location",
                                      "/v1/agent-profile-pools/" + v->pool.id);
               return r;
             });

  router.Add(Method::kGet, "/v1/agent-profile-pools", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req);
               if (!page.ok()) return Error(req, page.status());
               auto list = leases.ListPools(
                   *req.principal, PageRequest{page->after, page->limit});
               if (!list.ok()) return Error(req, list.status());
               PageWriter out;
               for (const PoolView& v : list->items) {
                 out.Add(LeaseService::SerializePool(v));
               }
               const bool more = list->has_more && !list->items.empty();
               return out.Finish(
                   more, more ? std::string_view(list->items.back().pool.id)
                              : std::string_view());
             });

  router.Add(Method::kGet, "/v1/agent-profile-pools/{id}", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto v = leases.GetPool(*req.principal, req.Param("id"));
               if (!v.ok()) return Error(req, v.status());
               return Answer(req, *v);
             });

  router.Add(Method::kPatch, "/v1/agent-profile-pools/{id}", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto v = leases.PatchPool(*req.principal, req.Param("id"), *body,
                                         req.Header("If-Match"));
               if (!v.ok()) return Error(req, v.status());
               return Answer(req, *v);
             });

  router.Add(Method::kDelete, "/v1/agent-profile-pools/{id}", write,
             [&leases](Request& req) -> std::optional<Response> {
               Status st = leases.DeletePool(*req.principal, req.Param("id"),
                                             req.Header("If-Match"));
               if (!st.ok()) return Error(req, st);
               return NoContent();
             });

  router.Add(Method::kPost, "/v1/agent-profile-pools/{id}/profiles", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto ids = ParseProfileIds(*body);
               if (!ids.ok()) return Error(req, ids.status());
               auto added =
                   leases.AddMembers(*req.principal, req.Param("id"), *ids);
               if (!added.ok()) return Error(req, added.status());
               boost::json::object out;
               out["added"] = added->first;
               out["profile_count"] = added->second;
               return JsonResponse(200, boost::json::value(std::move(out)));
             });

  router.Add(Method::kGet, "/v1/agent-profile-pools/{id}/profiles", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req);
               if (!page.ok()) return Error(req, page.status());
               auto list =
                   leases.ListMembers(*req.principal, req.Param("id"),
                                      PageRequest{page->after, page->limit});
               if (!list.ok()) return Error(req, list.status());
               return WriteListed(*list);
             });

  router.Add(Method::kDelete, "/v1/agent-profile-pools/{id}/profiles", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto ids = ParseProfileIds(*body);
               if (!ids.ok()) return Error(req, ids.status());
               auto removed =
                   leases.RemoveMembers(*req.principal, req.Param("id"), *ids);
               if (!removed.ok()) return Error(req, removed.status());
               boost::json::object out;
               out["removed"] = removed->first;
               out["profile_count"] = removed->second;
               return JsonResponse(200, boost::json::value(std::move(out)));
             });

  router.Add(
      Method::kDelete, "/v1/agent-profile-pools/{id}/profiles/{profile_id}",
      write, [&leases](Request& req) -> std::optional<Response> {
        const std::vector<std::string> one = {
            std::string(req.Param("profile_id"))};
        auto removed =
            leases.RemoveMembers(*req.principal, req.Param("id"), one);
        if (!removed.ok()) return Error(req, removed.status());
        if (removed->first == 0) {
          return Error(req, Status::NotFound("profile " + one[0] +
                                             " is not a member of pool " +
                                             std::string(req.Param("id"))));
        }
        return NoContent();
      });
}

}  // namespace agentry::http
