#include "agentry/domain/instruction.h"

#include <boost/json/value.hpp>

#include "agentry/common/json.h"
#include "agentry/domain/agent.h"

namespace agentry {

namespace bj = boost::json;

namespace {

constexpr std::string_view kReadOnly[] = {"id", "version", "created_at",
                                          "updated_at"};

}  // namespace

Status ValidateInstructionId(std::string_view id) {
  return ValidatePrefixedId(id, "ins_", "id");
}

Result<bj::object> NormalizeInstructionConfig(const bj::object& in) {
  AGENTRY_RETURN_IF_ERROR(json::RefuseReadOnly(in, kReadOnly));
  json::ObjectReader r(in);
  AGENTRY_ASSIGN_OR_RETURN(
      std::string name, r.String("name", {.min_chars = 1, .max_chars = 128}));
  AGENTRY_ASSIGN_OR_RETURN(
      auto description,
      r.OptString("description", {.max_chars = 1024, .allow_newlines = true}));
  AGENTRY_ASSIGN_OR_RETURN(auto type, r.OptString("template_type"));
  if (type && *type != "velocity" && *type != "plain") {
    return json::FieldError("template_type",
                            " must be \"velocity\" or \"plain\"");
  }
  AGENTRY_ASSIGN_OR_RETURN(
      std::string text,
      r.String("template", {.max_chars = kMaxInstructionTemplateBytes,
                            .allow_newlines = true}));
  if (text.size() > kMaxInstructionTemplateBytes) {
    return json::FieldError("template", " must be at most 65536 bytes");
  }
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  bj::object out;
  out["name"] = name;
  out["description"] = description.value_or("");
  out["template_type"] = type.value_or("velocity");
  out["template"] = text;
  return out;
}

bool IsVelocity(const bj::object& config) {
  const bj::value* t = config.if_contains("template_type");
  return t == nullptr || (t->is_string() && t->get_string() == "velocity");
}

std::string_view TemplateText(const bj::object& config) {
  const bj::value* t = config.if_contains("template");
  return t != nullptr && t->is_string() ? json::View(t->get_string())
                                        : std::string_view();
}

}  // namespace agentry
