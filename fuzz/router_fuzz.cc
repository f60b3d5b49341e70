// libFuzzer target: the request target → route path of every request
// (src/agentry/http/router.h): SplitTarget (Boost.URL: origin- and
// absolute-form, percent-decoding of segments and query) and Router::Find
// over every route the server documents (/openapi.json's paths and methods,
// all four surfaces), then the query helpers handlers use (ParsePageParams
// with each cursor kind and the Vectara spec, ParseIntParam,
// ParseVersionNumber).
//
// Input: byte 0 picks the method, the rest is the target as received.
// Besides ASan/UBSan/leak/timeout findings, the target traps when a
// contract breaks:
//   - SplitTarget and Find are deterministic (twice → the same answer);
//   - a match binds exactly the pattern's {params}, each the segment at its
//     position, and every literal segment of the pattern equals the path's;
//   - "allowed methods" (405) are given only when the path matches under
//     another method, and each one listed does match;
//   - the query helpers either refuse with kInvalidRequest naming a field,
//     or answer values within their documented ranges.
//
// Run by fuzz/run.sh; seeds in fuzz/corpus/router/, dictionary in
// fuzz/dict/router.dict, crash reproducers kept in fuzz/regressions/router/.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/http/ops.h"
#include "agentry/http/request.h"
#include "agentry/http/router.h"

namespace {

using agentry::ErrorCode;
using agentry::Status;
using namespace agentry::http;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "contract broken: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void ExpectRefusal(const Status& st, const char* what,
                   std::string_view field = "?") {
  if (st.code() != ErrorCode::kInvalidRequest) Fail(what, st.ToString());
  if (field == "?" ? st.field().empty() : st.field() != field) {
    Fail(what, "the field at fault is not named: " + st.ToString());
  }
}

// Every documented route, with a handler that must never run here.
const Router& Routes() {
  static const Router* router = [] {
    auto* r = new Router();
    const boost::json::value doc = boost::json::parse(OpenApiDocument());
    for (const auto& [path, item] : doc.at("paths").as_object()) {
      for (const auto& [verb, op] : item.as_object()) {
        (void)op;
        std::string upper(verb);
        for (char& c : upper) c = static_cast<char>(std::toupper(c));
        const Method m = ParseMethod(upper);
        if (m == Method::kOther) continue;  // "parameters", …
        r->Add(m, path, RouteOptions{},
               [](Request&) -> std::optional<Response> { std::abort(); });
      }
    }
    return r;
  }();
  return *router;
}

std::vector<std::string_view> PatternSegments(std::string_view pattern) {
  std::vector<std::string_view> out;
  size_t i = 1;
  while (i <= pattern.size()) {
    size_t j = pattern.find('/', i);
    if (j == std::string_view::npos) j = pattern.size();
    out.push_back(pattern.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void CheckMatch(const Router::Match& m, const std::vector<std::string>& segs) {
  const std::vector<std::string_view> pattern =
      PatternSegments(m.route->pattern);
  if (pattern.size() != segs.size()) Fail("segment count", m.route->pattern);
  size_t p = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].starts_with('{')) {
      if (p >= m.params.size()) Fail("param missing", m.route->pattern);
      const std::string_view name = pattern[i].substr(1, pattern[i].size() - 2);
      if (m.params[p].first != name) Fail("param name", name);
      if (m.params[p].second != segs[i]) Fail("param value", segs[i]);
      ++p;
    } else if (pattern[i] != segs[i]) {
      Fail("literal segment", pattern[i]);
    }
  }
  if (p != m.params.size()) Fail("extra params", m.route->pattern);
}

void CheckQuery(const Request& req) {
  using agentry::http::CursorKind;
  for (CursorKind kind :
       {CursorKind::kUuid, CursorKind::kKey, CursorKind::kNumber}) {
    auto page = ParsePageParams(req, kind);
    if (!page.ok()) {
      ExpectRefusal(page.status(), "ParsePageParams");
    } else if (page->limit < 1 || page->limit > 200) {
      Fail("limit out of range", std::to_string(page->limit));
    }
  }
  PageParamSpec vectara;
  vectara.cursor = "page_key";
  vectara.max_limit = 100;
  vectara.default_limit = 10;
  auto page = ParsePageParams(req, CursorKind::kKey, vectara);
  if (!page.ok()) {
    ExpectRefusal(page.status(), "ParsePageParams (Vectara)");
  } else if (page->limit < 1 || page->limit > 100) {
    Fail("Vectara limit out of range", std::to_string(page->limit));
  }
  auto n = ParseIntParam(req, "pageSize", 1, 100, 20);
  if (!n.ok()) {
    ExpectRefusal(n.status(), "ParseIntParam");
  } else if (*n < 1 || *n > 100) {
    Fail("pageSize out of range", std::to_string(*n));
  }
  for (const auto& [name, value] : req.query) {
    auto v = ParseVersionNumber(value, name);
    if (!v.ok()) {
      ExpectRefusal(v.status(), "ParseVersionNumber", name);
    } else if (*v < 1) {
      Fail("version below 1", value);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Method method = static_cast<Method>(data[0] % kMethodCount);
  const std::string target(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Router& router = Routes();

  Request req;
  req.method = method;
  req.target = target;
  const bool ok = SplitTarget(req.target, req.segments, req.query);
  std::vector<std::string> segs2 = {"reused"};
  std::vector<std::pair<std::string, std::string>> query2;
  if (SplitTarget(target, segs2, query2) != ok) Fail("SplitTarget", target);
  if (!ok) return 0;
  if (segs2 != req.segments || query2 != req.query) {
    Fail("SplitTarget not deterministic", target);
  }
  // The fast path splits exactly as Boost.URL does.
  std::vector<std::string> segs3;
  std::vector<std::pair<std::string, std::string>> query3;
  if (!detail::SplitTargetWithUrlParser(target, segs3, query3) ||
      segs3 != req.segments || query3 != req.query) {
    Fail("SplitTarget differs from Boost.URL", target);
  }

  Router::Match m = router.Find(method, req.segments);
  Router::Match again = router.Find(method, req.segments);
  if (m.route != again.route || m.params != again.params ||
      m.allow != again.allow) {
    Fail("Find not deterministic", target);
  }
  if (m.route != nullptr) {
    // HEAD is served by the GET route.
    const Method expected = method == Method::kHead ? Method::kGet : method;
    if (m.route->method != expected) Fail("method", target);
    if (!m.allow.empty()) Fail("allow with a match", target);
    CheckMatch(m, req.segments);
  } else if (!m.allow.empty()) {
    size_t start = 0;
    while (start < m.allow.size()) {
      size_t end = m.allow.find(", ", start);
      if (end == std::string::npos) end = m.allow.size();
      const Method other = ParseMethod(m.allow.substr(start, end - start));
      Router::Match o = router.Find(other, req.segments);
      if (o.route == nullptr) {
        Fail("allowed method does not match", m.allow);
      }
      start = end + 2;
    }
  }
  CheckQuery(req);
  return 0;
}
