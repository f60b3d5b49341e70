// Authentication from an in-memory index of every active API key.
//
// Authenticate() never touches the store: the index is loaded once at start
// (LoadKeys) and kept current by the writers (Add/Remove after their write is
// durable), so revocation takes effect on this node as soon as the revoking
// request has answered; with several nodes, by RefreshKey when another node
// announces a change (and LoadKeys after a lost announcement connection). A
// presented key is hashed (BLAKE2b-256), looked up by its hash, and the stored
// hash is compared in constant time; the key itself is never kept. All methods
// are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/common/string_map.h"
#include "agentry/domain/tenancy.h"
#include "agentry/service/principal.h"

namespace agentry {

class Store;

class AuthService {
 public:
  // `store` and `clock` must outlive the service.
  AuthService(Store& store, const Clock& clock);

  // Replaces the index with every active key in the store. Blocking.
  Status LoadKeys();

  // The principal for `presented_key`. kUnauthorized when the key is empty,
  // unknown, revoked or expired (the message does not say which, so a
  // caller cannot probe). In-memory only.
  Result<std::shared_ptr<const Principal>> Authenticate(
      std::string_view presented_key) const;

  // Adds (or replaces) a key in the index. Call after the key is durable.
  void AddKey(const ApiKey& key);
  // Removes a key from the index. Call after its revocation is durable.
  void RemoveKey(std::string_view key_id);
  // Another node changed the key: reads it from the store and adds it, or
  // removes it when it is revoked or gone. Blocking.
  Status RefreshKey(std::string_view organization_id, std::string_view key_id);

  // Number of keys in the index.
  size_t size() const;

 private:
  struct Entry {
    std::string key_id;
    std::string digest;  // BLAKE2b-256 of the key, 32 raw bytes
    std::optional<int64_t> expires_at_ms;
    std::shared_ptr<const Principal> principal;
  };
  static Result<Entry> MakeEntry(const ApiKey& key);
  void RemoveKeyLocked(std::string_view key_id);  // REQUIRES(mu_) held

  Store& store_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  // A digest's first 8 bytes are uniformly random: they are its bucket
  // hash (hashing the digest again cost as much as the lookup).
  struct DigestHash {
    using is_transparent = void;
    size_t operator()(std::string_view digest) const;
  };
  using ByDigest =
      std::unordered_map<std::string, Entry, DigestHash, std::equal_to<>>;
  // digest of the key -> entry (looked up by string_view). GUARDED_BY(mu_)
  ByDigest by_digest_;
  // key id -> digest. GUARDED_BY(mu_)
  std::unordered_map<std::string, std::string> digest_by_id_;
};

}  // namespace agentry
