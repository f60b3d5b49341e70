#include "agentry/service/auth_service.h"

#include <algorithm>
#include <cstring>
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

size_t AuthService::DigestHash::operator()(std::string_view digest) const {
  size_t h = 0;
  std::memcpy(&h, digest.data(), std::min(sizeof(h), digest.size()));
  return h;
}

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
  std::optional<std::string> digest = HexDecode(key.hash_hex);
  if (!digest || digest->size() != 32) {
    return Status::Internal("API key " + key.id + " has a malformed hash");
  }
  return Entry{key.id, std::move(*digest), key.expires_at_ms, std::move(p)};
}

Status AuthService::LoadKeys() {
  AGENTRY_ASSIGN_OR_RETURN(std::vector<ApiKey> keys,
                           store_.api_keys().ListActive());
  ByDigest by_digest;
  std::unordered_map<std::string, std::string> digest_by_id;
  for (const ApiKey& k : keys) {
    auto entry = MakeEntry(k);
    if (!entry.ok()) continue;  // a key with scopes this build lacks
    digest_by_id[k.id] = entry->digest;
    by_digest[entry->digest] = std::move(entry).value();
  }
  std::unique_lock lock(mu_);
  by_digest_ = std::move(by_digest);
  digest_by_id_ = std::move(digest_by_id);
  return Status::Ok();
}

Result<std::shared_ptr<const Principal>> AuthService::Authenticate(
    std::string_view presented) const {
  static const Status kRefused =
      Status::Unauthorized("missing, unknown, revoked or expired API key");
  if (presented.empty() || presented.size() > 512) return kRefused;
  unsigned char raw[32];
  HashSecretInto(presented, raw);
  const std::string_view digest(reinterpret_cast<const char*>(raw),
                                sizeof(raw));
  std::shared_lock lock(mu_);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return kRefused;
  const Entry& e = it->second;
  if (!ConstantTimeEqual(e.digest, digest)) return kRefused;
  if (e.expires_at_ms && *e.expires_at_ms <= clock_.NowMs()) return kRefused;
  return e.principal;
}

void AuthService::AddKey(const ApiKey& key) {
  if (key.revoked_at_ms) return;
  auto entry = MakeEntry(key);
  if (!entry.ok()) return;
  std::unique_lock lock(mu_);
  RemoveKeyLocked(key.id);  // its hash may have changed
  digest_by_id_[key.id] = entry->digest;
  by_digest_[entry->digest] = std::move(entry).value();
}

void AuthService::RemoveKey(std::string_view key_id) {
  std::unique_lock lock(mu_);
  RemoveKeyLocked(key_id);
}

void AuthService::RemoveKeyLocked(std::string_view key_id) {
  auto it = digest_by_id_.find(std::string(key_id));
  if (it == digest_by_id_.end()) return;
  by_digest_.erase(it->second);
  digest_by_id_.erase(it);
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
  return digest_by_id_.size();
}

}  // namespace agentry
