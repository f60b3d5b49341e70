// Scopes of an API key (DESIGN §5). A ScopeSet is a bitmask value type.
//
// `*` means every organization scope (not `admin`); `admin` is the platform
// scope (create organizations); `AGENT_API` (Odeus) means agents:read,
// agents:write and agents:publish. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/status.h"

namespace agentry {

enum class Scope : uint32_t {
  kAgentsRead = 1u << 0,
  kAgentsWrite = 1u << 1,
  kAgentsPublish = 1u << 2,
  kToolsRead = 1u << 3,
  kToolsWrite = 1u << 4,
  kProfilesRead = 1u << 5,
  kProfilesWrite = 1u << 6,
  kProfilesSecrets = 1u << 7,
  kPoolsRead = 1u << 8,
  kPoolsWrite = 1u << 9,
  kLeasesWrite = 1u << 10,
  kKeysWrite = 1u << 11,
  kAuditRead = 1u << 12,
  kAdmin = 1u << 13,
};

// The name of one scope, e.g. "agents:read".
std::string_view ScopeName(Scope s);

class ScopeSet {
 public:
  ScopeSet() = default;
  explicit ScopeSet(uint32_t bits) : bits_(bits) {}

  // Every organization scope (what `*` grants).
  static ScopeSet AllOrganization();

  // Parses scope names. Unknown names give InvalidRequest with field
  // "<field>[i]"; an empty list is refused.
  static Result<ScopeSet> Parse(const std::vector<std::string>& names,
                                std::string_view field);

  bool Has(Scope s) const { return (bits_ & static_cast<uint32_t>(s)) != 0; }
  // True when every scope of `other` is in this set (no escalation).
  bool Covers(ScopeSet other) const { return (other.bits_ & ~bits_) == 0; }
  uint32_t bits() const { return bits_; }

 private:
  uint32_t bits_ = 0;
};

}  // namespace agentry
