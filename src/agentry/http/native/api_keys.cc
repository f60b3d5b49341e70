// /v1/api-keys: create (the key shown once), list (never the key), revoke.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "agentry/common/clock.h"
#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/tenancy_service.h"

namespace agentry::http {

namespace {

constexpr size_t kMaxAgentIds = 1000;

Result<CreateKeyRequest> ParseCreate(const Request& req) {
  AGENTRY_ASSIGN_OR_RETURN(boost::json::object body, ParseJsonBody(req));
  json::ObjectReader r(body);
  CreateKeyRequest out;
  AGENTRY_ASSIGN_OR_RETURN(
      out.name, r.String("name", {.min_chars = 1, .max_chars = 255}));
  AGENTRY_ASSIGN_OR_RETURN(auto scopes,
                           r.OptStringArray("scopes", 32, {.max_chars = 64}));
  if (!scopes) return Status::InvalidRequest("scopes is required", "scopes");
  out.scopes = std::move(*scopes);
  AGENTRY_ASSIGN_OR_RETURN(
      out.agent_ids,
      r.OptStringArray("agent_ids", kMaxAgentIds, {.max_chars = 64}));
  AGENTRY_ASSIGN_OR_RETURN(auto expires, r.OptString("expires_at"));
  if (expires) {
    auto ms = ParseRfc3339(*expires);
    if (!ms) {
      return Status::InvalidRequest("expires_at must be an RFC 3339 timestamp",
                                    "expires_at");
    }
    out.expires_at_ms = *ms;
  }
  if (const boost::json::value* rl = r.Raw("rate_limit");
      rl && !rl->is_null()) {
    if (!rl->is_object()) {
      return Status::InvalidRequest("rate_limit must be an object",
                                    "rate_limit");
    }
    json::ObjectReader lr(rl->get_object(), "rate_limit");
    AGENTRY_ASSIGN_OR_RETURN(auto per_second,
                             lr.OptNumber("per_second", 0.001, 1e6));
    AGENTRY_ASSIGN_OR_RETURN(auto burst, lr.OptInt("burst", 1, 1'000'000));
    AGENTRY_RETURN_IF_ERROR(lr.Finish());
    if (!per_second) {
      return Status::InvalidRequest("per_second is required",
                                    "rate_limit.per_second");
    }
    if (!burst) {
      return Status::InvalidRequest("burst is required", "rate_limit.burst");
    }
    out.rate_limit = RateLimit{*per_second, *burst};
  }
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  return out;
}

boost::json::object Encode(const ApiKey& k) {
  boost::json::object o;
  o["id"] = k.id;
  o["name"] = k.name;
  o["prefix"] = k.prefix;
  boost::json::array scopes;
  for (const auto& s : k.scopes) scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  if (k.agent_ids) {
    boost::json::array ids;
    for (const auto& a : *k.agent_ids) ids.emplace_back(a);
    o["agent_ids"] = std::move(ids);
  } else {
    o["agent_ids"] = nullptr;
  }
  if (k.expires_at_ms) {
    o["expires_at"] = FormatRfc3339Ms(*k.expires_at_ms);
  } else {
    o["expires_at"] = nullptr;
  }
  if (k.rate_limit) {
    boost::json::object rl;
    rl["per_second"] = k.rate_limit->per_second;
    rl["burst"] = k.rate_limit->burst;
    o["rate_limit"] = std::move(rl);
  } else {
    o["rate_limit"] = nullptr;
  }
  o["created_at"] = FormatRfc3339Ms(k.created_at_ms);
  return o;
}

}  // namespace

void RegisterApiKeyRoutes(Router& router, TenancyService& tenancy) {
  RouteOptions opts;
  opts.scope = Scope::kKeysWrite;

  router.Add(Method::kPost, "/v1/api-keys", opts,
             [&tenancy](Request& req) -> std::optional<Response> {
               auto parsed = ParseCreate(req);
               if (!parsed.ok()) {
                 return ErrorResponse(parsed.status(), req.request_id);
               }
               auto created =
                   tenancy.CreateKey(*req.principal, std::move(*parsed));
               if (!created.ok()) {
                 return ErrorResponse(created.status(), req.request_id);
               }
               boost::json::object out = Encode(created->key);
               out["key"] = created->plaintext;
               return JsonResponse(201, boost::json::value(std::move(out)));
             });

  router.Add(Method::kGet, "/v1/api-keys", opts,
             [&tenancy](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req);
               if (!page.ok()) {
                 return ErrorResponse(page.status(), req.request_id);
               }
               PageRequest pr{page->after, page->limit};
               auto keys = tenancy.ListKeys(*req.principal, pr);
               if (!keys.ok()) {
                 return ErrorResponse(keys.status(), req.request_id);
               }
               boost::json::array data;
               for (const ApiKey& k : keys->items) data.emplace_back(Encode(k));
               boost::json::object out;
               out["data"] = std::move(data);
               if (keys->has_more && !keys->items.empty()) {
                 out["next_cursor"] = EncodeCursor(keys->items.back().id);
               } else {
                 out["next_cursor"] = nullptr;
               }
               return JsonResponse(200, boost::json::value(std::move(out)));
             });

  router.Add(Method::kDelete, "/v1/api-keys/{id}", opts,
             [&tenancy](Request& req) -> std::optional<Response> {
               Status st = tenancy.RevokeKey(*req.principal, req.Param("id"));
               if (!st.ok()) return ErrorResponse(st, req.request_id);
               return NoContent();
             });
}

}  // namespace agentry::http
