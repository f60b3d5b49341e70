#include "agentry/domain/scope.h"

#include <array>
#include <utility>

namespace agentry {

namespace {

constexpr std::array<std::pair<std::string_view, Scope>, 14> kScopes = {{
    {"agents:read", Scope::kAgentsRead},
    {"agents:write", Scope::kAgentsWrite},
    {"agents:publish", Scope::kAgentsPublish},
    {"tools:read", Scope::kToolsRead},
    {"tools:write", Scope::kToolsWrite},
    {"profiles:read", Scope::kProfilesRead},
    {"profiles:write", Scope::kProfilesWrite},
    {"profiles:secrets", Scope::kProfilesSecrets},
    {"pools:read", Scope::kPoolsRead},
    {"pools:write", Scope::kPoolsWrite},
    {"leases:write", Scope::kLeasesWrite},
    {"keys:write", Scope::kKeysWrite},
    {"audit:read", Scope::kAuditRead},
    {"admin", Scope::kAdmin},
}};

}  // namespace

std::string_view ScopeName(Scope s) {
  for (const auto& [name, scope] : kScopes) {
    if (scope == s) return name;
  }
  return "unknown";
}

ScopeSet ScopeSet::AllOrganization() {
  uint32_t bits = 0;
  for (const auto& [name, scope] : kScopes) {
    if (scope != Scope::kAdmin) bits |= static_cast<uint32_t>(scope);
  }
  return ScopeSet(bits);
}

Result<ScopeSet> ScopeSet::Parse(const std::vector<std::string>& names,
                                 std::string_view field) {
  if (names.empty()) {
    return Status::InvalidRequest("at least one scope is required",
                                  std::string(field));
  }
  uint32_t bits = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (n == "*") {
      bits |= AllOrganization().bits();
      continue;
    }
    if (n == "AGENT_API") {
      bits |= static_cast<uint32_t>(Scope::kAgentsRead) |
              static_cast<uint32_t>(Scope::kAgentsWrite) |
              static_cast<uint32_t>(Scope::kAgentsPublish);
      continue;
    }
    bool found = false;
    for (const auto& [name, scope] : kScopes) {
      if (name == n) {
        bits |= static_cast<uint32_t>(scope);
        found = true;
        break;
      }
    }
    if (!found) {
      return Status::InvalidRequest(
          "unknown scope \"" + n + "\"",
          std::string(field) + "[" + std::to_string(i) + "]");
    }
  }
  return ScopeSet(bits);
}

}  // namespace agentry
