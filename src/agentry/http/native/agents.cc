// /v1/agents: create, list, get (the hot path), merge-patch, delete,
// publish, versions, activate and diff.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <climits>

#include "agentry/common/clock.h"
#include "agentry/common/json.h"
#include "agentry/common/text.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/agent_service.h"
#include "agentry/service/references.h"

namespace agentry::http {

namespace {

Result<AgentRef> ParseRef(std::string_view text, std::string_view field) {
  if (text == "draft") return AgentRef{true, 0};
  auto v = ParseVersionNumber(text, field);
  if (!v.ok()) {
    return Status::InvalidRequest(
        std::string(field) + " must be \"draft\" or a version number (1, 2, …)",
        std::string(field));
  }
  return AgentRef{false, *v};
}

// 200 (or `status`) with the view and its ETag, or 304 when the client's
// If-None-Match already names it.
Response Answer(const Request& req, const AgentView& view, int status = 200) {
  Response r;
  r.headers.emplace_back("ETag", view.etag);
  if (status == 200 &&
      EtagListMatches(req.Header("If-None-Match"), view.etag, true)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.status = status;
  r.shared_body = view.body;
  return r;
}

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

}  // namespace

void RegisterAgentRoutes(Router& router, AgentService& agents,
                         References& references) {
  RouteOptions read;
  read.scope = Scope::kAgentsRead;
  RouteOptions read_hot = read;
  read_hot.inline_first = true;
  RouteOptions write;
  write.scope = Scope::kAgentsWrite;
  RouteOptions publish;
  publish.scope = Scope::kAgentsPublish;

  router.Add(Method::kPost, "/v1/agents", write,
             [&agents](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               auto created = agents.Create(*req.principal, *body);
               if (!created.ok()) return Error(req, created.status());
               Response r = Answer(req, (*created)->draft, 201);
               r.headers.emplace_back("Location",
                                      "/v1/agents/" + (*created)->head.id);
               return r;
             });

  router.Add(
      Method::kGet, "/v1/agents", read,
      [&agents](Request& req) -> std::optional<Response> {
        auto page = ParsePageParams(req);
        if (!page.ok()) return Error(req, page.status());
        AgentListFilter filter;
        if (auto q = req.Query("q")) {
          if (json::Utf8Length(*q) > 256) {
            return Error(req, Status::InvalidRequest(
                                  "q must be at most 256 characters", "q"));
          }
          filter.name_contains = std::string(*q);
        }
        if (auto e = req.Query("enabled")) {
          if (*e == "true") {
            filter.enabled = true;
          } else if (*e == "false") {
            filter.enabled = false;
          } else {
            return Error(req, Status::InvalidRequest(
                                  "enabled must be true or false", "enabled"));
          }
        }
        auto list = agents.List(*req.principal, std::move(filter),
                                PageRequest{page->after, page->limit});
        if (!list.ok()) return Error(req, list.status());
        PageWriter out;
        for (const auto& item : list->items) out.Add(*item->current.body);
        return out.Finish(list->has_more && !list->items.empty(),
                          list->has_more && !list->items.empty()
                              ? std::string_view(list->items.back()->head.id)
                              : std::string_view());
      });

  router.Add(Method::kGet, "/v1/agents/{id}", read_hot,
             [&agents](Request& req) -> std::optional<Response> {
               const std::string_view id = req.Param("id");
               std::optional<std::string_view> version = req.Query("version");
               std::optional<AgentRef> ref;
               if (version) {
                 auto parsed = ParseRef(*version, "version");
                 if (!parsed.ok()) return Error(req, parsed.status());
                 ref = *parsed;
               }
               if (req.on_io_thread) {
                 // The hot path: answered from memory, or re-run on a worker.
                 if (ref && !ref->draft) return std::nullopt;
                 auto peek = agents.Peek(*req.principal, id);
                 if (!peek) return std::nullopt;
                 if (!peek->ok()) return Error(req, peek->status());
                 const CachedAgent& a = ***peek;
                 return Answer(req, ref ? a.draft : a.current);
               }
               if (ref && !ref->draft) {
                 auto view =
                     agents.GetVersionView(*req.principal, id, ref->version);
                 if (!view.ok()) return Error(req, view.status());
                 return Answer(req, *view);
               }
               auto got = agents.Get(*req.principal, id);
               if (!got.ok()) return Error(req, got.status());
               return Answer(req, ref ? (*got)->draft : (*got)->current);
             });

  router.Add(Method::kPatch, "/v1/agents/{id}", write,
             [&agents](Request& req) -> std::optional<Response> {
               auto body = ParseJsonBody(req, "application/merge-patch+json");
               if (!body.ok()) return Error(req, body.status());
               auto patched = agents.Patch(*req.principal, req.Param("id"),
                                           *body, req.Header("If-Match"));
               if (!patched.ok()) return Error(req, patched.status());
               return Answer(req, (*patched)->draft);
             });

  router.Add(Method::kDelete, "/v1/agents/{id}", write,
             [&agents](Request& req) -> std::optional<Response> {
               Status st = agents.Delete(*req.principal, req.Param("id"),
                                         req.Header("If-Match"));
               if (!st.ok()) return Error(req, st);
               return NoContent();
             });

  router.Add(Method::kPost, "/v1/agents/{id}/publish", publish,
             [&agents](Request& req) -> std::optional<Response> {
               auto body = ParseOptionalJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               json::ObjectReader r(*body);
               auto note = r.OptString(
                   "note", {.max_chars = 1024, .allow_newlines = true});
               if (!note.ok()) return Error(req, note.status());
               if (Status st = r.Finish(); !st.ok()) return Error(req, st);
               auto view =
                   agents.Publish(*req.principal, req.Param("id"),
                                  note->value_or(""), req.Header("If-Match"));
               if (!view.ok()) return Error(req, view.status());
               return Answer(req, *view, 201);
             });

  router.Add(Method::kGet, "/v1/agents/{id}/versions", read,
             [&agents](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req, CursorKind::kNumber);
               if (!page.ok()) return Error(req, page.status());
               auto before = VersionCursor(*page);
               if (!before.ok()) return Error(req, before.status());
               auto versions = agents.ListVersions(
                   *req.principal, req.Param("id"), *before, page->limit);
               if (!versions.ok()) return Error(req, versions.status());
               boost::json::array data;
               for (const AgentVersionSummary& v : versions->items) {
                 boost::json::object o;
                 o["version"] = v.version;
                 o["note"] = v.note;
                 o["published_at"] = FormatRfc3339Ms(v.published_at_ms);
                 o["published_by"] = v.published_by;
                 data.emplace_back(std::move(o));
               }
               boost::json::object out;
               out["data"] = std::move(data);
               if (versions->has_more && !versions->items.empty()) {
                 out["next_cursor"] = EncodeCursor(
                     std::to_string(versions->items.back().version));
               } else {
                 out["next_cursor"] = nullptr;
               }
               return JsonResponse(200, boost::json::value(std::move(out)));
             });

  router.Add(Method::kGet, "/v1/agents/{id}/versions/{n}", read,
             [&agents](Request& req) -> std::optional<Response> {
               auto n = ParseVersionNumber(req.Param("n"), "version");
               if (!n.ok()) return Error(req, n.status());
               auto view =
                   agents.GetVersionView(*req.principal, req.Param("id"), *n);
               if (!view.ok()) return Error(req, view.status());
               return Answer(req, *view);
             });

  router.Add(Method::kPost, "/v1/agents/{id}/versions/{n}/activate", publish,
             [&agents](Request& req) -> std::optional<Response> {
               auto n = ParseVersionNumber(req.Param("n"), "version");
               if (!n.ok()) return Error(req, n.status());
               auto body = ParseOptionalJsonBody(req);
               if (!body.ok()) return Error(req, body.status());
               if (Status st = json::ObjectReader(*body).Finish(); !st.ok()) {
                 return Error(req, st);
               }
               auto view = agents.Activate(*req.principal, req.Param("id"), *n,
                                           req.Header("If-Match"));
               if (!view.ok()) return Error(req, view.status());
               return Answer(req, *view);
             });

  router.Add(
      Method::kGet, "/v1/agents/{id}/diff", read,
      [&agents](Request& req) -> std::optional<Response> {
        auto from_text = req.Query("from");
        auto to_text = req.Query("to");
        if (!from_text) {
          return Error(
              req, Status::InvalidRequest(
                       "from is required (\"draft\" or a version)", "from"));
        }
        if (!to_text) {
          return Error(req,
                       Status::InvalidRequest(
                           "to is required (\"draft\" or a version)", "to"));
        }
        auto from = ParseRef(*from_text, "from");
        if (!from.ok()) return Error(req, from.status());
        auto to = ParseRef(*to_text, "to");
        if (!to.ok()) return Error(req, to.status());
        auto patch = agents.Diff(*req.principal, req.Param("id"), *from, *to);
        if (!patch.ok()) return Error(req, patch.status());
        Response r = JsonResponse(200, boost::json::value(std::move(*patch)));
        r.content_type = "application/json-patch+json";
        return r;
      });

  // The version to render: "draft", a number, or absent (what a GET
  // answers).
  router.Add(
      Method::kPost, "/v1/agents/{id}/render", read,
      [&agents, &references](Request& req) -> std::optional<Response> {
        auto body = ParseOptionalJsonBody(req);
        if (!body.ok()) return Error(req, body.status());
        json::ObjectReader r(*body);
        auto session = ParseRenderSession(r);
        if (!session.ok()) return Error(req, session.status());
        std::optional<AgentRef> ref;
        if (const boost::json::value* v = r.Raw("version");
            v != nullptr && !v->is_null()) {
          if (v->is_string() && v->get_string() == "draft") {
            ref = AgentRef{true, 0};
          } else if (v->is_int64() && v->get_int64() >= 1 &&
                     v->get_int64() <= INT_MAX) {
            ref = AgentRef{false, static_cast<int>(v->get_int64())};
          } else {
            return Error(req, Status::InvalidRequest(
                                  "version must be \"draft\" or a version "
                                  "number (1, 2, …)",
                                  "version"));
          }
        }
        if (Status st = r.Finish(); !st.ok()) return Error(req, st);
        auto agent = agents.ConfigAt(*req.principal, req.Param("id"), ref);
        if (!agent.ok()) return Error(req, agent.status());
        auto rendered = references.RenderAgent(*agent, *session);
        if (!rendered.ok()) return Error(req, rendered.status());
        boost::json::array list;
        for (RenderedInstruction& item : *rendered) {
          list.emplace_back(boost::json::object{
              {"name", std::move(item.name)}, {"text", std::move(item.text)}});
        }
        boost::json::object out;
        out["instructions"] = std::move(list);
        return JsonResponse(200, boost::json::value(std::move(out)));
      });
}

}  // namespace agentry::http
