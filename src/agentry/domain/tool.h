// Tools (DESIGN §5 "Tools and instructions"): a registry entry an agent's
// `tools.available[]` refers to by id, with a JSON Schema of its parameters
// that `argument_bindings` must fit. Plain values, no I/O.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry {

struct Tool {
  std::string id;               // tol_…, unique in the organization
  std::string organization_id;  // owner
  // Canonical document: {name, description, parameters, enabled} in this
  // order (see NormalizeToolConfig).
  boost::json::object config;
  int64_t revision = 1;  // grows by one with every change (ETag, If-Match)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// `id` matches ^tol_[0-9a-zA-Z_-]+$ and is at most 64 characters;
// kInvalidRequest (field "id") otherwise.
Status ValidateToolId(std::string_view id);

// Validates a tool's configuration (a create body without `id`, or a
// document after a merge patch) and returns it canonical:
//   name         string 1–64, required, no control characters
//   description  string ≤ 1024, free text (default "")
//   parameters   a JSON Schema object (default {"type":"object",
//                "properties":{}}), validated by ValidateParameterSchema
//   enabled      bool (default true)
// Unknown members are refused; read-only ones (id, created_at, updated_at)
// with a message saying so. kInvalidRequest names the dotted field.
Result<boost::json::object> NormalizeToolConfig(const boost::json::object& in);

// A parameter schema: a JSON Schema object whose `type` is "object". Checked
// recursively (depth ≤ 16) where these keywords appear: `type` (one of
// object, string, number, integer, boolean, array, null, or a non-empty
// array of them), `properties` (object of schemas), `required` (array of
// distinct strings, each a member of `properties`),
// `items` (a schema), `enum` (a non-empty array). Other keywords
// (description, title, default, format, minimum, …) are kept unchecked.
// `field` prefixes errors ("parameters.properties.max_results.type").
Status ValidateParameterSchema(const boost::json::value& schema,
                               const std::string& field);

// Checks an agent's `argument_bindings` for a tool against the tool's
// parameter schema: every binding names a property of the schema and its
// value has the property's JSON type (integer: an integral number; number:
// any number) and, when the property has an `enum`, is one of it.
// kInvalidRequest naming `field` + "." + the binding.
Status CheckArgumentBindings(const boost::json::object& bindings,
                             const boost::json::object& schema,
                             const std::string& field);

}  // namespace agentry
