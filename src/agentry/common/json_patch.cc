#include "agentry/common/json_patch.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentry::json {
namespace {

namespace bj = boost::json;

using Tokens = std::vector<std::string>;

// ---- Equality ----
//
// JSON (RFC 8259, RFC 6902 §4.6) compares numbers by value, so an integer
// and a double are equal when the double is finite, has no fractional part
// and converts exactly to that integer: 1 == 1.0, 5 (int64) == 5 (uint64),
// 1 != 1.5, 2^64 - 1 (uint64) != 1.8446744073709552e19. Everything else is
// Boost.JSON's equality: same kind, strings byte for byte, arrays element by
// element, objects with the same set of keys (member order ignored).

bool DoubleEqualsInt64(double d, int64_t i) {
  // The range check also refuses NaN.
  if (!(d >= -0x1p63 && d < 0x1p63) || std::trunc(d) != d) return false;
  return static_cast<int64_t>(d) == i;
}

bool DoubleEqualsUint64(double d, uint64_t u) {
  if (!(d >= 0.0 && d < 0x1p64) || std::trunc(d) != d) return false;
  return static_cast<uint64_t>(d) == u;
}

bool NumbersEqual(const bj::value& a, const bj::value& b) {
  switch (a.kind()) {
    case bj::kind::int64:
      switch (b.kind()) {
        case bj::kind::int64:
          return a.get_int64() == b.get_int64();
        case bj::kind::uint64:
          return a.get_int64() >= 0 &&
                 static_cast<uint64_t>(a.get_int64()) == b.get_uint64();
        default:
          return DoubleEqualsInt64(b.get_double(), a.get_int64());
      }
    case bj::kind::uint64:
      switch (b.kind()) {
        case bj::kind::int64:
          return b.get_int64() >= 0 &&
                 static_cast<uint64_t>(b.get_int64()) == a.get_uint64();
        case bj::kind::uint64:
          return a.get_uint64() == b.get_uint64();
        default:
          return DoubleEqualsUint64(b.get_double(), a.get_uint64());
      }
    default:
      switch (b.kind()) {
        case bj::kind::int64:
          return DoubleEqualsInt64(a.get_double(), b.get_int64());
        case bj::kind::uint64:
          return DoubleEqualsUint64(a.get_double(), b.get_uint64());
        default:
          return a.get_double() == b.get_double();
      }
  }
}

bool Equal(const bj::value& a, const bj::value& b) {
  if (a.is_number() && b.is_number()) return NumbersEqual(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case bj::kind::null:
      return true;
    case bj::kind::bool_:
      return a.get_bool() == b.get_bool();
    case bj::kind::string:
      return a.get_string() == b.get_string();
    case bj::kind::array: {
      const bj::array& x = a.get_array();
      const bj::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(x[i], y[i])) return false;
      }
      return true;
    }
    case bj::kind::object: {
      const bj::object& x = a.get_object();
      const bj::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const bj::key_value_pair& kv : x) {
        const bj::value* other = y.if_contains(kv.key());
        if (other == nullptr || !Equal(kv.value(), *other)) return false;
      }
      return true;
    }
    default:
      return false;  // numbers are handled above
  }
}

// ---- Diff ----

bj::object Op(std::string_view op, const std::string& path) {
  bj::object o;
  o.emplace("op", op);
  o.emplace("path", path);
  return o;
}

bj::object OpWithValue(std::string_view op, const std::string& path,
                       const bj::value& value) {
  bj::object o = Op(op, path);
  o.emplace("value", value);
  return o;
}

std::string Child(const std::string& path, std::string_view key) {
  return path + "/" + EscapePointerToken(key);
}

std::string Child(const std::string& path, size_t index) {
  return path + "/" + std::to_string(index);
}

void DiffInto(const bj::value& from, const bj::value& to,
              const std::string& path, bj::array& out) {
  if (from.is_object() && to.is_object()) {
    const bj::object& a = from.get_object();
    const bj::object& b = to.get_object();
    for (const bj::key_value_pair& kv : a) {
      if (!b.contains(kv.key()))
        out.push_back(Op("remove", Child(path, kv.key())));
    }
    for (const bj::key_value_pair& kv : b) {
      const bj::value* old = a.if_contains(kv.key());
      if (old == nullptr) {
        out.push_back(OpWithValue("add", Child(path, kv.key()), kv.value()));
      } else {
        DiffInto(*old, kv.value(), Child(path, kv.key()), out);
      }
    }
    return;
  }
  if (from.is_array() && to.is_array()) {
    const bj::array& a = from.get_array();
    const bj::array& b = to.get_array();
    const size_t common = std::min(a.size(), b.size());
    for (size_t i = 0; i < common; ++i) {
      DiffInto(a[i], b[i], Child(path, i), out);
    }
    for (size_t i = common; i < b.size(); ++i) {
      out.push_back(OpWithValue("add", Child(path, i), b[i]));
    }
    for (size_t i = a.size(); i > common; --i) {
      out.push_back(Op("remove", Child(path, i - 1)));
    }
    return;
  }
  if (!Equal(from, to)) out.push_back(OpWithValue("replace", path, to));
}

// ---- JSON Pointer ----

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

// The pointer made of the first `n` tokens, for messages.
std::string PointerPrefix(const Tokens& tokens, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += '/';
    out += EscapePointerToken(tokens[i]);
  }
  return out;
}

// Parses an RFC 6901 pointer; errors name `field`.
Result<Tokens> ParsePointer(std::string_view text, std::string_view field) {
  Tokens tokens;
  if (text.empty()) return tokens;
  if (text.front() != '/') {
    return Status::InvalidRequest("invalid JSON pointer " + Quote(text) +
                                      ": it must be empty or start "
                                      "with \"/\"",
                                  std::string(field));
  }
  std::string token;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (text[i] != '~') {
      token += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '0') {
      token += '~';
    } else if (i + 1 < text.size() && text[i + 1] == '1') {
      token += '/';
    } else {
      return Status::InvalidRequest(
          "invalid JSON pointer " + Quote(text) +
              ": \"~\" must be followed by \"0\" or \"1\"",
          std::string(field));
    }
    ++i;
  }
  return tokens;
}

// The index named by token `n` of `tokens` in an array of `size` elements.
// "-" (one past the end) and `size` itself are accepted only when
// `for_insert`.
Result<size_t> ArrayIndex(const Tokens& tokens, size_t n, size_t size,
                          bool for_insert, std::string_view field) {
  const std::string& t = tokens[n];
  const std::string where = PointerPrefix(tokens, n + 1);
  if (t == "-") {
    if (for_insert) return size;
    return Status::InvalidRequest(
        "no value at " + Quote(where) +
            ": \"-\" names the end of the array, only allowed with \"add\"",
        std::string(field));
  }
  bool digits = !t.empty();
  for (char c : t) digits = digits && c >= '0' && c <= '9';
  if (!digits || (t.size() > 1 && t[0] == '0')) {
    return Status::InvalidRequest(
        "invalid array index " + Quote(t) + " in " + Quote(where) +
            ": expected digits without leading zeros, or \"-\"",
        std::string(field));
  }
  const size_t limit = for_insert ? size : size - 1;  // size > 0 when used
  size_t index = 0;
  bool in_range = t.size() <= 19;  // keeps the arithmetic below in uint64
  if (in_range) {
    for (char c : t) index = index * 10 + static_cast<size_t>(c - '0');
    in_range = (for_insert || size > 0) && index <= limit;
  }
  if (!in_range) {
    return Status::InvalidRequest("array index " + t + " in " + Quote(where) +
                                      " is out of bounds (the array has " +
                                      std::to_string(size) + " elements)",
                                  std::string(field));
  }
  return index;
}

// The value named by the first `n` tokens.
Result<bj::value*> Walk(bj::value& root, const Tokens& tokens, size_t n,
                        std::string_view field) {
  bj::value* cur = &root;
  for (size_t i = 0; i < n; ++i) {
    if (bj::object* o = cur->if_object()) {
      cur = o->if_contains(tokens[i]);
      if (cur == nullptr) {
        return Status::InvalidRequest(
            "no value at " + Quote(PointerPrefix(tokens, i + 1)),
            std::string(field));
      }
    } else if (bj::array* a = cur->if_array()) {
      AGENTRY_ASSIGN_OR_RETURN(size_t index,
                               ArrayIndex(tokens, i, a->size(), false, field));
      cur = &(*a)[index];
    } else {
      return Status::InvalidRequest(
          "no value at " + Quote(PointerPrefix(tokens, i + 1)) + ": " +
              Quote(PointerPrefix(tokens, i)) + " is neither an object nor " +
              "an array",
          std::string(field));
    }
  }
  return cur;
}

// The container holding the value the tokens name; tokens is not empty.
Result<bj::value*> Parent(bj::value& root, const Tokens& tokens,
                          std::string_view field) {
  AGENTRY_ASSIGN_OR_RETURN(bj::value * parent,
                           Walk(root, tokens, tokens.size() - 1, field));
  if (!parent->is_object() && !parent->is_array()) {
    return Status::InvalidRequest(
        "no value at " + Quote(PointerPrefix(tokens, tokens.size())) + ": " +
            Quote(PointerPrefix(tokens, tokens.size() - 1)) +
            " is neither an object nor an array",
        std::string(field));
  }
  return parent;
}

// ---- Operations on the working copy ----

Status Add(bj::value& root, const Tokens& path, bj::value value) {
  if (path.empty()) {
    root = std::move(value);
    return Status::Ok();
  }
  AGENTRY_ASSIGN_OR_RETURN(bj::value * parent, Parent(root, path, "path"));
  if (bj::object* o = parent->if_object()) {
    o->insert_or_assign(path.back(), std::move(value));
    return Status::Ok();
  }
  bj::array& a = parent->get_array();
  AGENTRY_ASSIGN_OR_RETURN(
      size_t index, ArrayIndex(path, path.size() - 1, a.size(), true, "path"));
  a.insert(a.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
  return Status::Ok();
}

// Removes the value at `path` and returns it.
Result<bj::value> Remove(bj::value& root, const Tokens& path,
                         std::string_view field) {
  if (path.empty()) {
    return Status::InvalidRequest("the whole document cannot be removed",
                                  std::string(field));
  }
  AGENTRY_ASSIGN_OR_RETURN(bj::value * parent, Parent(root, path, field));
  if (bj::object* o = parent->if_object()) {
    auto it = o->find(path.back());
    if (it == o->end()) {
      return Status::InvalidRequest(
          "no value at " + Quote(PointerPrefix(path, path.size())),
          std::string(field));
    }
    bj::value removed = std::move(it->value());
    o->stable_erase(it);
    return removed;
  }
  bj::array& a = parent->get_array();
  AGENTRY_ASSIGN_OR_RETURN(
      size_t index, ArrayIndex(path, path.size() - 1, a.size(), false, field));
  bj::value removed = std::move(a[index]);
  a.erase(a.begin() + static_cast<std::ptrdiff_t>(index));
  return removed;
}

bool IsProperPrefix(const Tokens& prefix, const Tokens& tokens) {
  if (prefix.size() >= tokens.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] != tokens[i]) return false;
  }
  return true;
}

// Fetches the member `name` of `op` as a string (a JSON pointer).
Result<Tokens> PointerMember(const bj::object& op, std::string_view name) {
  const bj::value* v = op.if_contains(name);
  if (v == nullptr) {
    return Status::InvalidRequest("missing \"" + std::string(name) + "\"",
                                  std::string(name));
  }
  if (!v->is_string()) {
    return Status::InvalidRequest(
        "\"" + std::string(name) + "\" must be a string (a JSON pointer)",
        std::string(name));
  }
  return ParsePointer(v->get_string(), name);
}

Result<const bj::value*> ValueMember(const bj::object& op) {
  const bj::value* v = op.if_contains("value");
  if (v == nullptr) return Status::InvalidRequest("missing \"value\"", "value");
  return v;
}

Status ApplyOne(bj::value& root, const bj::value& op_value) {
  const bj::object* op = op_value.if_object();
  if (op == nullptr) {
    return Status::InvalidRequest("an operation must be an object");
  }
  const bj::value* name_value = op->if_contains("op");
  if (name_value == nullptr) {
    return Status::InvalidRequest("missing \"op\"", "op");
  }
  if (!name_value->is_string()) {
    return Status::InvalidRequest("\"op\" must be a string", "op");
  }
  const std::string_view name = name_value->get_string();
  if (name != "add" && name != "remove" && name != "replace" &&
      name != "move" && name != "copy" && name != "test") {
    return Status::InvalidRequest(
        "unknown operation " + Quote(name) +
            "; expected add, remove, replace, move, copy or test",
        "op");
  }
  AGENTRY_ASSIGN_OR_RETURN(Tokens path, PointerMember(*op, "path"));

  if (name == "add") {
    AGENTRY_ASSIGN_OR_RETURN(const bj::value* value, ValueMember(*op));
    return Add(root, path, *value);
  }
  if (name == "remove") return Remove(root, path, "path").status();
  if (name == "replace") {
    AGENTRY_ASSIGN_OR_RETURN(const bj::value* value, ValueMember(*op));
    AGENTRY_ASSIGN_OR_RETURN(bj::value * target,
                             Walk(root, path, path.size(), "path"));
    *target = *value;
    return Status::Ok();
  }
  if (name == "test") {
    AGENTRY_ASSIGN_OR_RETURN(const bj::value* value, ValueMember(*op));
    AGENTRY_ASSIGN_OR_RETURN(bj::value * target,
                             Walk(root, path, path.size(), "path"));
    if (!Equal(*target, *value)) {
      return Status::InvalidRequest(
          "test failed: the value at " +
              Quote(PointerPrefix(path, path.size())) +
              " differs from the expected value",
          "value");
    }
    return Status::Ok();
  }
  AGENTRY_ASSIGN_OR_RETURN(Tokens from, PointerMember(*op, "from"));
  if (name == "copy") {
    AGENTRY_ASSIGN_OR_RETURN(bj::value * source,
                             Walk(root, from, from.size(), "from"));
    bj::value copy = *source;
    return Add(root, path, std::move(copy));
  }
  // move
  if (IsProperPrefix(from, path)) {
    return Status::InvalidRequest(
        "cannot move " + Quote(PointerPrefix(from, from.size())) +
            " into its own child " + Quote(PointerPrefix(path, path.size())),
        "path");
  }
  if (from == path) return Walk(root, from, from.size(), "from").status();
  AGENTRY_ASSIGN_OR_RETURN(bj::value moved, Remove(root, from, "from"));
  return Add(root, path, std::move(moved));
}

// ---- Merge Patch ----

void MergeInto(bj::value& target, const bj::value& patch) {
  const bj::object* p = patch.if_object();
  if (p == nullptr) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = bj::object();
  bj::object& t = target.get_object();
  for (const bj::key_value_pair& kv : *p) {
    if (kv.value().is_null()) {
      t.stable_erase(kv.key());
      continue;
    }
    auto it = t.find(kv.key());
    if (it == t.end()) {
      bj::value fresh;  // null: absent members merge like null targets
      MergeInto(fresh, kv.value());
      t.emplace(kv.key(), std::move(fresh));
    } else {
      MergeInto(it->value(), kv.value());
    }
  }
}

}  // namespace

boost::json::array Diff(const boost::json::value& from,
                        const boost::json::value& to) {
  bj::array out;
  DiffInto(from, to, "", out);
  return out;
}

Result<boost::json::value> ApplyPatch(const boost::json::value& doc,
                                      const boost::json::array& patch) {
  bj::value result = doc;
  for (size_t i = 0; i < patch.size(); ++i) {
    Status s = ApplyOne(result, patch[i]);
    if (!s.ok()) return s.WithFieldPrefix("[" + std::to_string(i) + "]");
  }
  return result;
}

boost::json::value MergePatch(const boost::json::value& target,
                              const boost::json::value& patch) {
  bj::value result = target;
  MergeInto(result, patch);
  return result;
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace agentry::json
