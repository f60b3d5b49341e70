#include "agentry/common/json.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

namespace agentry::json {

namespace bj = boost::json;

namespace {

// Builds the value tree from basic_parser events, refusing duplicate keys and
// non-finite numbers. Like Boost's own value_stack, values wait on a flat
// stack and each array or object is built once, at its exact size, when it
// ends; keys wait in one shared buffer. So the only allocations are the
// containers and strings of the result (the stacks grow to the document's
// widest point once). The dotted path is derived from the stacks only when an
// error is reported.
class TreeBuilder {
 public:
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  explicit TreeBuilder(size_t max_depth) {
    frames_.reserve(std::min<size_t>(max_depth, 64));
  }

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }

  bool on_object_begin(bj::error_code&) {
    frames_.push_back({values_.size(), keys_.size(), true});
    return true;
  }
  bool on_object_end(std::size_t n, bj::error_code& ec) {
    const Frame f = frames_.back();
    bj::object obj(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string_view key = Key(f.key_base + i);
      auto [it, inserted] = obj.emplace(key, std::move(values_[f.base + i]));
      if (!inserted) {
        error_ =
            Status::InvalidRequest("duplicate key \"" + std::string(key) + "\"",
                                   Join(PathOf(frames_.size() - 1), key));
        return Fail(ec);
      }
    }
    if (n > 0) key_bytes_.resize(keys_[f.key_base].offset);
    keys_.resize(f.key_base);
    values_.resize(f.base);
    frames_.pop_back();
    values_.emplace_back(std::move(obj));
    return true;
  }
  bool on_array_begin(bj::error_code&) {
    frames_.push_back({values_.size(), keys_.size(), false});
    return true;
  }
  bool on_array_end(std::size_t n, bj::error_code&) {
    const Frame f = frames_.back();
    bj::array arr;
    arr.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      arr.emplace_back(std::move(values_[f.base + i]));
    }
    values_.resize(f.base);
    frames_.pop_back();
    values_.emplace_back(std::move(arr));
    return true;
  }

  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    if (!key_in_parts_) {
      key_in_parts_ = true;
      key_start_ = key_bytes_.size();
    }
    key_bytes_.append(s.data(), s.size());
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code&) {
    if (!key_in_parts_) key_start_ = key_bytes_.size();
    key_in_parts_ = false;
    key_bytes_.append(s.data(), s.size());
    keys_.push_back({key_start_, key_bytes_.size() - key_start_});
    return true;
  }

  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    if (buf_.empty()) {
      values_.emplace_back(s);
    } else {
      buf_.append(s.data(), s.size());
      values_.emplace_back(bj::string_view(buf_));
      buf_.clear();
    }
    return true;
  }

  bool on_number_part(bj::string_view s, bj::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, bj::string_view, bj::error_code&) {
    number_.clear();
    values_.emplace_back(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, bj::error_code&) {
    number_.clear();
    values_.emplace_back(u);
    return true;
  }
  bool on_double(double, bj::string_view s, bj::error_code& ec) {
    // Boost.JSON 1.81 rounds some long numbers to a neighbour of the
    // nearest double (then "6.666666666666667e+108" would read back as
    // …668e+108 and a stored document would change its bytes), and hands
    // 1e400 over as infinity: the text is converted again here, correctly
    // rounded, and refused when out of range.
    number_.append(s.data(), s.size());
    double d = 0;
    auto [end, err] =
        std::from_chars(number_.data(), number_.data() + number_.size(), d);
    if (err == std::errc::result_out_of_range) {
      // Too small (it rounds to a subnormal or zero, as strtod says, which is
      // correctly rounded too) or too large (infinity: refused below).
      d = std::strtod(number_.c_str(), nullptr);
      err = std::errc();
    }
    const bool whole = end == number_.data() + number_.size();
    number_.clear();
    if (err != std::errc() || !whole || !std::isfinite(d)) {
      error_ = Status::InvalidRequest("number out of range", Path());
      return Fail(ec);
    }
    values_.emplace_back(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    values_.emplace_back(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    values_.emplace_back(nullptr);
    return true;
  }
  // Comments are refused by the parse options; these never run.
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

  // The dotted path of where parsing currently is ("" at the root): the
  // member whose key was read last, or the array element being read.
  std::string Path() const { return PathOf(frames_.size()); }

  const Status& error() const { return error_; }
  // The document, once parsing succeeded.
  bj::value& root() { return values_.front(); }

 private:
  struct Frame {
    size_t base;      // index in values_ of the container's first value
    size_t key_base;  // index in keys_ of an object's first key
    bool is_object;
  };
  struct KeyRef {
    size_t offset;  // in key_bytes_
    size_t size;
  };

  std::string_view Key(size_t i) const {
    return std::string_view(key_bytes_).substr(keys_[i].offset, keys_[i].size);
  }

  // The path within the first `depth` frames.
  std::string PathOf(size_t depth) const {
    std::string path;
    for (size_t i = 0; i < depth; ++i) {
      const Frame& f = frames_[i];
      // Values and keys of this container: up to the next frame's start.
      const size_t values_end =
          i + 1 < frames_.size() ? frames_[i + 1].base : values_.size();
      const size_t n = values_end - f.base;
      if (f.is_object) {
        const size_t keys_end =
            i + 1 < frames_.size() ? frames_[i + 1].key_base : keys_.size();
        if (keys_end - f.key_base <= n) break;  // between members
        path = Join(path, Key(keys_end - 1));
      } else {
        path = Index(path, n);
      }
    }
    return path;
  }

  bool Fail(bj::error_code& ec) {
    ec = bj::error::exception;  // any error stops the parser; error_ says why
    return false;
  }

  std::vector<bj::value> values_;  // complete values not yet in a container
  std::string number_;             // the text of a number split across parts
  std::vector<Frame> frames_;      // open arrays and objects
  std::vector<KeyRef> keys_;       // keys of the open objects' members
  std::string key_bytes_;
  size_t key_start_ = 0;  // where the key being read in parts starts
  bool key_in_parts_ = false;
  std::string buf_;  // a string value delivered in parts
  Status error_;
};

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Offset of the first byte of the first invalid UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF are invalid), or npos.
// A sequence cut short by the end of the text is invalid too.
size_t FirstInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

struct Lexical {
  bool in_string = false;
  size_t last_escape = std::string_view::npos;  // offset of its backslash
};

// Whether offset `pos` of `text` lies inside a string literal, assuming the
// text before it is well-formed JSON (the parser consumed it).
Lexical LexicalStateAt(std::string_view text, size_t pos) {
  Lexical st;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    const char c = text[i];
    if (!st.in_string) {
      if (c == '"') st.in_string = true;
    } else if (c == '\\') {
      st.last_escape = i;
      ++i;
    } else if (c == '"') {
      st.in_string = false;
    }
  }
  return st;
}

bool IsHighSurrogateEscape(std::string_view text, size_t at) {
  // `\uD800` … `\uDBFF`
  if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') {
    return false;
  }
  const char d = text[at + 2], e = text[at + 3];
  return (d == 'd' || d == 'D') &&
         (e == '8' || e == '9' || e == 'a' || e == 'A' || e == 'b' || e == 'B');
}

// Turns a parser error at byte `offset` into a message naming the problem.
Status DescribeParseError(const bj::error_code& ec, std::string_view text,
                          size_t offset, std::string path,
                          const ParseLimits& limits) {
  const std::string at = " at offset " + std::to_string(offset);
  if (ec == bj::error::too_deep) {
    return Status::InvalidRequest(
        "nesting deeper than " + std::to_string(limits.max_depth),
        std::move(path));
  }
  if (ec == bj::error::exponent_overflow) {
    return Status::InvalidRequest("number out of range", std::move(path));
  }
  if (ec == bj::error::illegal_leading_surrogate ||
      ec == bj::error::illegal_trailing_surrogate) {
    return Status::InvalidRequest(
        "invalid \\u escape in string: unpaired UTF-16 surrogate",
        std::move(path));
  }
  if (ec == bj::error::syntax || ec == bj::error::incomplete) {
    // Everything before `offset` was accepted, so the first invalid UTF-8
    // sequence, if it is at or before `offset`, is what stopped the parser
    // (the parser reports a sequence cut by a quote as incomplete input).
    const size_t bad = FirstInvalidUtf8(text);
    if (bad != std::string_view::npos && bad <= offset) {
      return Status::InvalidRequest(LexicalStateAt(text, bad).in_string
                                        ? "invalid UTF-8 in string"
                                        : "invalid UTF-8" + at,
                                    std::move(path));
    }
  }
  if (ec == bj::error::syntax) {
    const Lexical st = LexicalStateAt(text, offset);
    if (st.in_string) {
      if (st.last_escape != std::string_view::npos &&
          st.last_escape + 6 == offset &&
          IsHighSurrogateEscape(text, st.last_escape)) {
        return Status::InvalidRequest(
            "invalid \\u escape in string: unpaired UTF-16 surrogate",
            std::move(path));
      }
      if (st.last_escape != std::string_view::npos &&
          st.last_escape + 1 == offset) {
        return Status::InvalidRequest(
            "malformed JSON: invalid escape sequence in string" + at,
            std::move(path));
      }
      if (offset < text.size() &&
          static_cast<unsigned char>(text[offset]) < 0x20) {
        return Status::InvalidRequest(
            "malformed JSON: control character in string must be escaped" + at,
            std::move(path));
      }
    }
    return Status::InvalidRequest("malformed JSON: syntax error" + at,
                                  std::move(path));
  }
  if (ec == bj::error::incomplete) {
    return Status::InvalidRequest("malformed JSON: unexpected end of input",
                                  std::move(path));
  }
  return Status::InvalidRequest("malformed JSON: " + ec.message() + at,
                                std::move(path));
}

std::string FormatNumber(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  if (ec != std::errc()) return std::to_string(d);
  return std::string(buf, end);
}

// What is wrong with `s` under `rules` (" must not be empty"), or nullopt.
std::optional<std::string> StringProblem(std::string_view s,
                                         const StringRules& rules) {
  const size_t n = Utf8Length(s);
  if (n < rules.min_chars) {
    if (rules.min_chars == 1) return " must not be empty";
    return " must be at least " + std::to_string(rules.min_chars) +
           " characters";
  }
  if (n > rules.max_chars) {
    return " must be at most " + std::to_string(rules.max_chars) +
           " characters";
  }
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) continue;
    if (rules.allow_newlines && (c == '\t' || c == '\n' || c == '\r')) {
      continue;
    }
    return " must not contain control characters";
  }
  return std::nullopt;
}

}  // namespace

Result<bj::value> ParseStrict(std::string_view text,
                              const ParseLimits& limits) {
  size_t first = 0;
  while (first < text.size() && IsJsonSpace(text[first])) ++first;
  if (first == text.size()) return Status::InvalidRequest("empty body");

  bj::parse_options opt;
  opt.max_depth = limits.max_depth;
  opt.allow_comments = false;
  opt.allow_trailing_commas = false;
  opt.allow_invalid_utf8 = false;
  bj::basic_parser<TreeBuilder> parser(opt, limits.max_depth);
  bj::error_code ec;
  const size_t n =
      parser.write_some(/*more=*/false, text.data(), text.size(), ec);
  TreeBuilder& h = parser.handler();
  if (!h.error().ok()) return h.error();
  if (ec) return DescribeParseError(ec, text, n, h.Path(), limits);
  if (n != text.size()) {
    return Status::InvalidRequest(
        "malformed JSON: unexpected data after the document at offset " +
        std::to_string(n));
  }
  return std::move(h.root());
}

Result<bj::object> ParseStrictObject(std::string_view text,
                                     const ParseLimits& limits) {
  // The commonest body of all (an acquisition with every default): no
  // parser needed.
  if (text == "{}") return bj::object();
  Result<bj::value> v = ParseStrict(text, limits);
  if (!v.ok()) return v.status();
  if (!v->is_object()) {
    return Status::InvalidRequest("request body must be a JSON object");
  }
  return bj::object(std::move(v->get_object()));
}

std::string_view TypeName(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string:
      return "string";
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      return "number";
    case bj::kind::bool_:
      return "boolean";
    case bj::kind::null:
      return "null";
    case bj::kind::array:
      return "array";
    case bj::kind::object:
      return "object";
  }
  return "null";
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  }
  return n;
}

namespace {

// Whether any of the 8 bytes of `w` is below 0x20, '"' or '\\' (exact:
// the classic "has a byte less than n" and "has a zero byte" tests).
constexpr bool AnyByteToEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  const uint64_t q = w ^ (kOnes * '"');
  const uint64_t quote = (q - kOnes) & ~q & kHigh;
  const uint64_t b = w ^ (kOnes * '\\');
  const uint64_t backslash = (b - kOnes) & ~b & kHigh;
  return (below_space | quote | backslash) != 0;
}

}  // namespace

void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    // Eight bytes at a time while none needs escaping (ids, names: all).
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof(w));
      if (AnyByteToEscape(w)) break;
      i += 8;
    }
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out.push_back('\\');
    switch (c) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\n':
        out.push_back('n');
        break;
      case '\r':
        out.push_back('r');
        break;
      case '\t':
        out.push_back('t');
        break;
      case '\b':
        out.push_back('b');
        break;
      case '\f':
        out.push_back('f');
        break;
      default:
        out += "u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

void AppendValue(std::string& out, const bj::value& v);

void AppendObject(std::string& out, const bj::object& o) {
  out.push_back('{');
  bool first = true;
  for (const auto& m : o) {
    if (!first) out.push_back(',');
    first = false;
    AppendString(out, m.key());
    out.push_back(':');
    AppendValue(out, m.value());
  }
  out.push_back('}');
}

void AppendValue(std::string& out, const bj::value& v) {
  char buf[32];
  switch (v.kind()) {
    case bj::kind::null:
      out += "null";
      return;
    case bj::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case bj::kind::int64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_int64());
      out.append(buf, r.ptr);
      return;
    }
    case bj::kind::uint64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_uint64());
      out.append(buf, r.ptr);
      return;
    }
    case bj::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no infinities; ParseStrict refuses them
        return;
      }
      // -0.0 is written "0": "-0" would read back as the integer 0 and then
      // be written "0", so the bytes of a document (its ETag) would change
      // after one trip through the store.
      if (d == 0) {
        out.push_back('0');
        return;
      }
      // Shortest round-trip form: 0.1 stays "0.1" (Boost writes "1E-1").
      auto r = std::to_chars(buf, buf + sizeof(buf), d);
      out.append(buf, r.ptr);
      return;
    }
    case bj::kind::string:
      AppendString(out, v.get_string());
      return;
    case bj::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const bj::value& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendValue(out, e);
      }
      out.push_back(']');
      return;
    }
    case bj::kind::object:
      AppendObject(out, v.get_object());
      return;
  }
}

}  // namespace

std::string Serialize(const bj::value& v) {
  std::string out;
  out.reserve(256);
  AppendValue(out, v);
  return out;
}

std::string Serialize(const bj::object& o) {
  std::string out;
  out.reserve(256);
  AppendObject(out, o);
  return out;
}

std::string Join(std::string_view base, std::string_view name) {
  if (base.empty()) return std::string(name);
  std::string out;
  out.reserve(base.size() + 1 + name.size());
  out += base;
  out += '.';
  out += name;
  return out;
}

std::string Index(std::string_view base, size_t i) {
  std::string out(base);
  out += '[';
  out += std::to_string(i);
  out += ']';
  return out;
}

std::string Quoted(std::string_view field) {
  std::string out;
  out.reserve(field.size() + 2);
  out += '"';
  out += field;
  out += '"';
  return out;
}

Status FieldError(const std::string& field, std::string_view problem) {
  std::string message = Quoted(field);
  message += problem;
  return Status::InvalidRequest(std::move(message), field);
}

ObjectReader::ObjectReader(const bj::object& obj, std::string path)
    : obj_(obj), path_(std::move(path)) {}

const bj::value* ObjectReader::Raw(std::string_view name) {
  known_.emplace(name);
  return obj_.if_contains(bj::string_view(name.data(), name.size()));
}

std::string ObjectReader::FieldPath(std::string_view name) const {
  return Join(path_, name);
}

Result<std::string> ObjectReader::String(std::string_view name,
                                         const StringRules& rules) {
  Result<std::optional<std::string>> r = OptString(name, rules);
  if (!r.ok()) return r.status();
  if (!r->has_value()) {
    return FieldError(FieldPath(name), " is required");
  }
  return std::move(**r);
}

Result<std::optional<std::string>> ObjectReader::OptString(
    std::string_view name, const StringRules& rules) {
  const bj::value* v = Raw(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return FieldError(FieldPath(name), " must be a string");
  const std::string_view s = View(v->get_string());
  if (auto problem = StringProblem(s, rules)) {
    return FieldError(FieldPath(name), *problem);
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::optional<bool>> ObjectReader::OptBool(std::string_view name) {
  const bj::value* v = Raw(name);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) {
    return FieldError(FieldPath(name), " must be a boolean");
  }
  return std::optional<bool>(v->get_bool());
}

Result<std::optional<int64_t>> ObjectReader::OptInt(std::string_view name,
                                                    int64_t min, int64_t max) {
  const bj::value* v = Raw(name);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  std::optional<int64_t> got;
  switch (v->kind()) {
    case bj::kind::int64:
      got = v->get_int64();
      break;
    case bj::kind::uint64:
      if (v->get_uint64() <=
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        got = static_cast<int64_t>(v->get_uint64());
      }
      break;
    case bj::kind::double_: {
      const double d = v->get_double();
      // [-2^63, 2^63): every integral double here converts exactly.
      if (std::isfinite(d) && d == std::trunc(d) &&
          d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        got = static_cast<int64_t>(d);
      }
      break;
    }
    default:
      break;
  }
  if (!got || *got < min || *got > max) {
    return FieldError(FieldPath(name), " must be an integer between " +
                                           std::to_string(min) + " and " +
                                           std::to_string(max));
  }
  return got;
}

Result<std::optional<double>> ObjectReader::OptNumber(std::string_view name,
                                                      double min, double max) {
  const bj::value* v = Raw(name);
  if (v == nullptr || v->is_null()) return std::optional<double>();
  std::optional<double> got;
  switch (v->kind()) {
    case bj::kind::int64:
      got = static_cast<double>(v->get_int64());
      break;
    case bj::kind::uint64:
      got = static_cast<double>(v->get_uint64());
      break;
    case bj::kind::double_:
      got = v->get_double();
      break;
    default:
      break;
  }
  if (!got || !std::isfinite(*got) || *got < min || *got > max) {
    return FieldError(FieldPath(name), " must be a number between " +
                                           FormatNumber(min) + " and " +
                                           FormatNumber(max));
  }
  return got;
}

Result<std::optional<std::vector<std::string>>> ObjectReader::OptStringArray(
    std::string_view name, size_t max_items, const StringRules& rules) {
  using Out = std::optional<std::vector<std::string>>;
  const bj::value* v = Raw(name);
  if (v == nullptr || v->is_null()) return Out();
  const std::string field = FieldPath(name);
  if (!v->is_array()) return FieldError(field, " must be an array of strings");
  const bj::array& a = v->get_array();
  if (a.size() > max_items) {
    return FieldError(
        field, " must have at most " + std::to_string(max_items) + " items");
  }
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string())
      return FieldError(Index(field, i), " must be a string");
    const std::string_view s = View(a[i].get_string());
    if (auto problem = StringProblem(s, rules)) {
      return FieldError(Index(field, i), *problem);
    }
    out.emplace_back(s);
  }
  return Out(std::move(out));
}

Status ObjectReader::Finish() const {
  for (const bj::key_value_pair& kv : obj_) {
    const bj::string_view key = kv.key();
    if (known_.contains(std::string(key.data(), key.size()))) continue;
    std::string field = FieldPath(std::string_view(key.data(), key.size()));
    std::string message = "unknown field " + Quoted(field);
    return Status::InvalidRequest(std::move(message), std::move(field));
  }
  return Status::Ok();
}

Status RefuseUnknown(ObjectReader& r, std::span<const std::string_view> names) {
  for (const std::string_view name : names) r.Raw(name);
  return r.Finish();
}

Status RefuseReadOnly(const boost::json::object& in,
                      std::span<const std::string_view> read_only) {
  for (const std::string_view name : read_only) {
    if (in.contains(name)) {
      return FieldError(std::string(name), " is read-only");
    }
  }
  return Status::Ok();
}

Result<const boost::json::object*> OptObject(ObjectReader& r,
                                             std::string_view name) {
  const boost::json::value* v = r.Raw(name);
  if (v == nullptr || v->is_null()) return nullptr;
  if (!v->is_object())
    return FieldError(r.FieldPath(name), " must be an object");
  return &v->get_object();
}

Result<const boost::json::array*> OptArray(ObjectReader& r,
                                           std::string_view name,
                                           size_t max_items) {
  const boost::json::value* v = r.Raw(name);
  if (v == nullptr || v->is_null()) return nullptr;
  const std::string field = r.FieldPath(name);
  if (!v->is_array()) return FieldError(field, " must be an array");
  const boost::json::array& a = v->get_array();
  if (a.size() > max_items) {
    return FieldError(
        field, " must have at most " + std::to_string(max_items) + " items");
  }
  return &a;
}

Result<const boost::json::object*> ElementObject(const boost::json::array& a,
                                                 size_t i,
                                                 const std::string& field) {
  if (!a[i].is_object()) {
    return FieldError(Index(field, i), " must be an object");
  }
  return &a[i].get_object();
}

std::string OneOfProblem(std::span<const std::string_view> allowed) {
  std::string out = " must be ";
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) out += i + 1 == allowed.size() ? " or " : ", ";
    out += Quoted(allowed[i]);
  }
  return out;
}

Result<std::string> OneOf(ObjectReader& r, std::string_view name,
                          std::span<const std::string_view> allowed,
                          std::string_view fallback) {
  const boost::json::value* v = r.Raw(name);
  if (v == nullptr || v->is_null()) return std::string(fallback);
  if (v->is_string()) {
    const std::string_view s = View(v->get_string());
    for (const std::string_view a : allowed) {
      if (s == a) return std::string(s);
    }
  }
  return FieldError(r.FieldPath(name), OneOfProblem(allowed));
}

const boost::json::value& MemberOrNull(const boost::json::object& o,
                                       std::string_view name) {
  static const boost::json::value kNull;
  auto it = o.find(name);
  return it == o.end() ? kNull : it->value();
}

}  // namespace agentry::json
