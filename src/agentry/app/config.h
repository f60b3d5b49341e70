// Server configuration and its precedence (DESIGN §4):
// flags > environment > TOML file (--config) > defaults.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/domain/tenancy.h"

namespace agentry {

struct Config {
  // host:port to listen on ("[::1]:8080" for IPv6); port 0 picks a free one.
  std::string listen = "127.0.0.1:8080";
  // "sqlite://PATH" or "postgres://…".
  std::string store = "sqlite://./data/agentry.db";
  // "redis://host:port" for global rate limits; empty: per-node limits.
  std::string redis;
  // I/O threads; 0 means one per core.
  size_t threads = 0;
  // Worker threads for requests that touch the store.
  size_t workers = 32;
  // SQLite: grants between two folds of the leases into the profiles'
  // token rows (StoreOptions::lease_fold_every); at least 1.
  size_t lease_fold_every = 2048;
  // debug, info, warn, error or off.
  std::string log_level = "info";
  // Browser origins allowed to call the API (all others get 403).
  std::vector<std::string> allow_origins;
  // A key's token bucket unless the key has its own ("PER_SECOND:BURST").
  RateLimit rate_limit{100, 200};
  // Failed authentications allowed per client address ("PER_SECOND:BURST").
  RateLimit auth_failure_limit{5, 50};
  // The TOML file read, if any.
  std::string config_file;
};

// Values given on the command line; unset means "not given".
struct ConfigFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> store;
  std::optional<std::string> redis;
  std::optional<size_t> threads;
  std::optional<size_t> workers;
  std::optional<size_t> lease_fold_every;
  std::optional<std::string> log_level;
  std::optional<std::vector<std::string>> allow_origins;
  std::optional<std::string> rate_limit;
  std::optional<std::string> auth_failure_limit;
};

// Reads an environment variable; nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;

// Resolves the configuration: defaults, then the TOML file named by
// --config or AGENTRY_CONFIG, then AGENTRY_* variables, then flags.
// kInvalidRequest naming the option for a bad value or an unreadable file.
Result<Config> ResolveConfig(const ConfigFlags& flags, const EnvLookup& env);

// Parses "PER_SECOND:BURST" (e.g. "100:200", "0.5:10"): per_second > 0,
// burst a whole number ≥ 1. kInvalidRequest naming `field`.
Result<RateLimit> ParseRateLimit(std::string_view text, std::string_view field);

// Splits "host:port" / "[v6]:port". kInvalidRequest (field "listen").
Status ParseListen(const std::string& listen, std::string* host,
                   uint16_t* port);

}  // namespace agentry
