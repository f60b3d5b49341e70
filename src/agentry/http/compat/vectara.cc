// Vectara Agents API v2: /v2/agents (list, create) and /v2/agents/{key}
// (get, patch, delete). The agent's `id` is its key; members are the native
// agent's, a subset of them (docs/compatible-surfaces.md).
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "agentry/common/clock.h"
#include "agentry/common/json.h"
#include "agentry/domain/agent.h"
#include "agentry/http/compat/compat.h"
#include "agentry/http/error_mapping.h"
#include "agentry/service/agent_service.h"

namespace agentry::http {

namespace {

namespace bj = boost::json;

// The members a Vectara agent has (and a create body may give, with
// `key`); every other native member keeps its value.
constexpr std::string_view kMembers[] = {"name",   "description", "tools",
                                         "model",  "first_step",  "metadata",
                                         "enabled"};

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id, Dialect::kVectara);
}

// The seed's agent: {id (the key), name, description, tools {available,
// mode}, model, first_step, metadata, enabled, created_at, updated_at}.
std::string AgentJson(const AgentRecord& head, const bj::object& c) {
  bj::object a;
  a["id"] = head.key;
  a["name"] = json::MemberOrNull(c, "name");
  a["description"] = json::MemberOrNull(c, "description");
  const bj::value& tools = json::MemberOrNull(c, "tools");
  bj::object t;
  if (tools.is_object()) {
    t["available"] = json::MemberOrNull(tools.get_object(), "available");
    t["mode"] = json::MemberOrNull(tools.get_object(), "mode");
  }
  a["tools"] = std::move(t);
  a["model"] = json::MemberOrNull(c, "model");
  a["first_step"] = json::MemberOrNull(c, "first_step");
  a["metadata"] = json::MemberOrNull(c, "metadata");
  a["enabled"] = json::MemberOrNull(c, "enabled");
  a["created_at"] = FormatRfc3339Ms(head.created_at_ms);
  a["updated_at"] = FormatRfc3339Ms(head.updated_at_ms);
  return json::Serialize(a);
}

// The current view (active version, else draft), serialised once per
// cache entry.
std::shared_ptr<const std::string> CurrentBody(const CachedAgent& a) {
  return a.surface_views[kVectaraViewSlot].Get(
      [&] { return AgentJson(a.head, a.current_config()); });
}

// Refuses members a Vectara agent does not have; `key` only when
// `allow_key`.
Status CheckMembers(const bj::object& body, bool allow_key) {
  for (const auto& [k, v] : body) {
    if (k == "key") {
      if (allow_key) continue;
      return json::FieldError("key", " cannot be changed");
    }
    if (std::find(std::begin(kMembers), std::end(kMembers), k) ==
        std::end(kMembers)) {
      return json::FieldError(
          std::string(k), k == "id" || k == "created_at" || k == "updated_at"
                              ? " is read-only"
                              : " is not a field of a Vectara agent");
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterVectaraRoutes(Router& router, AgentService& agents) {
  RouteOptions read = SurfaceOptions(Scope::kAgentsRead, Dialect::kVectara);
  read.inline_first = true;  // the hot read path, answered from memory
  const RouteOptions list =
      SurfaceOptions(Scope::kAgentsRead, Dialect::kVectara);
  const RouteOptions write =
      SurfaceOptions(Scope::kAgentsWrite, Dialect::kVectara);

  router.Add(Method::kGet, "/v2/agents/{agent_key}", read,
             [&agents](Request& req) -> std::optional<Response> {
               const std::string_view key = req.Param("agent_key");
               if (Status st = ValidateAgentKey(key); !st.ok()) {
                 return Error(req, st);
               }
               auto found = HotAgent(agents, req, key);
               if (!found) return std::nullopt;
               if (!found->ok()) return Error(req, found->status());
               Response r;
               r.shared_body = CurrentBody(***found);
               // The agent's ETag, for If-Match on PATCH and DELETE.
               r.headers.emplace_back("ETag", (**found)->current.etag);
               return r;
             });

  router.Add(Method::kGet, "/v2/agents", list,
             [&agents](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req, CursorKind::kUuid,
                                           PageParamSpec{.limit = "limit",
                                                         .cursor = "page_key",
                                                         .max_limit = 100,
                                                         .default_limit = 10});
               if (!page.ok()) return Error(req, page.status());
               auto found = agents.List(*req.principal, AgentListFilter{},
                                        PageRequest{page->after, page->limit});
               if (!found.ok()) return Error(req, found.status());
               std::string out = "{\"agents\":[";
               for (size_t i = 0; i < found->items.size(); ++i) {
                 if (i > 0) out.push_back(',');
                 out += *CurrentBody(*found->items[i]);
               }
               out += "],\"metadata\":{\"page_key\":";
               if (found->has_more && !found->items.empty()) {
                 out += json::Serialize(
                     bj::value(EncodeCursor(found->items.back()->head.id)));
               } else {
                 out += "null";
               }
               out += "}}";
               return JsonResponse(200, std::move(out));
             });

  router.Add(Method::kPost, "/v2/agents", write,
             [&agents](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               if (Status st = CheckMembers(*body, true); !st.ok()) {
                 return Error(req, st);
               }
               auto created = agents.Create(*req.principal, *body);
               if (!created.ok()) return Error(req, created.status());
               const CachedAgent& a = **created;
               Response r = JsonResponse(201, AgentJson(a.head, a.head.draft));
               r.headers.emplace_back("Location", "/v2/agents/" + a.head.key);
               return r;
             });

  router.Add(Method::kPatch, "/v2/agents/{agent_key}", write,
             [&agents](Request& req) -> std::optional<Response> {
               const std::string_view key = req.Param("agent_key");
               if (Status st = ValidateAgentKey(key); !st.ok()) {
                 return Error(req, st);
               }
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               if (Status st = CheckMembers(*body, false); !st.ok()) {
                 return Error(req, st);
               }
               auto patched = agents.Patch(*req.principal, key, *body,
                                           req.Header("If-Match"));
               if (!patched.ok()) return Error(req, patched.status());
               const CachedAgent& a = **patched;
               return JsonResponse(200, AgentJson(a.head, a.head.draft));
             });

  router.Add(Method::kDelete, "/v2/agents/{agent_key}", write,
             [&agents](Request& req) -> std::optional<Response> {
               const std::string_view key = req.Param("agent_key");
               if (Status st = ValidateAgentKey(key); !st.ok()) {
                 return Error(req, st);
               }
               Status st =
                   agents.Delete(*req.principal, key, req.Header("If-Match"));
               if (!st.ok()) return Error(req, st);
               return NoContent();
             });
}

}  // namespace agentry::http
