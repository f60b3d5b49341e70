#include "agentry/app/config.h"

#include <toml++/toml.h>

#include <charconv>

#include "agentry/common/log.h"

namespace agentry {

namespace {

// A restart reads up to this many leases beyond the last fold.
constexpr size_t kMaxLeaseFoldEvery = 1000000;

Result<size_t> ParseCount(std::string_view text, std::string_view field,
                          size_t max) {
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v > max) {
    return Status::InvalidRequest(std::string(field) +
                                      " must be an integer from 0 to " +
                                      std::to_string(max),
                                  std::string(field));
  }
  return v;
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Status ApplyToml(const std::string& path, Config* c) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidRequest(
        "cannot read config file " + path + ": " + std::string(e.description()),
        "config");
  }
  static const char* kKnown[] = {
      "listen",          "store",      "redis",
      "threads",         "workers",    "log_level",
      "allow_origins",   "rate_limit", "auth_failure_limit",
      "lease_fold_every"};
  for (const auto& [k, v] : t) {
    bool known = false;
    for (const char* name : kKnown) known = known || k.str() == name;
    if (!known) {
      return Status::InvalidRequest(
          "unknown key \"" + std::string(k.str()) + "\" in " + path,
          std::string(k.str()));
    }
  }
  auto str = [&](const char* key, std::string* out) -> Status {
    if (auto node = t[key]) {
      if (!node.is_string()) {
        return Status::InvalidRequest(std::string(key) + " must be a string",
                                      key);
      }
      *out = node.value<std::string>().value();
    }
    return Status::Ok();
  };
  auto count = [&](const char* key, size_t* out, int64_t max) -> Status {
    if (auto node = t[key]) {
      auto v = node.value<int64_t>();
      if (!node.is_integer() || !v || *v < 0 || *v > max) {
        return Status::InvalidRequest(std::string(key) +
                                          " must be an integer from 0 to " +
                                          std::to_string(max),
                                      key);
      }
      *out = static_cast<size_t>(*v);
    }
    return Status::Ok();
  };
  AGENTRY_RETURN_IF_ERROR(str("listen", &c->listen));
  AGENTRY_RETURN_IF_ERROR(str("store", &c->store));
  AGENTRY_RETURN_IF_ERROR(str("redis", &c->redis));
  AGENTRY_RETURN_IF_ERROR(str("log_level", &c->log_level));
  AGENTRY_RETURN_IF_ERROR(count("threads", &c->threads, 256));
  AGENTRY_RETURN_IF_ERROR(count("workers", &c->workers, 1024));
  AGENTRY_RETURN_IF_ERROR(count("lease_fold_every", &c->lease_fold_every,
                                static_cast<int64_t>(kMaxLeaseFoldEvery)));
  for (auto [key, out] :
       {std::pair{"rate_limit", &c->rate_limit},
        std::pair{"auth_failure_limit", &c->auth_failure_limit}}) {
    std::string text;
    AGENTRY_RETURN_IF_ERROR(str(key, &text));
    if (!text.empty()) {
      AGENTRY_ASSIGN_OR_RETURN(*out, ParseRateLimit(text, key));
    }
  }
  if (auto node = t["allow_origins"]) {
    const toml::array* arr = node.as_array();
    if (!arr) {
      return Status::InvalidRequest("allow_origins must be an array",
                                    "allow_origins");
    }
    c->allow_origins.clear();
    for (const auto& item : *arr) {
      auto s = item.value<std::string>();
      if (!s) {
        return Status::InvalidRequest("allow_origins must hold strings",
                                      "allow_origins");
      }
      c->allow_origins.push_back(*s);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<RateLimit> ParseRateLimit(std::string_view text,
                                 std::string_view field) {
  const Status bad = Status::InvalidRequest(
      std::string(field) +
          " must be PER_SECOND:BURST, e.g. 100:200 (per_second > 0, burst a "
          "whole number >= 1)",
      std::string(field));
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad;
  const std::string rate(text.substr(0, colon));
  double per_second = 0;
  try {
    size_t used = 0;
    per_second = std::stod(rate, &used);
    if (used != rate.size()) return bad;
  } catch (const std::exception&) {
    return bad;
  }
  if (!(per_second > 0) || per_second > 1e12) return bad;
  auto burst = ParseCount(text.substr(colon + 1), field, 1'000'000'000'000);
  if (!burst.ok() || *burst < 1) return bad;
  return RateLimit{per_second, static_cast<int64_t>(*burst)};
}

Status ParseListen(const std::string& listen, std::string* host,
                   uint16_t* port) {
  const Status bad = Status::InvalidRequest(
      "listen must be host:port (e.g. 127.0.0.1:8080 or [::1]:8080)", "listen");
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad;
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  if (h.empty()) return bad;
  auto p =
      ParseCount(std::string_view(listen).substr(colon + 1), "listen", 65535);
  if (!p.ok()) return bad;
  *host = h;
  *port = static_cast<uint16_t>(*p);
  return Status::Ok();
}

Result<Config> ResolveConfig(const ConfigFlags& flags, const EnvLookup& env) {
  Config c;
  // 1. TOML file.
  if (flags.config_file) {
    c.config_file = *flags.config_file;
  } else if (const char* v = env("AGENTRY_CONFIG")) {
    c.config_file = v;
  }
  if (!c.config_file.empty()) {
    AGENTRY_RETURN_IF_ERROR(ApplyToml(c.config_file, &c));
  }
  // 2. Environment.
  if (const char* v = env("AGENTRY_LISTEN")) c.listen = v;
  if (const char* v = env("AGENTRY_STORE")) c.store = v;
  if (const char* v = env("AGENTRY_REDIS")) c.redis = v;
  if (const char* v = env("AGENTRY_LOG_LEVEL")) c.log_level = v;
  if (const char* v = env("AGENTRY_THREADS")) {
    AGENTRY_ASSIGN_OR_RETURN(c.threads, ParseCount(v, "AGENTRY_THREADS", 256));
  }
  if (const char* v = env("AGENTRY_WORKERS")) {
    AGENTRY_ASSIGN_OR_RETURN(c.workers, ParseCount(v, "AGENTRY_WORKERS", 1024));
  }
  if (const char* v = env("AGENTRY_LEASE_FOLD_EVERY")) {
    AGENTRY_ASSIGN_OR_RETURN(
        c.lease_fold_every,
        ParseCount(v, "AGENTRY_LEASE_FOLD_EVERY", kMaxLeaseFoldEvery));
  }
  if (const char* v = env("AGENTRY_ALLOW_ORIGINS")) {
    c.allow_origins = SplitCommas(v);
  }
  if (const char* v = env("AGENTRY_RATE_LIMIT")) {
    AGENTRY_ASSIGN_OR_RETURN(c.rate_limit,
                             ParseRateLimit(v, "AGENTRY_RATE_LIMIT"));
  }
  if (const char* v = env("AGENTRY_AUTH_FAILURE_LIMIT")) {
    AGENTRY_ASSIGN_OR_RETURN(c.auth_failure_limit,
                             ParseRateLimit(v, "AGENTRY_AUTH_FAILURE_LIMIT"));
  }
  // 3. Flags.
  if (flags.listen) c.listen = *flags.listen;
  if (flags.store) c.store = *flags.store;
  if (flags.redis) c.redis = *flags.redis;
  if (flags.threads) c.threads = *flags.threads;
  if (flags.workers) c.workers = *flags.workers;
  if (flags.lease_fold_every) c.lease_fold_every = *flags.lease_fold_every;
  if (flags.log_level) c.log_level = *flags.log_level;
  if (flags.allow_origins) c.allow_origins = *flags.allow_origins;
  if (flags.rate_limit) {
    AGENTRY_ASSIGN_OR_RETURN(c.rate_limit,
                             ParseRateLimit(*flags.rate_limit, "rate-limit"));
  }
  if (flags.auth_failure_limit) {
    AGENTRY_ASSIGN_OR_RETURN(
        c.auth_failure_limit,
        ParseRateLimit(*flags.auth_failure_limit, "auth-failure-limit"));
  }
  // Validate the result.
  std::string host;
  uint16_t port;
  AGENTRY_RETURN_IF_ERROR(ParseListen(c.listen, &host, &port));
  log::Level level;
  if (!log::ParseLevel(c.log_level, &level)) {
    return Status::InvalidRequest(
        "log level must be debug, info, warn, error or off", "log-level");
  }
  if (c.workers == 0) {
    return Status::InvalidRequest("workers must be at least 1", "workers");
  }
  if (c.lease_fold_every == 0 || c.lease_fold_every > kMaxLeaseFoldEvery) {
    return Status::InvalidRequest("lease-fold-every must be from 1 to " +
                                      std::to_string(kMaxLeaseFoldEvery),
                                  "lease-fold-every");
  }
  return c;
}

}  // namespace agentry
