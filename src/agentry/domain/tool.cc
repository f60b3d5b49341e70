#include "agentry/domain/tool.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <set>

#include "agentry/common/json.h"
#include "agentry/domain/agent.h"

namespace agentry {

namespace bj = boost::json;

namespace {

constexpr size_t kMaxSchemaDepth = 16;
constexpr std::string_view kTypes[] = {"object",  "string", "number", "integer",
                                       "boolean", "array",  "null"};
constexpr std::string_view kReadOnly[] = {"id", "created_at", "updated_at"};

bool KnownType(std::string_view t) {
  for (std::string_view k : kTypes) {
    if (k == t) return true;
  }
  return false;
}

Status CheckType(const bj::value& type, const std::string& field) {
  if (type.is_string()) {
    if (KnownType(json::View(type.get_string()))) return Status::Ok();
  } else if (type.is_array() && !type.get_array().empty()) {
    for (const bj::value& t : type.get_array()) {
      if (!t.is_string() || !KnownType(json::View(t.get_string()))) {
        return json::FieldError(field, " must name JSON Schema types");
      }
    }
    return Status::Ok();
  }
  return json::FieldError(
      field,
      " must be one of object, string, number, integer, boolean, array, null "
      "(or a non-empty array of them)");
}

Status CheckSchema(const bj::value& schema, const std::string& field,
                   size_t depth) {
  if (depth > kMaxSchemaDepth) {
    return json::FieldError(field, " nests deeper than 16 schemas");
  }
  if (!schema.is_object()) {
    return json::FieldError(field, " must be a JSON Schema object");
  }
  const bj::object& o = schema.get_object();
  if (const bj::value* type = o.if_contains("type")) {
    AGENTRY_RETURN_IF_ERROR(CheckType(*type, json::Join(field, "type")));
  }
  const bj::object* properties = nullptr;
  if (const bj::value* p = o.if_contains("properties")) {
    const std::string pf = json::Join(field, "properties");
    if (!p->is_object()) return json::FieldError(pf, " must be an object");
    properties = &p->get_object();
    for (const auto& member : *properties) {
      AGENTRY_RETURN_IF_ERROR(CheckSchema(
          member.value(), json::Join(pf, json::View(member.key())), depth + 1));
    }
  }
  if (const bj::value* r = o.if_contains("required")) {
    const std::string rf = json::Join(field, "required");
    if (!r->is_array()) return json::FieldError(rf, " must be an array");
    std::set<std::string_view> seen;
    const bj::array& list = r->get_array();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item = json::Index(rf, i);
      if (!list[i].is_string()) {
        return json::FieldError(item, " must be a string");
      }
      const std::string_view name = json::View(list[i].get_string());
      if (!seen.insert(name).second) {
        return json::FieldError(item, " repeats \"" + std::string(name) + "\"");
      }
      if (!properties || !properties->contains(name)) {
        return json::FieldError(item, " names \"" + std::string(name) +
                                          "\", which is not in properties");
      }
    }
  }
  if (const bj::value* items = o.if_contains("items")) {
    AGENTRY_RETURN_IF_ERROR(
        CheckSchema(*items, json::Join(field, "items"), depth + 1));
  }
  if (const bj::value* e = o.if_contains("enum")) {
    if (!e->is_array() || e->get_array().empty()) {
      return json::FieldError(json::Join(field, "enum"),
                              " must be a non-empty array");
    }
  }
  return Status::Ok();
}

// True when `v` is an instance of JSON Schema type `t`.
bool OfType(const bj::value& v, std::string_view t) {
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_bool();
  if (t == "null") return v.is_null();
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_int64() || v.is_uint64()) return true;
    if (v.is_double()) {
      const double d = v.get_double();
      return std::isfinite(d) && std::floor(d) == d;
    }
  }
  return false;
}

// Numbers compare by value (1 == 1.0); everything else structurally.
bool JsonEqual(const bj::value& a, const bj::value& b) {
  if (a.is_number() && b.is_number()) {
    return a.to_number<double>() == b.to_number<double>();
  }
  return a == b;
}

}  // namespace

Status ValidateToolId(std::string_view id) {
  return ValidatePrefixedId(id, "tol_", "id");
}

Status ValidateParameterSchema(const bj::value& schema,
                               const std::string& field) {
  if (!schema.is_object()) {
    return json::FieldError(field, " must be a JSON Schema object");
  }
  const bj::value* type = schema.get_object().if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "object") {
    return json::FieldError(json::Join(field, "type"),
                            " must be \"object\" (a tool takes named "
                            "parameters)");
  }
  return CheckSchema(schema, field, 0);
}

Result<bj::object> NormalizeToolConfig(const bj::object& in) {
  AGENTRY_RETURN_IF_ERROR(json::RefuseReadOnly(in, kReadOnly));
  json::ObjectReader r(in);
  bj::object out;
  AGENTRY_ASSIGN_OR_RETURN(std::string name,
                           r.String("name", {.min_chars = 1, .max_chars = 64}));
  AGENTRY_ASSIGN_OR_RETURN(
      auto description,
      r.OptString("description", {.max_chars = 1024, .allow_newlines = true}));
  bj::value parameters =
      bj::object{{"type", "object"}, {"properties", bj::object()}};
  if (const bj::value* p = r.Raw("parameters"); p && !p->is_null()) {
    AGENTRY_RETURN_IF_ERROR(ValidateParameterSchema(*p, "parameters"));
    parameters = *p;
  }
  AGENTRY_ASSIGN_OR_RETURN(auto enabled, r.OptBool("enabled"));
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  out["name"] = name;
  out["description"] = description.value_or("");
  out["parameters"] = std::move(parameters);
  out["enabled"] = enabled.value_or(true);
  return out;
}

Status CheckArgumentBindings(const bj::object& bindings,
                             const bj::object& schema,
                             const std::string& field) {
  const bj::object* properties = nullptr;
  if (const bj::value* p = schema.if_contains("properties");
      p && p->is_object()) {
    properties = &p->get_object();
  }
  for (const auto& binding : bindings) {
    const std::string name(json::View(binding.key()));
    const std::string bf = json::Join(field, name);
    const bj::value* prop =
        properties ? properties->if_contains(binding.key()) : nullptr;
    if (!prop) {
      return json::FieldError(bf, " is not a parameter of this tool");
    }
    if (!prop->is_object()) continue;
    const bj::object& p = prop->get_object();
    if (const bj::value* type = p.if_contains("type")) {
      bool matches = false;
      if (type->is_string()) {
        matches = OfType(binding.value(), json::View(type->get_string()));
      } else if (type->is_array()) {
        for (const bj::value& t : type->get_array()) {
          matches =
              matches || (t.is_string() &&
                          OfType(binding.value(), json::View(t.get_string())));
        }
      } else {
        matches = true;
      }
      if (!matches) {
        return json::FieldError(
            bf, " must be of type " + json::Serialize(*type) + ", not " +
                    std::string(json::TypeName(binding.value())));
      }
    }
    if (const bj::value* e = p.if_contains("enum"); e && e->is_array()) {
      bool found = false;
      for (const bj::value& option : e->get_array()) {
        found = found || JsonEqual(option, binding.value());
      }
      if (!found) {
        return json::FieldError(bf, " must be one of " + json::Serialize(*e));
      }
    }
  }
  return Status::Ok();
}

}  // namespace agentry
