// Asteroid Agents API v2: /agents/v2/agent-profile-pools (list, create) and
// /agents/v2/agent-profile-pools/{poolId} (get, patch). A pool is answered
// as exactly the seed's AgentProfilePool (docs/compatible-surfaces.md).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "agentry/common/clock.h"
#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/http/compat/compat.h"
#include "agentry/http/error_mapping.h"
#include "agentry/service/lease_service.h"

namespace agentry::http {

namespace {

namespace bj = boost::json;

constexpr std::string_view kBase = "/agents/v2/agent-profile-pools";

// Asteroid member ↔ native pool member.
constexpr std::pair<std::string_view, std::string_view> kNames[] = {
    {"name", "name"},
    {"selectionStrategy", "selection_strategy"},
    {"allowConcurrentUse", "allow_concurrent_use"},
};

std::string AsteroidField(std::string_view native) {
  for (const auto& [asteroid, n] : kNames) {
    if (n == native) return std::string(asteroid);
  }
  return std::string(native);
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(RenameField(st, AsteroidField), req.request_id,
                       Dialect::kAsteroid);
}

// The seed's AgentProfilePool, no member more.
bj::object PoolJson(const Pool& pool) {
  bj::object o;
  o["id"] = pool.id;
  o["name"] = pool.config.contains("name") ? pool.config.at("name") : "";
  o["organizationId"] = pool.organization_id;
  o["selectionStrategy"] =
      StrategyOf(pool.config) == SelectionStrategy::kMostRecentlyUsed
          ? "most_recently_used"
          : "least_recently_used";
  const bj::value* shared = pool.config.if_contains("allow_concurrent_use");
  o["allowConcurrentUse"] = shared && shared->is_bool() && shared->get_bool();
  o["createdAt"] = FormatRfc3339Ms(pool.created_at_ms);
  o["updatedAt"] = FormatRfc3339Ms(pool.updated_at_ms);
  return o;
}

// A poolId path parameter: a UUID (lowercased), else 400.
Result<std::string> PoolId(const Request& req) {
  const std::string_view id = req.Param("poolId");
  if (!IsUuid(id)) {
    return Status::InvalidRequest("poolId must be a UUID", "poolId");
  }
  return LowercaseUuid(id);
}

// An organizationId the caller gives: a UUID (400 otherwise), its own
// (403 otherwise).
Status CheckOrganization(const Request& req, std::string_view given) {
  if (!IsUuid(given)) {
    return Status::InvalidRequest("organizationId must be a UUID",
                                  "organizationId");
  }
  if (LowercaseUuid(given) == req.principal->organization_id) {
    return Status::Ok();
  }
  return Status::Forbidden(
      "organizationId is not the organization of this API key");
}

// The native body of an Asteroid create or patch body. `organizationId`
// is checked (create only) and dropped; `null` is refused (every member of
// a pool has a value).
Result<bj::object> ToNative(const Request& req, const bj::object& body,
                            bool create) {
  bj::object out;
  for (const auto& [key, value] : body) {
    if (create && key == "organizationId") {
      if (!value.is_string()) {
        return json::FieldError("organizationId", " must be a string");
      }
      AGENTRY_RETURN_IF_ERROR(
          CheckOrganization(req, json::View(value.get_string())));
      continue;
    }
    std::string_view native;
    for (const auto& [asteroid, n] : kNames) {
      if (asteroid == key) native = n;
    }
    if (native.empty()) {
      return json::FieldError(std::string(key),
                              key == "id" || key == "createdAt" ||
                                      key == "updatedAt" ||
                                      key == "organizationId"
                                  ? " is read-only"
                                  : " is not a field of an agent profile pool");
    }
    if (value.is_null()) {
      return json::FieldError(std::string(key), " must not be null");
    }
    out[native] = value;
  }
  return out;
}

}  // namespace

void RegisterAsteroidRoutes(Router& router, LeaseService& leases) {
  const RouteOptions read =
      SurfaceOptions(Scope::kPoolsRead, Dialect::kAsteroid);
  const RouteOptions write =
      SurfaceOptions(Scope::kPoolsWrite, Dialect::kAsteroid);
  const std::string base(kBase);

  router.Add(Method::kGet, base + "/{poolId}", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto id = PoolId(req);
               if (!id.ok()) return Error(req, id.status());
               auto v = leases.GetPool(*req.principal, *id);
               if (!v.ok()) return Error(req, v.status());
               return JsonResponse(200, json::Serialize(PoolJson(v->pool)));
             });

  router.Add(
      Method::kGet, base, read,
      [&leases](Request& req) -> std::optional<Response> {
        if (auto org = req.Query("organizationId")) {
          if (Status st = CheckOrganization(req, *org); !st.ok()) {
            return Error(req, st);
          }
        }
        auto page = ParseIntParam(req, "page", 1, 1000000000, 1);
        if (!page.ok()) return Error(req, page.status());
        auto size = ParseIntParam(req, "pageSize", 1, 100, 50);
        if (!size.ok()) return Error(req, size.status());
        PoolQuery q;
        q.limit = static_cast<size_t>(*size);
        q.offset = (*page - 1) * *size;
        if (auto name = req.Query("searchName")) {
          if (json::Utf8Length(*name) > 255) {
            return Error(req, Status::InvalidRequest(
                                  "searchName must be at most 255 characters",
                                  "searchName"));
          }
          q.name_contains = std::string(*name);
        }
        if (auto field = req.Query("sortField")) {
          if (*field == "name") {
            q.sort = PoolQuery::Sort::kName;
          } else if (*field == "createdAt") {
            q.sort = PoolQuery::Sort::kCreatedAt;
          } else if (*field == "updatedAt") {
            q.sort = PoolQuery::Sort::kUpdatedAt;
          } else {
            return Error(req, Status::InvalidRequest(
                                  "sortField must be one of \"name\", "
                                  "\"createdAt\", \"updatedAt\"",
                                  "sortField"));
          }
        }
        if (auto dir = req.Query("sortDirection")) {
          if (*dir == "asc") {
            q.descending = false;
          } else if (*dir == "desc") {
            q.descending = true;
          } else {
            return Error(req, Status::InvalidRequest(
                                  "sortDirection must be \"asc\" or \"desc\"",
                                  "sortDirection"));
          }
        }
        auto found = leases.QueryPools(*req.principal, q);
        if (!found.ok()) return Error(req, found.status());
        bj::array items;
        for (const PoolView& v : found->items) {
          items.emplace_back(PoolJson(v.pool));
        }
        bj::object out;
        out["items"] = std::move(items);
        out["page"] = *page;
        out["pageSize"] = *size;
        out["total"] = found->total;
        return JsonResponse(200, json::Serialize(out));
      });

  router.Add(Method::kPost, base, write,
             [&leases](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto native = ToNative(req, *body, true);
               if (!native.ok()) return Error(req, native.status());
               auto v = leases.CreatePool(*req.principal, *native);
               if (!v.ok()) return Error(req, v.status());
               Response r =
                   JsonResponse(201, json::Serialize(PoolJson(v->pool)));
               r.headers.emplace_back("Location",
                                      std::string(kBase) + "/" + v->pool.id);
               return r;
             });

  router.Add(Method::kPatch, base + "/{poolId}", write,
             [&leases](Request& req) -> std::optional<Response> {
               auto id = PoolId(req);
               if (!id.ok()) return Error(req, id.status());
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto native = ToNative(req, *body, false);
               if (!native.ok()) return Error(req, native.status());
               auto v = leases.PatchPool(*req.principal, *id, *native,
                                         req.Header("If-Match"));
               if (!v.ok()) return Error(req, v.status());
               return JsonResponse(200, json::Serialize(PoolJson(v->pool)));
             });
}

}  // namespace agentry::http
