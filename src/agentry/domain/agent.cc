#include "agentry/domain/agent.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/common/json.h"

namespace agentry {

namespace bj = boost::json;

namespace {

using json::ElementObject;
using json::FreeText;
using json::ObjectReader;
using json::OneOf;
using json::OneOfProblem;
using json::OptArray;
using json::OptObject;
using json::RefuseUnknown;
using json::Strict;
using json::StringRules;

// Largest `order` of an input field and `version` of a reference: the range
// every client (and a JavaScript number) holds exactly.
constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

// The members each nested object may hold, in canonical order.
constexpr std::string_view kModelFields[] = {"name", "parameters"};
constexpr std::string_view kParameterFields[] = {"temperature", "max_tokens",
                                                 "top_p"};
constexpr std::string_view kCapabilityFields[] = {
    "web_search", "image_generation",  "code_interpreter",
    "canvas",     "extended_thinking", "data_analyst"};
constexpr std::string_view kInputFieldFields[] = {
    "slug",     "type",  "label",   "description",
    "required", "order", "options", "file_types"};
constexpr std::string_view kActionFields[] = {"action_id",
                                              "requires_confirmation"};
constexpr std::string_view kToolsFields[] = {"mode", "available"};
constexpr std::string_view kToolFields[] = {"id", "argument_bindings"};
constexpr std::string_view kFirstStepFields[] = {"type", "instructions",
                                                 "output_parser"};
constexpr std::string_view kReferenceFields[] = {"type", "id", "version"};
constexpr std::string_view kInlineFields[] = {"type", "name", "template_type",
                                              "template"};
constexpr std::string_view kOutputParserFields[] = {"type"};

bool IsIdChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

bj::array ToArray(const std::vector<std::string>& items) {
  bj::array out;
  out.reserve(items.size());
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

// An optional array of strings; [] when absent or null.
Result<bj::array> StringArray(ObjectReader& r, std::string_view name,
                              size_t max_items, const StringRules& rules) {
  AGENTRY_ASSIGN_OR_RETURN(auto items,
                           r.OptStringArray(name, max_items, rules));
  if (!items) return bj::array();
  return ToArray(*items);
}

Result<bj::object> NormalizeModel(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* in, OptObject(top, "model"));
  bj::object out;
  if (in == nullptr) {
    out.emplace("name", "default");
    out.emplace("parameters", bj::object());
    return out;
  }
  ObjectReader r(*in, top.FieldPath("model"));
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kModelFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string name, r.String("name", Strict(1, 64)));
  out.emplace("name", std::move(name));

  bj::object params;
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* pin, OptObject(r, "parameters"));
  if (pin != nullptr) {
    ObjectReader p(*pin, r.FieldPath("parameters"));
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(p, kParameterFields));
    AGENTRY_ASSIGN_OR_RETURN(auto temperature,
                             p.OptNumber("temperature", 0.0, 1.0));
    AGENTRY_ASSIGN_OR_RETURN(auto max_tokens,
                             p.OptInt("max_tokens", 1, 1000000));
    AGENTRY_ASSIGN_OR_RETURN(auto top_p, p.OptNumber("top_p", 0.0, 1.0));
    // Numbers in [0, 1] are always kept as doubles, integers as int64, so
    // 1 and 1.0 (or 1500 and 1500.0) have one canonical form.
    if (temperature) params.emplace("temperature", *temperature);
    if (max_tokens) params.emplace("max_tokens", *max_tokens);
    if (top_p) params.emplace("top_p", *top_p);
  }
  out.emplace("parameters", std::move(params));
  return out;
}

Result<bj::object> NormalizeCapabilities(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* in,
                           OptObject(top, "capabilities"));
  bj::object out;
  if (in == nullptr) {
    for (const std::string_view name : kCapabilityFields) {
      out.emplace(name, false);
    }
    return out;
  }
  ObjectReader r(*in, top.FieldPath("capabilities"));
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kCapabilityFields));
  for (const std::string_view name : kCapabilityFields) {
    AGENTRY_ASSIGN_OR_RETURN(std::optional<bool> b, r.OptBool(name));
    out.emplace(name, b.value_or(false));
  }
  return out;
}

bool IsSlug(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

Result<bj::object> NormalizeInputField(const bj::object& in, size_t index,
                                       const std::string& path) {
  ObjectReader r(in, path);
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kInputFieldFields));
  bj::object out;
  AGENTRY_ASSIGN_OR_RETURN(std::string slug, r.String("slug", Strict(1, 64)));
  if (!IsSlug(slug)) {
    return json::FieldError(r.FieldPath("slug"),
                            " must match ^[A-Za-z0-9_-]{1,64}$");
  }
  out.emplace("slug", std::move(slug));
  AGENTRY_ASSIGN_OR_RETURN(std::string type, r.String("type", Strict(1, 32)));
  out.emplace("type", std::move(type));
  AGENTRY_ASSIGN_OR_RETURN(auto label, r.OptString("label", Strict(0, 128)));
  out.emplace("label", label.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(auto description,
                           r.OptString("description", FreeText(512)));
  out.emplace("description", description.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(auto required, r.OptBool("required"));
  out.emplace("required", required.value_or(false));
  AGENTRY_ASSIGN_OR_RETURN(auto order, r.OptInt("order", 0, kMaxInt32));
  out.emplace("order", order.value_or(static_cast<int64_t>(index)));
  AGENTRY_ASSIGN_OR_RETURN(bj::array options,
                           StringArray(r, "options", 100, Strict(0, 256)));
  out.emplace("options", std::move(options));
  AGENTRY_ASSIGN_OR_RETURN(auto file_types,
                           r.OptStringArray("file_types", 50, Strict(0, 64)));
  if (file_types) {
    out.emplace("file_types", ToArray(*file_types));
  } else {
    out.emplace("file_types", nullptr);
  }
  return out;
}

Result<bj::array> NormalizeInputFields(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::array* in,
                           OptArray(top, "input_fields", 64));
  bj::array out;
  if (in == nullptr) return out;
  const std::string field = top.FieldPath("input_fields");
  std::unordered_map<std::string, size_t> seen;  // slug → first index
  out.reserve(in->size());
  for (size_t i = 0; i < in->size(); ++i) {
    AGENTRY_ASSIGN_OR_RETURN(const bj::object* elem,
                             ElementObject(*in, i, field));
    const std::string path = json::Index(field, i);
    AGENTRY_ASSIGN_OR_RETURN(bj::object f, NormalizeInputField(*elem, i, path));
    std::string slug(json::View(f.at("slug").get_string()));
    auto [it, inserted] = seen.emplace(std::move(slug), i);
    if (!inserted) {
      const std::string slug_field = json::Join(path, "slug");
      return Status::InvalidRequest(
          slug_field + " duplicates " +
              json::Join(json::Index(field, it->second), "slug"),
          slug_field);
    }
    out.emplace_back(std::move(f));
  }
  return out;
}

Result<bj::array> NormalizeActions(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::array* in, OptArray(top, "actions", 64));
  bj::array out;
  if (in == nullptr) return out;
  const std::string field = top.FieldPath("actions");
  out.reserve(in->size());
  for (size_t i = 0; i < in->size(); ++i) {
    AGENTRY_ASSIGN_OR_RETURN(const bj::object* elem,
                             ElementObject(*in, i, field));
    ObjectReader r(*elem, json::Index(field, i));
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kActionFields));
    AGENTRY_ASSIGN_OR_RETURN(std::string id,
                             r.String("action_id", Strict(1, 128)));
    AGENTRY_ASSIGN_OR_RETURN(auto confirm, r.OptBool("requires_confirmation"));
    bj::object a;
    a.emplace("action_id", std::move(id));
    a.emplace("requires_confirmation", confirm.value_or(false));
    out.emplace_back(std::move(a));
  }
  return out;
}

Result<bj::object> NormalizeTool(const bj::object& in,
                                 const std::string& path) {
  ObjectReader r(in, path);
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kToolFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string id, r.String("id", Strict(1, 64)));
  AGENTRY_RETURN_IF_ERROR(ValidatePrefixedId(id, "tol_", r.FieldPath("id")));
  bj::object out;
  out.emplace("id", std::move(id));
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* bindings,
                           OptObject(r, "argument_bindings"));
  if (bindings != nullptr) {
    if (bindings->size() > 64) {
      return json::FieldError(r.FieldPath("argument_bindings"),
                              " must have at most 64 members");
    }
    // Checked against the tool's parameter schema at publish time.
    out.emplace("argument_bindings", *bindings);
  }
  return out;
}

Result<bj::object> NormalizeTools(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* in, OptObject(top, "tools"));
  bj::object out;
  if (in == nullptr) {
    out.emplace("mode", "native");
    out.emplace("available", bj::array());
    return out;
  }
  ObjectReader r(*in, top.FieldPath("tools"));
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kToolsFields));
  constexpr std::string_view kModes[] = {"native"};
  AGENTRY_ASSIGN_OR_RETURN(std::string mode,
                           OneOf(r, "mode", kModes, "native"));
  out.emplace("mode", std::move(mode));
  AGENTRY_ASSIGN_OR_RETURN(const bj::array* available,
                           OptArray(r, "available", 128));
  bj::array tools;
  if (available != nullptr) {
    const std::string field = r.FieldPath("available");
    tools.reserve(available->size());
    for (size_t i = 0; i < available->size(); ++i) {
      AGENTRY_ASSIGN_OR_RETURN(const bj::object* elem,
                               ElementObject(*available, i, field));
      AGENTRY_ASSIGN_OR_RETURN(bj::object tool,
                               NormalizeTool(*elem, json::Index(field, i)));
      tools.emplace_back(std::move(tool));
    }
  }
  out.emplace("available", std::move(tools));
  return out;
}

Result<bj::object> NormalizeInstruction(const bj::object& in,
                                        const std::string& path) {
  ObjectReader r(in, path);
  const bj::value* type = r.Raw("type");
  const std::string type_field = r.FieldPath("type");
  if (type == nullptr || type->is_null()) {
    return json::FieldError(type_field, " is required");
  }
  bj::object out;
  if (type->is_string() && type->get_string() == "reference") {
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kReferenceFields));
    AGENTRY_ASSIGN_OR_RETURN(std::string id, r.String("id", Strict(1, 64)));
    AGENTRY_RETURN_IF_ERROR(ValidatePrefixedId(id, "ins_", r.FieldPath("id")));
    AGENTRY_ASSIGN_OR_RETURN(auto version, r.OptInt("version", 1, kMaxInt32));
    out.emplace("type", "reference");
    out.emplace("id", std::move(id));
    // Without a version the reference means the latest at publish time.
    if (version) out.emplace("version", *version);
    return out;
  }
  if (type->is_string() && type->get_string() == "inline") {
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kInlineFields));
    AGENTRY_ASSIGN_OR_RETURN(std::string name,
                             r.String("name", Strict(1, 128)));
    constexpr std::string_view kTemplateTypes[] = {"velocity", "plain"};
    AGENTRY_ASSIGN_OR_RETURN(
        std::string template_type,
        OneOf(r, "template_type", kTemplateTypes, "velocity"));
    AGENTRY_ASSIGN_OR_RETURN(std::string text,
                             r.String("template", FreeText(16384)));
    out.emplace("type", "inline");
    out.emplace("name", std::move(name));
    out.emplace("template_type", std::move(template_type));
    out.emplace("template", std::move(text));
    return out;
  }
  return json::FieldError(type_field, " must be \"reference\" or \"inline\"");
}

Result<bj::object> NormalizeFirstStep(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* in, OptObject(top, "first_step"));
  bj::object parser;
  parser.emplace("type", "default");
  bj::object out;
  if (in == nullptr) {
    out.emplace("type", "conversational");
    out.emplace("instructions", bj::array());
    out.emplace("output_parser", std::move(parser));
    return out;
  }
  ObjectReader r(*in, top.FieldPath("first_step"));
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kFirstStepFields));
  constexpr std::string_view kTypes[] = {"conversational"};
  AGENTRY_ASSIGN_OR_RETURN(std::string type,
                           OneOf(r, "type", kTypes, "conversational"));
  out.emplace("type", std::move(type));

  AGENTRY_ASSIGN_OR_RETURN(const bj::array* list,
                           OptArray(r, "instructions", 32));
  bj::array instructions;
  if (list != nullptr) {
    const std::string field = r.FieldPath("instructions");
    instructions.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      AGENTRY_ASSIGN_OR_RETURN(const bj::object* elem,
                               ElementObject(*list, i, field));
      AGENTRY_ASSIGN_OR_RETURN(
          bj::object ins, NormalizeInstruction(*elem, json::Index(field, i)));
      instructions.emplace_back(std::move(ins));
    }
  }
  out.emplace("instructions", std::move(instructions));

  AGENTRY_ASSIGN_OR_RETURN(const bj::object* parser_in,
                           OptObject(r, "output_parser"));
  if (parser_in != nullptr) {
    ObjectReader p(*parser_in, r.FieldPath("output_parser"));
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(p, kOutputParserFields));
    constexpr std::string_view kParserTypes[] = {"default"};
    AGENTRY_ASSIGN_OR_RETURN(std::string parser_type,
                             OneOf(p, "type", kParserTypes, "default"));
    parser["type"] = std::move(parser_type);
  }
  out.emplace("output_parser", std::move(parser));
  return out;
}

bool HasControlCharacter(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Status ValidatePrefixedId(std::string_view s, std::string_view prefix,
                          const std::string& field) {
  if (!IsPrefixedId(s, prefix)) {
    return json::FieldError(
        field, " must match ^" + std::string(prefix) + "[0-9a-zA-Z_-]+$");
  }
  if (s.size() > 64) {
    return json::FieldError(field, " must be at most 64 characters");
  }
  return Status::Ok();
}

Result<bj::object> NormalizeAgentConfig(const bj::object& input) {
  // `key` and the read-only members first, so that they get their own
  // message rather than "unknown field".
  for (const bj::key_value_pair& kv : input) {
    const std::string_view name(kv.key().data(), kv.key().size());
    if (name == "key") {
      return Status::InvalidRequest("key is not part of the configuration",
                                    "key");
    }
    for (const std::string_view ro : kAgentReadOnlyFields) {
      if (name == ro) {
        return Status::InvalidRequest(json::Quoted(name) + " is read-only",
                                      std::string(name));
      }
    }
  }
  ObjectReader r(input);
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kAgentConfigFields));

  bj::object out;
  out.reserve(std::size(kAgentConfigFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string name, r.String("name", Strict(1, 64)));
  out.emplace("name", std::move(name));
  AGENTRY_ASSIGN_OR_RETURN(auto description,
                           r.OptString("description", FreeText(256)));
  out.emplace("description", description.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(auto instructions,
                           r.OptString("instructions", FreeText(16384)));
  out.emplace("instructions", instructions.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(auto emoji,
                           r.OptString("emoji_icon", Strict(0, 16)));
  out.emplace("emoji_icon", emoji.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(bj::object model, NormalizeModel(r));
  out.emplace("model", std::move(model));
  AGENTRY_ASSIGN_OR_RETURN(bj::object capabilities, NormalizeCapabilities(r));
  out.emplace("capabilities", std::move(capabilities));
  AGENTRY_ASSIGN_OR_RETURN(
      bj::array starters,
      StringArray(r, "conversation_starters", 20, FreeText(256)));
  out.emplace("conversation_starters", std::move(starters));
  constexpr std::string_view kInputTypes[] = {"PROMPT", "STRUCTURED"};
  AGENTRY_ASSIGN_OR_RETURN(std::string input_type,
                           OneOf(r, "input_type", kInputTypes, "PROMPT"));
  out.emplace("input_type", std::move(input_type));
  AGENTRY_ASSIGN_OR_RETURN(bj::array input_fields, NormalizeInputFields(r));
  out.emplace("input_fields", std::move(input_fields));
  AGENTRY_ASSIGN_OR_RETURN(bj::array actions, NormalizeActions(r));
  out.emplace("actions", std::move(actions));
  AGENTRY_ASSIGN_OR_RETURN(bj::array attachments,
                           StringArray(r, "attachments", 100, Strict(1, 128)));
  out.emplace("attachments", std::move(attachments));
  AGENTRY_ASSIGN_OR_RETURN(
      bj::array folders,
      StringArray(r, "knowledge_folder_ids", 100, Strict(1, 128)));
  out.emplace("knowledge_folder_ids", std::move(folders));
  AGENTRY_ASSIGN_OR_RETURN(bj::object tools, NormalizeTools(r));
  out.emplace("tools", std::move(tools));
  AGENTRY_ASSIGN_OR_RETURN(bj::object first_step, NormalizeFirstStep(r));
  out.emplace("first_step", std::move(first_step));
  AGENTRY_ASSIGN_OR_RETURN(
      bj::object metadata,
      NormalizeMetadata(r.Raw("metadata"), r.FieldPath("metadata")));
  out.emplace("metadata", std::move(metadata));
  AGENTRY_ASSIGN_OR_RETURN(auto enabled, r.OptBool("enabled"));
  out.emplace("enabled", enabled.value_or(true));
  return out;
}

Result<bj::object> NormalizeMetadata(const bj::value* value,
                                     const std::string& field) {
  bj::object out;
  if (value == nullptr || value->is_null()) return out;
  if (!value->is_object()) return json::FieldError(field, " must be an object");
  const bj::object* in = &value->get_object();
  if (in->size() > 64)
    return json::FieldError(field, " must have at most 64 members");
  ObjectReader r(*in, field);
  for (const bj::key_value_pair& kv : *in) {
    const std::string_view key(kv.key().data(), kv.key().size());
    const size_t chars = json::Utf8Length(key);
    if (chars < 1 || chars > 64) {
      return Status::InvalidRequest(
          "metadata keys must be between 1 and 64 characters", field);
    }
    if (HasControlCharacter(key)) {
      return Status::InvalidRequest(
          "metadata keys must not contain control characters", field);
    }
    const bj::value& v = kv.value();
    switch (v.kind()) {
      case bj::kind::string: {
        AGENTRY_ASSIGN_OR_RETURN(auto s, r.OptString(key, FreeText(1024)));
        out.emplace(key, std::move(*s));
        break;
      }
      case bj::kind::double_:
        if (!std::isfinite(v.get_double())) {
          return json::FieldError(r.FieldPath(key), " must be a finite number");
        }
        out.emplace(key, v);
        break;
      case bj::kind::int64:
      case bj::kind::uint64:
      case bj::kind::bool_:
        out.emplace(key, v);
        break;
      default:
        return Status::InvalidRequest(
            "metadata values must be strings, numbers or booleans",
            r.FieldPath(key));
    }
  }
  return out;
}

Status ValidateAgentKey(std::string_view key) {
  return ValidatePrefixedId(key, "agt_", "key");
}

}  // namespace agentry
