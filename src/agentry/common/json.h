// Strict JSON: one parser every surface uses, so no two parsers can disagree,
// and a reader that refuses unknown fields, so nothing is mass-assigned.
//
// Errors are Status::InvalidRequest whose field() is the dotted path of the
// offending member ("model.parameters.temperature", "input_fields[2].slug");
// an error at the document root has an empty field. Thread-compatible.
#pragma once

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agentry/common/status.h"

namespace agentry::json {

struct ParseLimits {
  // Deepest nesting of arrays and objects accepted (DESIGN §8).
  size_t max_depth = 64;
};

// Parses `text` as exactly one JSON document (RFC 8259): UTF-8 is validated,
// comments, trailing commas and trailing garbage are refused, duplicate keys
// in an object are refused (naming the key), numbers must be finite and in
// the range of a double (1e400 is refused), nesting is bounded.
Result<boost::json::value> ParseStrict(std::string_view text,
                                       const ParseLimits& limits = {});

// Like ParseStrict, and the document must be an object.
Result<boost::json::object> ParseStrictObject(std::string_view text,
                                              const ParseLimits& limits = {});

// "string", "number", "boolean", "null", "array" or "object".
std::string_view TypeName(const boost::json::value& v);

// Number of Unicode code points in valid UTF-8 `s`.
size_t Utf8Length(std::string_view s);

// Serialises compactly, with doubles in their shortest round-trip form
// ("0.1", where Boost.JSON 1.81 writes "1E-1"). Every answer goes through
// this. Non-finite doubles (never produced by ParseStrict) become null.
std::string Serialize(const boost::json::value& v);
std::string Serialize(const boost::json::object& o);
// Appends `s` as a JSON string (quoted, escaped as Serialize does): for
// answers written by hand on hot paths.
void AppendString(std::string& out, std::string_view s);

// Path helpers: Join("model", "name") == "model.name";
// Index("input_fields", 2) == "input_fields[2]". An empty base gives the
// bare name ("name", "[2]").
std::string Join(std::string_view base, std::string_view name);
std::string Index(std::string_view base, size_t i);

// `"name"` — a field name in quotes, as every error message shows it.
std::string Quoted(std::string_view field);

// InvalidRequest `"field" problem` naming `field`: the style of every
// ObjectReader message, for validators built on top of it.
Status FieldError(const std::string& field, std::string_view problem);

// Member `name` of `o`, or a null value when it has none.
const boost::json::value& MemberOrNull(const boost::json::object& o,
                                       std::string_view name);

inline std::string_view View(const boost::json::string& s) {
  return std::string_view(s.data(), s.size());
}

struct StringRules {
  size_t min_chars = 0;        // at least this many code points
  size_t max_chars = 1 << 20;  // at most this many code points
  // Allow \t, \n and \r (free text). Other control characters (U+0000–U+001F,
  // U+007F) are always refused.
  bool allow_newlines = false;
};

// Reads the members of one object, field by field. Every accessor marks its
// name as known; Finish() refuses the first member nobody asked for. A member
// whose value is null is treated as absent by the Opt* accessors.
class ObjectReader {
 public:
  // `obj` must outlive the reader; `path` prefixes every error field.
  explicit ObjectReader(const boost::json::object& obj, std::string path = {});

  // Required string. Absent or null → "… is required".
  Result<std::string> String(std::string_view name,
                             const StringRules& rules = {});
  Result<std::optional<std::string>> OptString(std::string_view name,
                                               const StringRules& rules = {});
  Result<std::optional<bool>> OptBool(std::string_view name);
  // An integral number (1.0 is accepted as 1; 1.5 is refused) in [min, max].
  Result<std::optional<int64_t>> OptInt(std::string_view name, int64_t min,
                                        int64_t max);
  // Any finite number in [min, max].
  Result<std::optional<double>> OptNumber(std::string_view name, double min,
                                          double max);
  // An array of strings, each following `rules`, at most `max_items` items.
  Result<std::optional<std::vector<std::string>>> OptStringArray(
      std::string_view name, size_t max_items, const StringRules& rules = {});
  // The raw member (nullptr when absent; null is returned as a value here).
  const boost::json::value* Raw(std::string_view name);

  // The path of member `name` for error messages.
  std::string FieldPath(std::string_view name) const;

  // Ok when every member was asked for; otherwise InvalidRequest
  // "unknown field" naming the first unknown member in document order.
  Status Finish() const;

 private:
  const boost::json::object& obj_;
  std::string path_;
  std::unordered_set<std::string> known_;
};

// Names and other short strings: no control characters at all.
constexpr StringRules Strict(size_t min_chars, size_t max_chars) {
  return StringRules{
      .min_chars = min_chars, .max_chars = max_chars, .allow_newlines = false};
}

// Free text (descriptions, templates): \t, \n and \r allowed.
constexpr StringRules FreeText(size_t max_chars) {
  return StringRules{
      .min_chars = 0, .max_chars = max_chars, .allow_newlines = true};
}

// Helpers for validators built on ObjectReader; every error names the
// member's dotted path.

// Asks for every name of `names`, then Finish(): refuses any other member.
Status RefuseUnknown(ObjectReader& r, std::span<const std::string_view> names);

// Refuses the first member of `in` named in `read_only` ("… is read-only").
Status RefuseReadOnly(const boost::json::object& in,
                      std::span<const std::string_view> read_only);

// Member `name` as an object; nullptr when absent or null.
Result<const boost::json::object*> OptObject(ObjectReader& r,
                                             std::string_view name);

// Member `name` as an array of at most `max_items`; nullptr when absent or
// null.
Result<const boost::json::array*> OptArray(ObjectReader& r,
                                           std::string_view name,
                                           size_t max_items);

// Element `i` of the array at `field`, which must be an object.
Result<const boost::json::object*> ElementObject(const boost::json::array& a,
                                                 size_t i,
                                                 const std::string& field);

// " must be \"a\", \"b\" or \"c\"".
std::string OneOfProblem(std::span<const std::string_view> allowed);

// A string member that must be one of `allowed`; `fallback` when absent or
// null.
Result<std::string> OneOf(ObjectReader& r, std::string_view name,
                          std::span<const std::string_view> allowed,
                          std::string_view fallback);

}  // namespace agentry::json
