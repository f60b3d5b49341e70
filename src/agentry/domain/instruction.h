// Instructions (DESIGN §5 "Tools and instructions"): named templates an
// agent's `first_step.instructions[]` refers to by id and version. Every
// change makes a new immutable version (1, 2, …). Plain values, no I/O; the
// template itself is checked by the service (it parses it).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry {

// One version of an instruction.
struct Instruction {
  std::string id;               // ins_…, unique in the organization
  std::string organization_id;  // owner
  int version = 1;              // 1, 2, …
  // Canonical document: {name, description, template_type, template} in
  // this order (see NormalizeInstructionConfig).
  boost::json::object config;
  int64_t created_at_ms = 0;  // when version 1 was made
  int64_t updated_at_ms = 0;  // when this version was made
  std::string created_by;     // the API key id that made this version
};

// Longest template, in bytes (the Velocity engine's template bound too).
inline constexpr size_t kMaxInstructionTemplateBytes = 64 << 10;

// `id` matches ^ins_[0-9a-zA-Z_-]+$ and is at most 64 characters;
// kInvalidRequest (field "id") otherwise.
Status ValidateInstructionId(std::string_view id);

// Validates an instruction's configuration (a create body without `id`, or
// the document after a merge patch) and returns it canonical:
//   name           string 1–128, required, no control characters
//   description    string ≤ 1024, free text (default "")
//   template_type  "velocity" (default) or "plain"
//   template       string ≤ 64 KiB, free text, required
// Unknown members are refused; read-only ones (id, version, created_at,
// updated_at) with a message saying so. kInvalidRequest names the field.
Result<boost::json::object> NormalizeInstructionConfig(
    const boost::json::object& in);

// The template type and text of a canonical configuration.
bool IsVelocity(const boost::json::object& config);
std::string_view TemplateText(const boost::json::object& config);

}  // namespace agentry
