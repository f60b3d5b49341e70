#include "agentry/service/auth_service.h"

#include <algorithm>
#include <mutex>

#include "agentry/common/crypto.h"
#include "agentry/store/store.h"

namespace agentry {

Status RequireScope(const Principal& p, Scope s) {
  if (p.Has(s)) return Status::Ok();
  return Status::Forbidden("this key lacks the scope \"" +
                           std::string(ScopeName(s)) + "\"");
}

AuthService::AuthService(Store& store, const Clock& clock)
    : store_(store), clock_(clock) {}

Result<AuthService::Entry> AuthService::MakeEntry(const ApiKey& key) {
  AGENTRY_ASSIGN_OR_RETURN(ScopeSet scopes,
                           ScopeSet::Parse(key.scopes, "scopes"));
  auto p = std::make_shared<Principal>();
  p->organization_id = key.organization_id;
  p->key_id = key.id;
  p->scopes = scopes;
  p->rate_limit = key.rate_limit;
  if (key.agent_ids) {
    std::vector<std::string> ids = *key.agent_ids;
    std::sort(ids.begin(), ids.end());
    p->agent_ids = std::move(ids);
  }
  return Entry{key.id, key.hash_hex, key.expires_at_ms, std::move(p)};
}

Status AuthService::LoadKeys() {
  AGENTRY_ASSIGN_OR_RETURN(std::vector<ApiKey> keys,
                           store_.api_keys().ListActive());
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> by_hash;
  std::unordered_map<std::string, std::string> hash_by_id;
  for (const ApiKey& k : keys) {
    auto entry = MakeEntry(k);
    if (!entry.ok()) continue;  // a key with scopes this build lacks
    hash_by_id[k.id] = k.hash_hex;
    by_hash[k.hash_hex] = std::move(entry).value();
  }
  std::unique_lock lock(mu_);
  by_hash_ = std::move(by_hash);
  hash_by_id_ = std::move(hash_by_id);
  return Status::Ok();
}

Result<std::shared_ptr<const Principal>> AuthService::Authenticate(
    std::string_view presented) const {
  static const Status kRefused =
      Status::Unauthorized("missing, unknown, revoked or expired API key");
  if (presented.empty() || presented.size() > 512) return kRefused;
  char hex[64];
  HashSecretHexInto(presented, hex);
  const std::string_view hash(hex, sizeof(hex));
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return kRefused;
  const Entry& e = it->second;
  if (!ConstantTimeEqual(e.hash_hex, hash)) return kRefused;
  if (e.expires_at_ms && *e.expires_at_ms <= clock_.NowMs()) return kRefused;
  return e.principal;
}

void AuthService::AddKey(const ApiKey& key) {
  if (key.revoked_at_ms) return;
  auto entry = MakeEntry(key);
  if (!entry.ok()) return;
  std::unique_lock lock(mu_);
  by_hash_[key.hash_hex] = std::move(entry).value();
  hash_by_id_[key.id] = key.hash_hex;
}

void AuthService::RemoveKey(std::string_view key_id) {
  std::unique_lock lock(mu_);
  auto it = hash_by_id_.find(std::string(key_id));
  if (it == hash_by_id_.end()) return;
  by_hash_.erase(it->second);
  hash_by_id_.erase(it);
}

Status AuthService::RefreshKey(std::string_view organization_id,
                               std::string_view key_id) {
  auto key = store_.api_keys().Get(organization_id, key_id);
  if (key.ok() && !key->revoked_at_ms) {
    AddKey(*key);
    return Status::Ok();
  }
  // Revoked or gone, or unreadable: refuse it here until it reads back.
  RemoveKey(key_id);
  if (!key.ok() && key.status().code() != ErrorCode::kNotFound) {
    return key.status();
  }
  return Status::Ok();
}

size_t AuthService::size() const {
  std::shared_lock lock(mu_);
  return hash_by_id_.size();
}

}  // namespace agentry
