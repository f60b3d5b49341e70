#include "agentry/service/tenancy_service.h"

#include <algorithm>

#include "agentry/common/crypto.h"
#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/service/auth_service.h"

namespace agentry {

namespace {

constexpr size_t kMinConfiguredKeyLength = 24;

Status ValidateName(const std::string& name, size_t max_chars) {
  const size_t len = json::Utf8Length(name);
  if (len == 0 || name.find_first_not_of(" \t") == std::string::npos) {
    return Status::InvalidRequest("name must not be blank", "name");
  }
  if (len > max_chars) {
    return Status::InvalidRequest(
        "name must be at most " + std::to_string(max_chars) + " characters",
        "name");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidRequest("name must not contain control characters",
                                    "name");
    }
  }
  return Status::Ok();
}

}  // namespace

TenancyService::TenancyService(Store& store, AuthService& auth,
                               const Clock& clock)
    : store_(store), auth_(auth), clock_(clock) {}

std::string TenancyService::NewKeyValue() { return "agk_" + RandomAlnum(48); }

ApiKey TenancyService::MakeKey(std::string organization_id, std::string name,
                               std::vector<std::string> scopes,
                               const std::string& plaintext) const {
  ApiKey k;
  k.created_at_ms = clock_.NowMs();
  k.id = NewUuidV7(k.created_at_ms);
  k.organization_id = std::move(organization_id);
  k.name = std::move(name);
  // Generated keys show "agk_" and 8 of their 48 random characters; a
  // configured bootstrap key (possibly short) shows only its first 4.
  k.prefix = plaintext.substr(
      0, plaintext.rfind("agk_", 0) == 0 ? kKeyPrefixLength : 4);
  k.hash_hex = HashSecretHex(plaintext);
  k.scopes = std::move(scopes);
  return k;
}

Result<BootstrapOutcome> TenancyService::Bootstrap(
    const std::optional<std::string>& configured_key) {
  BootstrapOutcome out;
  std::string plaintext;
  if (configured_key) {
    if (configured_key->size() < kMinConfiguredKeyLength) {
      return Status::InvalidRequest(
          "AGENTRY_BOOTSTRAP_ADMIN_KEY must be at least 24 characters",
          "AGENTRY_BOOTSTRAP_ADMIN_KEY");
    }
    plaintext = *configured_key;
  } else {
    plaintext = NewKeyValue();
  }
  Organization org;
  org.created_at_ms = clock_.NowMs();
  org.id = NewUuidV7(org.created_at_ms);
  org.name = "default";
  ApiKey key = MakeKey(org.id, "bootstrap admin", {"*", "admin"}, plaintext);
  AGENTRY_ASSIGN_OR_RETURN(out.created,
                           store_.organizations().Bootstrap(org, key));
  if (out.created) {
    auth_.AddKey(key);
    if (!configured_key) out.generated_key = std::move(plaintext);
  }
  return out;
}

Result<CreatedOrganization> TenancyService::CreateOrganization(
    const Principal& caller, std::string name) {
  AGENTRY_RETURN_IF_ERROR(RequireScope(caller, Scope::kAdmin));
  AGENTRY_RETURN_IF_ERROR(ValidateName(name, 255));
  CreatedOrganization out;
  out.organization.created_at_ms = clock_.NowMs();
  out.organization.id = NewUuidV7(out.organization.created_at_ms);
  out.organization.name = std::move(name);
  out.admin_key.plaintext = NewKeyValue();
  out.admin_key.key = MakeKey(out.organization.id, "organization admin", {"*"},
                              out.admin_key.plaintext);
  out.admin_key.key.created_by = caller.key_id;
  AGENTRY_RETURN_IF_ERROR(
      store_.organizations().Create(out.organization, out.admin_key.key));
  auth_.AddKey(out.admin_key.key);
  return out;
}

Result<CreatedKey> TenancyService::CreateKey(const Principal& caller,
                                             CreateKeyRequest req) {
  AGENTRY_RETURN_IF_ERROR(RequireScope(caller, Scope::kKeysWrite));
  AGENTRY_RETURN_IF_ERROR(ValidateName(req.name, 255));
  AGENTRY_ASSIGN_OR_RETURN(ScopeSet wanted,
                           ScopeSet::Parse(req.scopes, "scopes"));
  // Drop repeated scope names, keeping the first of each.
  std::vector<std::string> unique_scopes;
  for (std::string& s : req.scopes) {
    if (std::find(unique_scopes.begin(), unique_scopes.end(), s) ==
        unique_scopes.end()) {
      unique_scopes.push_back(std::move(s));
    }
  }
  req.scopes = std::move(unique_scopes);
  if (!caller.scopes.Covers(wanted)) {
    return Status::Forbidden(
        "a key cannot grant a scope it lacks (scopes exceed this key's)");
  }
  if (req.agent_ids) {
    for (size_t i = 0; i < req.agent_ids->size(); ++i) {
      std::string& id = (*req.agent_ids)[i];
      if (!IsUuid(id)) {
        return Status::InvalidRequest("agent id must be a UUID",
                                      json::Index("agent_ids", i));
      }
      for (char& c : id) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      }
    }
    std::sort(req.agent_ids->begin(), req.agent_ids->end());
    req.agent_ids->erase(
        std::unique(req.agent_ids->begin(), req.agent_ids->end()),
        req.agent_ids->end());
  }
  if (caller.agent_ids) {
    if (!req.agent_ids) {
      return Status::Forbidden(
          "a key limited to some agents cannot grant access to all agents");
    }
    for (const std::string& id : *req.agent_ids) {
      if (!caller.CanAccessAgent(id)) {
        return Status::Forbidden("a key cannot grant an agent it lacks: " + id);
      }
    }
  }
  const int64_t now = clock_.NowMs();
  if (req.expires_at_ms && *req.expires_at_ms <= now) {
    return Status::InvalidRequest("expires_at must be in the future",
                                  "expires_at");
  }
  CreatedKey out;
  out.plaintext = NewKeyValue();
  out.key = MakeKey(caller.organization_id, std::move(req.name),
                    std::move(req.scopes), out.plaintext);
  out.key.agent_ids = std::move(req.agent_ids);
  out.key.expires_at_ms = req.expires_at_ms;
  out.key.rate_limit = req.rate_limit;
  out.key.created_by = caller.key_id;
  AGENTRY_RETURN_IF_ERROR(store_.api_keys().Create(out.key));
  auth_.AddKey(out.key);
  return out;
}

Result<Page<ApiKey>> TenancyService::ListKeys(const Principal& caller,
                                              const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(RequireScope(caller, Scope::kKeysWrite));
  return store_.api_keys().List(caller.organization_id, page);
}

Status TenancyService::RevokeKey(const Principal& caller,
                                 std::string_view key_id) {
  AGENTRY_RETURN_IF_ERROR(RequireScope(caller, Scope::kKeysWrite));
  const Status not_found =
      Status::NotFound("api key " + std::string(key_id) + " not found");
  if (!IsUuid(key_id)) return not_found;
  auto target = store_.api_keys().Get(caller.organization_id, key_id);
  if (!target.ok()) return target.status();
  if (target->revoked_at_ms) return not_found;
  auto target_scopes = ScopeSet::Parse(target->scopes, "scopes");
  if (target_scopes.ok() && !caller.scopes.Covers(*target_scopes)) {
    return Status::Forbidden(
        "a key cannot revoke a key holding scopes it lacks");
  }
  if (caller.agent_ids) {
    bool covered = target->agent_ids.has_value();
    if (covered) {
      for (const std::string& id : *target->agent_ids) {
        covered = covered && caller.CanAccessAgent(id);
      }
    }
    if (!covered) {
      return Status::Forbidden(
          "a key limited to some agents cannot revoke a key reaching others");
    }
  }
  AGENTRY_RETURN_IF_ERROR(
      store_.api_keys().Revoke(caller.organization_id, key_id, clock_.NowMs()));
  auth_.RemoveKey(key_id);
  return Status::Ok();
}

}  // namespace agentry
