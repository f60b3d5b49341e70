#include "agentry/service/references.h"

#include <boost/json/array.hpp>
#include <optional>
#include <utility>

#include "agentry/common/json.h"
#include "agentry/domain/tool.h"
#include "agentry/templating/velocity.h"

namespace agentry {

namespace bj = boost::json;

namespace {

const bj::array* ArrayAt(const bj::object& o, std::string_view a,
                         std::string_view b) {
  const bj::value* outer = o.if_contains(a);
  if (outer == nullptr || !outer->is_object()) return nullptr;
  const bj::value* inner = outer->get_object().if_contains(b);
  return inner != nullptr && inner->is_array() ? &inner->get_array() : nullptr;
}

std::string_view StringAt(const bj::object& o, std::string_view name) {
  const bj::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? json::View(v->get_string())
                                        : std::string_view();
}

std::optional<int> VersionAt(const bj::object& o) {
  const bj::value* v = o.if_contains("version");
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return static_cast<int>(v->to_number<int64_t>());
}

std::string CurrentDate(int64_t now_ms) {
  return FormatRfc3339Ms(now_ms).substr(0, 10);
}

// A reference that does not resolve, as the error of `field`.
Status Unresolved(const Status& st, const std::string& field) {
  if (st.code() != ErrorCode::kNotFound) return st;
  return Status::InvalidRequest(st.message(), field);
}

}  // namespace

References::References(Store& store, InstructionService& instructions,
                       const Clock& clock)
    : store_(store), instructions_(instructions), clock_(clock) {}

Result<bj::object> References::ResolveForPublish(
    std::string_view organization_id, const bj::object& config) {
  bj::object out = config;
  if (const bj::array* tools = ArrayAt(config, "tools", "available")) {
    for (size_t i = 0; i < tools->size(); ++i) {
      if (!(*tools)[i].is_object()) continue;
      const bj::object& ref = (*tools)[i].get_object();
      const std::string field = json::Index("tools.available", i);
      const std::string_view id = StringAt(ref, "id");
      auto tool = store_.tools().Get(organization_id, id);
      if (!tool.ok()) {
        return Unresolved(tool.status(), json::Join(field, "id"));
      }
      const bj::value* bindings = ref.if_contains("argument_bindings");
      const bj::value* schema = tool->config.if_contains("parameters");
      if (bindings != nullptr && bindings->is_object() && schema != nullptr &&
          schema->is_object()) {
        AGENTRY_RETURN_IF_ERROR(
            CheckArgumentBindings(bindings->get_object(), schema->get_object(),
                                  json::Join(field, "argument_bindings")));
      }
    }
  }
  bj::value* first_step = out.if_contains("first_step");
  if (first_step == nullptr || !first_step->is_object()) return out;
  bj::value* list = first_step->get_object().if_contains("instructions");
  if (list == nullptr || !list->is_array()) return out;
  bj::array& instructions = list->get_array();
  for (size_t i = 0; i < instructions.size(); ++i) {
    if (!instructions[i].is_object()) continue;
    bj::object& ins = instructions[i].get_object();
    const std::string field = json::Index("first_step.instructions", i);
    if (StringAt(ins, "type") == "inline") {
      if (StringAt(ins, "template_type") != "plain") {
        AGENTRY_RETURN_IF_ERROR(
            InstructionService::ParseTemplate(StringAt(ins, "template"),
                                              json::Join(field, "template"))
                .status());
      }
      continue;
    }
    const std::optional<int> version = VersionAt(ins);
    AGENTRY_ASSIGN_OR_RETURN(auto compiled,
                             Resolve(organization_id, ins, field));
    if (!version) ins["version"] = compiled->instruction.version;
  }
  return out;
}

Result<std::shared_ptr<const CompiledInstruction>> References::Resolve(
    std::string_view organization_id, const bj::object& reference,
    const std::string& field) {
  const std::string_view id = StringAt(reference, "id");
  const std::optional<int> version = VersionAt(reference);
  auto compiled = instructions_.Compiled(organization_id, id, version);
  if (compiled.ok() || compiled.status().code() != ErrorCode::kNotFound) {
    return compiled;
  }
  // The id's fault when the instruction itself is missing, else the
  // version's.
  if (version) {
    auto latest = instructions_.Compiled(organization_id, id, std::nullopt);
    if (latest.ok()) {
      return Unresolved(compiled.status(), json::Join(field, "version"));
    }
  }
  return Unresolved(
      Status::NotFound("instruction " + std::string(id) + " not found"),
      json::Join(field, "id"));
}

Result<std::shared_ptr<const templating::Template>> References::ParseInline(
    std::string_view text, const std::string& field) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = inline_.find(std::string(text));
    if (it != inline_.end()) return it->second;
  }
  AGENTRY_ASSIGN_OR_RETURN(auto parsed,
                           InstructionService::ParseTemplate(text, field));
  std::lock_guard<std::mutex> lock(mu_);
  if (inline_.size() >= 4096) inline_.clear();
  return inline_.emplace(std::string(text), std::move(parsed)).first->second;
}

bj::value References::InstructionContext(const bj::object& session) const {
  bj::object context;
  context["session"] = session;
  context["currentDate"] = CurrentDate(clock_.NowMs());
  return context;
}

bj::value References::AgentContext(const AgentConfigAt& agent,
                                   const bj::object& session) {
  bj::value context = InstructionContext(session);
  bj::object about;
  about["id"] = agent.head.id;
  about["key"] = agent.head.key;
  about["name"] = StringAt(agent.config, "name");
  if (const bj::value* m = agent.config.if_contains("metadata")) {
    about["metadata"] = *m;
  } else {
    about["metadata"] = bj::object();
  }
  bj::array tools;
  if (const bj::array* list = ArrayAt(agent.config, "tools", "available")) {
    for (const bj::value& v : *list) {
      if (!v.is_object()) continue;
      const bj::object& ref = v.get_object();
      bj::object t;
      t["id"] = StringAt(ref, "id");
      auto tool =
          store_.tools().Get(agent.head.organization_id, StringAt(ref, "id"));
      if (tool.ok()) {
        t["name"] = StringAt(tool->config, "name");
        t["description"] = StringAt(tool->config, "description");
      }
      const bj::value* b = ref.if_contains("argument_bindings");
      t["argument_bindings"] = b != nullptr ? *b : bj::value(bj::object());
      tools.emplace_back(std::move(t));
    }
  }
  context.get_object()["agent"] = std::move(about);
  context.get_object()["tools"] = std::move(tools);
  return context;
}

Result<std::vector<RenderedInstruction>> References::RenderAgent(
    const AgentConfigAt& agent, const bj::object& session) {
  std::vector<RenderedInstruction> out;
  const bj::array* list = ArrayAt(agent.config, "first_step", "instructions");
  if (list == nullptr || list->empty()) return out;
  const bj::value context = AgentContext(agent, session);
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_object()) continue;
    const bj::object& ins = (*list)[i].get_object();
    const std::string field = json::Index("first_step.instructions", i);
    RenderedInstruction rendered;
    if (StringAt(ins, "type") == "inline") {
      rendered.name = StringAt(ins, "name");
      const std::string_view text = StringAt(ins, "template");
      if (StringAt(ins, "template_type") == "plain") {
        rendered.text = std::string(text);
      } else {
        AGENTRY_ASSIGN_OR_RETURN(
            auto parsed, ParseInline(text, json::Join(field, "template")));
        AGENTRY_ASSIGN_OR_RETURN(rendered.text, parsed->Render(context));
      }
    } else {
      AGENTRY_ASSIGN_OR_RETURN(auto compiled,
                               Resolve(agent.head.organization_id, ins, field));
      rendered.name = StringAt(compiled->instruction.config, "name");
      AGENTRY_ASSIGN_OR_RETURN(rendered.text,
                               InstructionService::Render(*compiled, context));
    }
    out.push_back(std::move(rendered));
  }
  return out;
}

}  // namespace agentry
