// Helpers shared by the domain's unit tests (not part of any library).
#pragma once

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/json.h"

namespace agentry::testing_util {

// `text` as a strict JSON object; a failed expectation (and {}) otherwise.
inline boost::json::object Parse(std::string_view text) {
  Result<boost::json::object> r = json::ParseStrictObject(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << " in " << text;
  return r.ok() ? *r : boost::json::object();
}

// `normalize(Parse(text))`, which must succeed; the canonical document.
template <class Normalizer>
boost::json::object NormalizeWith(Normalizer normalize, std::string_view text) {
  Result<boost::json::object> r = normalize(Parse(text));
  EXPECT_TRUE(r.ok()) << r.status().ToString() << " for " << text;
  return r.ok() ? *r : boost::json::object();
}

// The member names of `o`, in document order.
inline std::vector<std::string> Keys(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  return keys;
}

inline std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// `n` JSON values produced by `item(i)`, comma separated, inside brackets.
template <class F>
std::string ArrayOf(size_t n, F item) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += item(i);
  }
  return out + "]";
}

}  // namespace agentry::testing_util
