// Who is calling: the authenticated key, its organization, scopes and grants.
// Immutable once built; shared between threads by shared_ptr<const>.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/domain/scope.h"
#include "agentry/domain/tenancy.h"

namespace agentry {

struct Principal {
  std::string organization_id;
  std::string key_id;
  ScopeSet scopes;
  // The agents this key may touch (sorted); nullopt means all of them.
  std::optional<std::vector<std::string>> agent_ids;
  // The key's own rate limit; nullopt: the server's default.
  std::optional<RateLimit> rate_limit;

  bool Has(Scope s) const { return scopes.Has(s); }
  bool CanAccessAgent(std::string_view agent_id) const {
    if (!agent_ids) return true;
    return std::binary_search(agent_ids->begin(), agent_ids->end(), agent_id);
  }
};

// Ok when `p` holds `s`; otherwise Forbidden naming the scope.
Status RequireScope(const Principal& p, Scope s);

}  // namespace agentry
