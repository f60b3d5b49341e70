// Organizations (tenants) and API keys: plain values, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agentry {

struct Organization {
  std::string id;    // UUIDv7
  std::string name;  // unique, 1–255 characters
  int64_t created_at_ms = 0;
};

struct RateLimit {
  double per_second = 0;  // sustained tokens per second, > 0
  int64_t burst = 0;      // bucket size, >= 1
};

// An API key as stored: never the key itself, only its hash.
struct ApiKey {
  std::string id;               // UUIDv7
  std::string organization_id;  // owner
  std::string name;
  std::string prefix;    // the first characters of the key, shown in lists
  std::string hash_hex;  // HashSecretHex(whole key)
  std::vector<std::string> scopes;  // as given ("*", "AGENT_API", …)
  // Agents this key may touch; nullopt means every agent of the organization.
  std::optional<std::vector<std::string>> agent_ids;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> revoked_at_ms;
  std::optional<RateLimit> rate_limit;    // nullopt: the server default
  std::optional<std::string> created_by;  // key id that minted it
  int64_t created_at_ms = 0;
};

// The visible part of a generated key ("agk_" + 8 characters), enough to
// recognise it in a list.
inline constexpr size_t kKeyPrefixLength = 12;

}  // namespace agentry
