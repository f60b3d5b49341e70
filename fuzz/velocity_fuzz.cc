// libFuzzer target: the Velocity template parser and renderer
// (src/agentry/templating/velocity.h).
//
// Input: a template, optionally followed by a NUL byte and a JSON document.
// The template is parsed with the default Limits; when it parses it is
// rendered twice against a fixed session context (plus the JSON document,
// when it is valid, as `$x`). Besides ASan/UBSan/leak/timeout findings, the
// target traps when the engine breaks its documented contract:
//   - a template that does not parse is refused with kInvalidRequest and a
//     message starting "line L, column C: ";
//   - a render either succeeds with at most max_output_bytes of output or
//     fails with kInvalidRequest;
//   - a parsed Template is immutable: rendering it twice gives the same
//     result (no state carried from one render to the next).
//
// Run by fuzz/run.sh; seeds in fuzz/corpus/velocity/, dictionary in
// fuzz/dict/velocity.dict, crash reproducers kept in
// fuzz/regressions/velocity/.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agentry/templating/velocity.h"

namespace {

namespace json = boost::json;
using agentry::ErrorCode;
using agentry::templating::Limits;
using agentry::templating::Template;

// Every JSON kind, nesting, empty containers, numbers at the edges, and the
// names DESIGN §5 gives the render context (session, agent, currentDate,
// tools).
constexpr std::string_view kContext = R"({
  "session": {
    "user": {"name": "Ada", "tier": "gold", "id": 42, "email": "ada@example.com",
             "tags": ["vip", "beta"], "address": {"city": "Paris", "zip": "75001"}},
    "locale": "fr-FR", "count": 3, "ratio": 0.25, "neg": -7, "zero": 0,
    "big": 18446744073709551615, "min": -9223372036854775808, "huge": 1e300,
    "flag": true, "off": false, "none": null, "empty": "", "five": "5",
    "items": [{"name": "a", "price": 1.5, "qty": 2},
              {"name": "b", "price": 10, "qty": 0},
              {"name": "c", "price": -0.0, "qty": null}],
    "nums": [1, 2, 3, -1, 0.5, 1e-5, 12345678.9],
    "nested": [[1, 2], [], [[3, [4]]]], "emptyList": [], "emptyObj": {},
    "map": {"k1": "v1", "k2": 2, "k3": [true, false]}
  },
  "agent": {"name": "Support", "key": "agt_support",
            "metadata": {"team": "care", "priority": 1, "langs": ["en", "fr"]}},
  "currentDate": "2026-11-22",
  "tools": [{"id": "tol_search", "name": "search"},
            {"id": "tol_refund", "name": "refund"}]
})";

const json::value& BaseContext() {
  static const json::value* const kValue =
      new json::value(json::parse(kContext));
  return *kValue;
}

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "velocity_fuzz: contract violated: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool StartsWithLineColumn(std::string_view m) {
  // "line <digits>, column <digits>: "
  auto digits = [&m](size_t i) {
    size_t b = i;
    while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
    return i > b ? i : std::string_view::npos;
  };
  if (!m.starts_with("line ")) return false;
  size_t i = digits(5);
  if (i == std::string_view::npos || m.substr(i, 9) != ", column ") {
    return false;
  }
  i = digits(i + 9);
  return i != std::string_view::npos && m.substr(i, 2) == ": ";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view source = input;
  const json::value* context = &BaseContext();
  json::value with_extra;
  if (size_t nul = input.find('\0'); nul != std::string_view::npos) {
    source = input.substr(0, nul);
    boost::system::error_code ec;
    json::value extra = json::parse(input.substr(nul + 1), ec);
    if (!ec) {
      with_extra = BaseContext();
      with_extra.get_object()["x"] = std::move(extra);
      context = &with_extra;
    }
  }

  const Limits limits;
  auto parsed = Template::Parse(source, limits);
  if (!parsed.ok()) {
    const agentry::Status& st = parsed.status();
    if (st.code() != ErrorCode::kInvalidRequest) {
      Fail("Parse failed with a code other than invalid_request",
           st.ToString());
    }
    if (source.size() <= limits.max_template_bytes &&
        !StartsWithLineColumn(st.message())) {
      Fail("Parse error without 'line L, column C: '", st.message());
    }
    return 0;
  }

  const Template& t = **parsed;
  auto first = t.Render(*context);
  if (first.ok()) {
    if (first->size() > limits.max_output_bytes) {
      Fail("Render output over max_output_bytes",
           std::to_string(first->size()));
    }
  } else if (first.status().code() != ErrorCode::kInvalidRequest) {
    Fail("Render failed with a code other than invalid_request",
         first.status().ToString());
  }

  auto second = t.Render(*context);
  if (first.ok() != second.ok() ||
      (first.ok() ? *first != *second
                  : first.status().message() != second.status().message())) {
    Fail("two renders of one Template differ",
         first.ok() ? std::string_view(*first) : first.status().message());
  }
  return 0;
}
