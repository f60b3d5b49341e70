// A lease of a credential profile (DESIGN §5 "Profiles, pools and leases"):
// who holds which profile, through which pool, until when, under which
// fencing token. Plain values, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace agentry {

struct Lease {
  std::string id;  // UUIDv7
  std::string organization_id;
  std::string pool_id;     // the pool it was acquired through
  std::string profile_id;  // the profile it holds
  bool exclusive = true;   // false: shared (the pool allows concurrent use)
  std::optional<std::string> holder;
  int64_t fencing_token = 0;  // 1, 2, … per profile
  int64_t acquired_at_ms = 0;
  int64_t expires_at_ms = 0;
  std::optional<int64_t> released_at_ms;

  // Holds its profile at `now_ms`: neither released nor expired.
  bool ActiveAt(int64_t now_ms) const {
    return !released_at_ms && expires_at_ms > now_ms;
  }
  // "active", "released" or "expired" at `now_ms`.
  const char* StatusAt(int64_t now_ms) const {
    if (released_at_ms) return "released";
    return expires_at_ms > now_ms ? "active" : "expired";
  }
};

}  // namespace agentry
