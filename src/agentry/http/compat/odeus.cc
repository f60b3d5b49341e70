// Odeus Agents API: GET /agent/v1/get, POST /agent/v1/create, POST|PATCH
// /agent/v1/update, POST /agent/v1/publish, each also under /api/public.
// Field names map to the native agent (docs/compatible-surfaces.md); the
// rules are AgentService's.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <map>
#include <utility>

#include "agentry/common/clock.h"
#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/json_patch.h"
#include "agentry/http/compat/compat.h"
#include "agentry/http/error_mapping.h"
#include "agentry/service/agent_service.h"

namespace agentry::http {

namespace {

namespace bj = boost::json;

// The vendor's default creativity, answered for an agent that sets no
// temperature (the answer's `temperature` is always a number).
constexpr double kDefaultTemperature = 0.3;

constexpr std::string_view kPrefixes[] = {"/agent/v1", "/api/public/agent/v1"};

// A native field path in Odeus names.
std::string OdeusField(std::string_view f) {
  static constexpr std::pair<std::string_view, std::string_view> kTop[] = {
      {"model.parameters.temperature", "temperature"},
      {"model.name", "model"},
      {"instructions", "instruction"},
      {"emoji_icon", "emojiIcon"},
      {"conversation_starters", "conversationStarters"},
      {"input_type", "inputType"},
      {"input_fields", "inputFields"},
      {"knowledge_folder_ids", "knowledgeFolderIds"},
      {"capabilities.web_search", "webSearchEnabled"},
      {"capabilities.image_generation", "imageGenerationEnabled"},
      {"capabilities.code_interpreter", "codeInterpreterEnabled"},
      {"capabilities.canvas", "canvasEnabled"},
      {"capabilities.extended_thinking", "extendedThinking"},
  };
  std::string out(f);
  for (const auto& [native, odeus] : kTop) {
    if (f.starts_with(native) &&
        (f.size() == native.size() || f[native.size()] == '.' ||
         f[native.size()] == '[')) {
      out = std::string(odeus) + std::string(f.substr(native.size()));
      break;
    }
  }
  static constexpr std::pair<std::string_view, std::string_view> kInner[] = {
      {".file_types", ".fileTypes"},
      {".action_id", ".actionId"},
      {".requires_confirmation", ".requiresConfirmation"},
  };
  for (const auto& [native, odeus] : kInner) {
    if (size_t at = out.find(native); at != std::string::npos) {
      out.replace(at, native.size(), odeus);
    }
  }
  return out;
}

// An error of the services, whose fields are native paths: named the Odeus
// way.
Response Error(const Request& req, const Status& st) {
  return ErrorResponse(RenameField(st, OdeusField), req.request_id,
                       Dialect::kOdeus);
}

// An error of this adapter, already in Odeus names.
Response Refuse(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id, Dialect::kOdeus);
}

const bj::value& Get(const bj::object& o, std::string_view name) {
  return json::MemberOrNull(o, name);
}

const bj::array& ArrayMember(const bj::object& o, std::string_view name) {
  static const bj::array kEmpty;
  const bj::value& v = Get(o, name);
  return v.is_array() ? v.get_array() : kEmpty;
}

const bj::object& ObjectMember(const bj::object& o, std::string_view name) {
  static const bj::object kEmpty;
  const bj::value& v = Get(o, name);
  return v.is_object() ? v.get_object() : kEmpty;
}

// The seed's agent: the configuration `c` of the agent `head`.
bj::object AgentJson(const AgentRecord& head, const bj::object& c) {
  bj::object a;
  a["id"] = head.id;
  a["name"] = Get(c, "name");
  a["description"] = Get(c, "description");
  a["instruction"] = Get(c, "instructions");
  a["emojiIcon"] = Get(c, "emoji_icon");
  const bj::object& model = ObjectMember(c, "model");
  a["model"] = Get(model, "name");
  const bj::value& t = Get(ObjectMember(model, "parameters"), "temperature");
  a["temperature"] = t.is_number() ? t : bj::value(kDefaultTemperature);
  a["conversationStarters"] = Get(c, "conversation_starters");
  a["inputType"] = Get(c, "input_type");
  const bj::object& caps = ObjectMember(c, "capabilities");
  a["webSearchEnabled"] = Get(caps, "web_search");
  a["imageGenerationEnabled"] = Get(caps, "image_generation");
  a["codeInterpreterEnabled"] = Get(caps, "code_interpreter");
  a["canvasEnabled"] = Get(caps, "canvas");
  a["extendedThinking"] = Get(caps, "extended_thinking");
  bj::array actions;
  for (const bj::value& v : ArrayMember(c, "actions")) {
    const bj::object& in = v.get_object();
    actions.emplace_back(
        bj::object{{"actionId", Get(in, "action_id")},
                   {"requiresConfirmation", Get(in, "requires_confirmation")}});
  }
  a["actions"] = std::move(actions);
  bj::array fields;
  for (const bj::value& v : ArrayMember(c, "input_fields")) {
    const bj::object& in = v.get_object();
    bj::object f;
    f["slug"] = Get(in, "slug");
    f["type"] = Get(in, "type");
    f["label"] = Get(in, "label");
    f["description"] = Get(in, "description");
    f["required"] = Get(in, "required");
    f["order"] = Get(in, "order");
    f["options"] = Get(in, "options");
    f["fileTypes"] = Get(in, "file_types");
    fields.emplace_back(std::move(f));
  }
  a["inputFields"] = std::move(fields);
  a["attachments"] = Get(c, "attachments");
  a["createdAt"] = FormatRfc3339Ms(head.created_at_ms);
  a["updatedAt"] = FormatRfc3339Ms(head.updated_at_ms);
  return a;
}

std::string AgentAnswer(const AgentRecord& head, const bj::object& config,
                        std::string_view message) {
  bj::object out;
  out["status"] = "success";
  if (!message.empty()) out["message"] = message;
  out["agent"] = AgentJson(head, config);
  return json::Serialize(out);
}

// ---- requests: Odeus members → a JSON Merge Patch of the native draft ----

// Sets patch[path[0]][path[1]]… = value, making the objects on the way.
void SetPath(bj::object& patch, std::initializer_list<std::string_view> path,
             bj::value value) {
  bj::object* at = &patch;
  auto it = path.begin();
  for (size_t i = 0; i + 1 < path.size(); ++i, ++it) {
    bj::value& next = (*at)[*it];
    if (!next.is_object()) next = bj::object();
    at = &next.get_object();
  }
  (*at)[*it] = std::move(value);
}

// Renames the members of one array element (an object) by `names`
// (Odeus → native), refusing others; `defaults` fills absent ones. Values
// that are not objects pass unchanged for the native validator to refuse.
Result<bj::value> MapElements(
    const bj::value& list, const std::string& field,
    std::initializer_list<std::pair<std::string_view, std::string_view>> names,
    std::initializer_list<std::pair<std::string_view, bj::value>> defaults) {
  if (!list.is_array()) return list;
  bj::array out;
  const bj::array& in = list.get_array();
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].is_object()) {
      out.push_back(in[i]);
      continue;
    }
    bj::object mapped;
    for (const auto& [key, value] : in[i].get_object()) {
      std::string_view native;
      for (const auto& [odeus, n] : names) {
        if (odeus == key) native = n;
      }
      if (native.empty()) {
        return json::FieldError(json::Join(json::Index(field, i), key),
                                " is not a member of this object");
      }
      mapped[native] = value;
    }
    for (const auto& [native, value] : defaults) {
      if (!mapped.contains(native)) mapped[native] = value;
    }
    out.emplace_back(std::move(mapped));
  }
  return bj::value(std::move(out));
}

// A native merge patch from an Odeus create or update body (without
// agentId). Partial: absent members are absent; `null` (and "" for
// strings) clears. Two names of the same member at once are refused.
Result<bj::object> ToNativePatch(const bj::object& in) {
  bj::object patch;
  std::map<std::string, std::string> set_by;  // native path → Odeus name
  auto claim = [&](const std::string& target, std::string_view name) -> Status {
    auto [it, fresh] = set_by.emplace(target, std::string(name));
    if (!fresh) {
      return json::FieldError(std::string(name), " and " +
                                                     json::Quoted(it->second) +
                                                     " name the same setting; "
                                                     "give one of them");
    }
    return Status::Ok();
  };
  auto flag = [&](std::string_view name, const bj::value& v,
                  std::string_view capability) -> Status {
    AGENTRY_RETURN_IF_ERROR(
        claim("capabilities." + std::string(capability), name));
    SetPath(patch, {"capabilities", capability}, v);
    return Status::Ok();
  };
  for (const auto& [key, v] : in) {
    const std::string name(key);
    if (name == "name") {
      patch["name"] = v;
    } else if (name == "description") {
      AGENTRY_RETURN_IF_ERROR(claim("description", name));
      patch["description"] = v;
    } else if (name == "instruction" || name == "instructions") {
      AGENTRY_RETURN_IF_ERROR(claim("instructions", name));
      patch["instructions"] = v;
    } else if (name == "emoji" || name == "emojiIcon") {
      AGENTRY_RETURN_IF_ERROR(claim("emoji_icon", name));
      patch["emoji_icon"] = v;
    } else if (name == "model") {
      // Clearing the model goes back to the default one, keeping the
      // temperature.
      const bool clear =
          v.is_null() || (v.is_string() && v.get_string().empty());
      SetPath(patch, {"model", "name"}, clear ? bj::value("default") : v);
    } else if (name == "temperature" || name == "creativity") {
      AGENTRY_RETURN_IF_ERROR(claim("temperature", name));
      SetPath(patch, {"model", "parameters", "temperature"}, v);
    } else if (name == "conversationStarters") {
      patch["conversation_starters"] = v;
    } else if (name == "inputType") {
      patch["input_type"] = v;
    } else if (name == "inputFields") {
      AGENTRY_ASSIGN_OR_RETURN(patch["input_fields"],
                               MapElements(v, "inputFields",
                                           {{"slug", "slug"},
                                            {"type", "type"},
                                            {"label", "label"},
                                            {"description", "description"},
                                            {"required", "required"},
                                            {"order", "order"},
                                            {"options", "options"},
                                            {"fileTypes", "file_types"}},
                                           {}));
    } else if (name == "actions") {
      // The vendor asks for confirmation unless told otherwise.
      AGENTRY_ASSIGN_OR_RETURN(
          patch["actions"],
          MapElements(v, "actions",
                      {{"actionId", "action_id"},
                       {"requiresConfirmation", "requires_confirmation"}},
                      {{"requires_confirmation", bj::value(true)}}));
    } else if (name == "attachments" || name == "attachmentIds") {
      AGENTRY_RETURN_IF_ERROR(claim("attachments", name));
      patch["attachments"] = v;
    } else if (name == "knowledgeFolderIds") {
      patch["knowledge_folder_ids"] = v;
    } else if (name == "webSearch" || name == "webSearchEnabled") {
      AGENTRY_RETURN_IF_ERROR(flag(name, v, "web_search"));
    } else if (name == "imageGeneration" || name == "imageGenerationEnabled") {
      AGENTRY_RETURN_IF_ERROR(flag(name, v, "image_generation"));
    } else if (name == "dataAnalyst" || name == "codeInterpreterEnabled") {
      AGENTRY_RETURN_IF_ERROR(flag(name, v, "code_interpreter"));
    } else if (name == "canvas" || name == "canvasEnabled") {
      AGENTRY_RETURN_IF_ERROR(flag(name, v, "canvas"));
    } else if (name == "extendedThinking") {
      AGENTRY_RETURN_IF_ERROR(flag(name, v, "extended_thinking"));
    } else if (name == "capabilities") {
      if (v.is_null()) continue;
      if (!v.is_object()) {
        return json::FieldError(name, " must be an object");
      }
      for (const auto& [ck, cv] : v.get_object()) {
        const std::string cname = json::Join(name, ck);
        if (ck == "webSearch") {
          AGENTRY_RETURN_IF_ERROR(flag(cname, cv, "web_search"));
        } else if (ck == "imageGeneration") {
          AGENTRY_RETURN_IF_ERROR(flag(cname, cv, "image_generation"));
        } else if (ck == "dataAnalyst") {
          AGENTRY_RETURN_IF_ERROR(flag(cname, cv, "code_interpreter"));
        } else {
          return json::FieldError(cname, " is not a capability");
        }
      }
    } else if (name == "vectorDb") {
      // Vector databases are not part of Agentry's agent; an empty list
      // (what the vendor's own clients send by default) is accepted.
      if (!v.is_null() && !(v.is_array() && v.get_array().empty())) {
        return json::FieldError(name,
                                " is not supported here (send [] or "
                                "leave it out)");
      }
    } else {
      return json::FieldError(name, " is not a field of an Odeus agent");
    }
  }
  return patch;
}

// agentId: required, a UUID.
Result<std::string> AgentId(const bj::value* v) {
  if (v == nullptr || v->is_null()) {
    return json::FieldError("agentId", " is required");
  }
  if (!v->is_string() || !IsUuid(json::View(v->get_string()))) {
    return json::FieldError("agentId", " must be a UUID");
  }
  return LowercaseUuid(json::View(v->get_string()));
}

}  // namespace

void RegisterOdeusRoutes(Router& router, AgentService& agents) {
  RouteOptions read = SurfaceOptions(Scope::kAgentsRead, Dialect::kOdeus);
  read.inline_first = true;  // the hot read path, answered from memory
  const RouteOptions write =
      SurfaceOptions(Scope::kAgentsWrite, Dialect::kOdeus);
  const RouteOptions publish =
      SurfaceOptions(Scope::kAgentsPublish, Dialect::kOdeus);

  for (const std::string_view prefix : kPrefixes) {
    const std::string base(prefix);

    router.Add(Method::kGet, base + "/get", read,
               [&agents](Request& req) -> std::optional<Response> {
                 const auto q = req.Query("agentId");
                 bj::value given = q ? bj::value(bj::string(*q)) : bj::value();
                 auto id = AgentId(q ? &given : nullptr);
                 if (!id.ok()) return Refuse(req, id.status());
                 auto found = HotAgent(agents, req, *id);
                 if (!found) return std::nullopt;
                 if (!found->ok()) return Error(req, found->status());
                 const std::shared_ptr<const CachedAgent>& agent = **found;
                 Response r;
                 r.shared_body = agent->surface_views[kOdeusViewSlot].Get([&] {
                   return AgentAnswer(agent->head, agent->current_config(), "");
                 });
                 return r;
               });

    router.Add(Method::kPost, base + "/create", write,
               [&agents](Request& req) -> std::optional<Response> {
                 auto body = ParseJsonBody(req);
                 if (!body.ok()) return Error(req, body.status());
                 auto patch = ToNativePatch(*body);
                 if (!patch.ok()) return Refuse(req, patch.status());
                 bj::value config = json::MergePatch(bj::object(), *patch);
                 bj::object& c = config.as_object();
                 if (auto m = c.find("model");
                     m != c.end() && m->value().is_object() &&
                     !m->value().get_object().contains("name")) {
                   m->value().get_object()["name"] = "default";
                 }
                 auto created = agents.Create(*req.principal, c);
                 if (!created.ok()) return Error(req, created.status());
                 const CachedAgent& a = **created;
                 return JsonResponse(201,
                                     AgentAnswer(a.head, a.head.draft,
                                                 "Agent created successfully"));
               });

    for (const Method m : {Method::kPost, Method::kPatch}) {
      router.Add(m, base + "/update", write,
                 [&agents](Request& req) -> std::optional<Response> {
                   auto body = ParseJsonBody(req);
                   if (!body.ok()) return Error(req, body.status());
                   auto id = AgentId(body->if_contains("agentId"));
                   if (!id.ok()) return Refuse(req, id.status());
                   bj::object rest = *body;
                   rest.erase("agentId");
                   auto patch = ToNativePatch(rest);
                   if (!patch.ok()) return Refuse(req, patch.status());
                   auto patched = agents.Patch(*req.principal, *id, *patch, "");
                   if (!patched.ok()) return Error(req, patched.status());
                   const CachedAgent& a = **patched;
                   return JsonResponse(
                       200, AgentAnswer(a.head, a.head.draft,
                                        "Agent updated successfully"));
                 });
    }

    router.Add(Method::kPost, base + "/publish", publish,
               [&agents](Request& req) -> std::optional<Response> {
                 auto body = ParseJsonBody(req);
                 if (!body.ok()) return Error(req, body.status());
                 json::ObjectReader r(*body);
                 auto id = AgentId(r.Raw("agentId"));
                 if (!id.ok()) return Refuse(req, id.status());
                 auto note = r.OptString("description", json::FreeText(1024));
                 if (!note.ok()) return Refuse(req, note.status());
                 if (Status st = r.Finish(); !st.ok()) return Refuse(req, st);
                 auto view = agents.Publish(*req.principal, *id,
                                            note->value_or(""), "");
                 if (!view.ok()) return Error(req, view.status());
                 // The new version's number and time, from its native answer.
                 auto native = json::ParseStrictObject(*view->body);
                 if (!native.ok()) return Error(req, native.status());
                 const bj::value& n = Get(*native, "version");
                 bj::object version;
                 version["id"] =
                     NameBasedUuid(*id + "/versions/" + json::Serialize(n));
                 version["version"] = n;
                 version["createdAt"] = Get(*native, "published_at");
                 bj::object out;
                 out["status"] = "success";
                 out["message"] = "Agent published successfully";
                 out["version"] = std::move(version);
                 return JsonResponse(200, json::Serialize(out));
               });
  }
}

}  // namespace agentry::http
