// Organizations and API keys: bootstrap, creation without escalation,
// listing and revocation (DESIGN §5 "Authentication, organizations, keys").
//
// Every method blocks on the store: call it from a worker thread, never an
// I/O thread. Writes are durable when a method returns ok, and the in-memory
// authentication index is updated before it returns. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/domain/tenancy.h"
#include "agentry/service/principal.h"
#include "agentry/store/store.h"

namespace agentry {

class AuthService;

// A key just created, with its value: the only moment the value exists
// outside the caller's hands. Never log `plaintext`.
struct CreatedKey {
  ApiKey key;
  std::string plaintext;
};

struct CreatedOrganization {
  Organization organization;
  CreatedKey admin_key;
};

struct CreateKeyRequest {
  std::string name;
  std::vector<std::string> scopes;
  std::optional<std::vector<std::string>> agent_ids;
  std::optional<int64_t> expires_at_ms;
  std::optional<RateLimit> rate_limit;
};

struct BootstrapOutcome {
  bool created = false;  // false: the store already had an organization
  // The generated admin key when none was configured (print it once).
  std::optional<std::string> generated_key;
};

class TenancyService {
 public:
  // All references must outlive the service.
  TenancyService(Store& store, AuthService& auth, const Clock& clock);

  // When the store holds no organization, creates "default" and a platform
  // admin key with scopes ["*","admin"] whose value is `configured_key`
  // (kInvalidRequest if shorter than 24 characters) or a generated one.
  Result<BootstrapOutcome> Bootstrap(
      const std::optional<std::string>& configured_key);

  // Needs `admin`. Creates an organization and its first key (scopes ["*"]).
  // kInvalidRequest (field "name") for a bad name; kConflict for a taken one.
  Result<CreatedOrganization> CreateOrganization(const Principal& caller,
                                                 std::string name);

  // Needs `keys:write`. kForbidden when the request would grant a scope or an
  // agent the caller lacks; kInvalidRequest naming the field otherwise.
  Result<CreatedKey> CreateKey(const Principal& caller, CreateKeyRequest req);

  // Needs `keys:write`. The caller's organization's active keys.
  Result<Page<ApiKey>> ListKeys(const Principal& caller,
                                const PageRequest& page);

  // Needs `keys:write`. kNotFound when absent, revoked or another
  // organization's; kForbidden when the target holds scopes the caller lacks.
  Status RevokeKey(const Principal& caller, std::string_view key_id);

  // A new key value: "agk_" followed by 48 random [0-9A-Za-z] characters.
  static std::string NewKeyValue();

 private:
  ApiKey MakeKey(std::string organization_id, std::string name,
                 std::vector<std::string> scopes,
                 const std::string& plaintext) const;

  Store& store_;
  AuthService& auth_;
  const Clock& clock_;
};

}  // namespace agentry
