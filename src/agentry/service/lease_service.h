// Credential profiles, pools and leases (DESIGN §5 "Profiles, pools and
// leases"): the hot write path.
//
// Decisions are made in memory, in arrival order, under one lock: which
// profile a lease gets (LRU/MRU, ties by id), the readers-writer rule per
// profile across pools, fencing tokens (+1 per grant of a profile),
// expiry judged by the clock at decision time (no sweeper). Each decision is
// submitted to the store's group-commit writer while still under the lock,
// so the store commits them in decision order, and many concurrent
// acquisitions share one fsync. An acquisition is answered only once its
// grant is durable; a grant that fails to commit is undone. A release is
// written before any grant it makes possible, so a crash can never leave two
// acknowledged exclusive leases of one profile. At start, Load() rebuilds
// the memory from the store.
//
// Waiting (`wait_seconds`) holds no thread: the waiter's callback is kept
// with its pool and called when a profile frees (release, expiry — a timer
// fires at the next expiry — a new member, an enabled profile), in order of
// arrival across the pools that share the profile, or at its deadline with
// kNoProfileAvailable.
//
// Several nodes (a shared store, DESIGN §7): the grants are decided in the
// database instead (LeaseStore::Decide: row locks, fencing tokens from the
// profile rows), as are renewals and releases; the memory keeps only the
// pools, profiles and members — current through OnStoreChange — and the
// waiting acquisitions, which try again when any node releases a lease of
// the organization (an announced kLeaseFreed), when a profile or pool
// changes, at the earliest expiry the database reported, and at least once
// a second. Waiters of one pool are served one decision at a time, in
// arrival order.
//
// Profiles are stored with credentials[].data and cookies[].value sealed
// under the master key; answers carry them opened only for keys with
// profiles:secrets, and only in lease answers.
//
// Profiles, pools and GetLease block on the store: run them on a worker,
// not an I/O thread. Acquire, Renew and Release never block (a lease no
// longer in memory is looked up on the service's timer thread), so they may
// run on an I/O thread. Callbacks (`Answer`, `Done`) run on a store or timer
// thread: keep them short. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "agentry/common/clock.h"
#include "agentry/common/crypto.h"
#include "agentry/common/status.h"
#include "agentry/common/string_map.h"
#include "agentry/common/timer_queue.h"
#include "agentry/domain/lease.h"
#include "agentry/domain/profile.h"
#include "agentry/service/principal.h"
#include "agentry/store/store.h"

namespace agentry {

// One item of a list answered from memory: its id (for the cursor) and its
// serialised answer.
struct ListedItem {
  std::string id;
  std::string json;
};

// A pool as answered: its configuration and how many members it has.
struct PoolView {
  Pool pool;
  size_t profile_count = 0;
};

class LeaseService {
 public:
  // A lease answer (serialised JSON), or the error.
  using Answer = std::function<void(Result<std::string>)>;
  using Done = std::function<void(Status)>;

  // `store` and `clock` must outlive the service; `box` seals secrets.
  LeaseService(Store& store, const Clock& clock, SecretBox box);
  // Shutdown().
  ~LeaseService();

  // Rebuilds the memory from the store. Call once, before serving.
  Status Load();
  // Answers every waiting acquisition with kUnavailable and stops the
  // timers. Idempotent.
  void Shutdown();

  // ---- several nodes ----
  // Another node changed a profile or a pool (reloads the organization's
  // pools, profiles and members; blocking) or released a lease (waiting
  // acquisitions try again). Other kinds are ignored.
  void OnStoreChange(const StoreChange& change);
  // Announcements may have been missed: once `listening` again, reloads
  // everything and lets every waiting acquisition try again.
  void OnStoreReset(bool listening);

  // ---- profiles ----
  Result<Profile> CreateProfile(const Principal& caller,
                                const boost::json::object& body);
  Result<Profile> GetProfile(const Principal& caller, std::string_view id);
  Result<Page<Profile>> ListProfiles(const Principal& caller,
                                     const PageRequest& page);
  // JSON Merge Patch on the profile's (opened) configuration; arrays are
  // replaced when present, so omitting credentials keeps them.
  Result<Profile> PatchProfile(const Principal& caller, std::string_view id,
                               const boost::json::object& patch,
                               std::string_view if_match);
  // kConflict while the profile has an active lease.
  Status DeleteProfile(const Principal& caller, std::string_view id,
                       std::string_view if_match);
  // {id, name, …, created_at, updated_at} without any secret.
  static std::string SerializeProfile(const Profile& profile);
  static std::string Etag(int64_t created_at_ms, int64_t revision);

  // ---- pools ----
  Result<PoolView> CreatePool(const Principal& caller,
                              const boost::json::object& body);
  Result<PoolView> GetPool(const Principal& caller, std::string_view id);
  Result<Page<PoolView>> ListPools(const Principal& caller,
                                   const PageRequest& page);
  // A search by name with an order and an offset, and the number of
  // matches (PoolStore::Query).
  struct PoolQueryPage {
    std::vector<PoolView> items;
    int64_t total = 0;
  };
  Result<PoolQueryPage> QueryPools(const Principal& caller,
                                   const PoolQuery& query);
  Result<PoolView> PatchPool(const Principal& caller, std::string_view id,
                             const boost::json::object& patch,
                             std::string_view if_match);
  // Waiting acquisitions on the pool get kNotFound; its leases stay.
  Status DeletePool(const Principal& caller, std::string_view id,
                    std::string_view if_match);
  static std::string SerializePool(const PoolView& pool);

  // Adds profiles (all of the caller's organization, else kNotFound and
  // nothing added). Returns {added, profile_count}.
  Result<std::pair<size_t, size_t>> AddMembers(
      const Principal& caller, std::string_view pool_id,
      const std::vector<std::string>& profile_ids);
  // Removes the members among `profile_ids` (others are ignored). Returns
  // {removed, profile_count}.
  Result<std::pair<size_t, size_t>> RemoveMembers(
      const Principal& caller, std::string_view pool_id,
      const std::vector<std::string>& profile_ids);
  // The members as profile answers, by id.
  Result<Page<ListedItem>> ListMembers(const Principal& caller,
                                       std::string_view pool_id,
                                       const PageRequest& page);

  // ---- leases ----
  // Never blocks. `done` gets the lease answer once the grant is durable,
  // kNoProfileAvailable (with the seconds until the earliest blocking lease
  // expires) when none frees within request.wait_seconds, kNotFound for an
  // unknown pool.
  void Acquire(const Principal& caller, std::string_view pool_id,
               const AcquireRequest& request, Answer done);
  // kConflict when the lease is released, expired or the token differs.
  void Renew(const Principal& caller, std::string_view lease_id,
             const RenewRequest& request, Answer done);
  // Idempotent: ok for a lease already released or expired.
  void Release(const Principal& caller, std::string_view lease_id, Done done);
  Result<std::string> GetLease(const Principal& caller,
                               std::string_view lease_id);
  // The pool's active leases, by id.
  Result<Page<ListedItem>> ListPoolLeases(const Principal& caller,
                                          std::string_view pool_id,
                                          const PageRequest& page);

 private:
  struct Waiter {
    uint64_t seq = 0;
    int64_t deadline_ms = 0;
    AcquireRequest request;
    bool with_secrets = false;
    std::string key_id;
    Answer done;
  };
  struct ProfileState {
    std::string_view id;  // the key of its node in OrgState::profiles
    std::shared_ptr<const Profile> profile;   // sealed configuration
    std::shared_ptr<const std::string> json;  // SerializeProfile, once
    // The profile as answered to profiles:secrets holders, made on the
    // first such answer of this revision (mu_ held); wiped when dropped.
    mutable std::shared_ptr<const std::string> secret_json;
    bool enabled = true;
    int64_t token = 0;
    std::optional<int64_t> last_start_ms;
    // Orders grants made within one millisecond (0: none since start).
    uint64_t last_grant_seq = 0;
    std::optional<std::string> exclusive;  // lease id
    std::set<std::string> shared;          // lease ids
    std::set<std::string> pools;
  };
  // A member's place in its pools' use order: least recently granted
  // first (never granted first of all), ties by id.
  struct UseKey {
    int64_t last_start_ms;
    uint64_t grant_seq;
    std::string_view id;
    ProfileState* profile;
    bool operator<(const UseKey& o) const {
      return std::tie(last_start_ms, grant_seq, id) <
             std::tie(o.last_start_ms, o.grant_seq, o.id);
    }
  };
  static UseKey KeyOf(ProfileState& p);
  struct PoolState {
    Pool pool;
    bool exclusive = true;
    bool lru = true;
    int default_ttl_s = 300;
    std::set<std::string> members;
    // The same members in use order: Pick walks it from the end the
    // strategy prefers (ProfileState nodes are stable: node-based map).
    std::set<UseKey> by_use;
    std::deque<Waiter> waiters;
    TimerQueue::Id timer = 0;
    int64_t timer_at_ms = 0;
    // Shared store: a waiter's decision is in flight; when the last one
    // found nothing free, the database's earliest expiry.
    bool deciding = false;
    int64_t retry_at_ms = 0;
  };
  struct OrgState {
    StringMap<ProfileState> profiles;
    StringMap<PoolState> pools;
  };
  // A callback to run once the lock is released.
  using Deferred = std::vector<std::function<void()>>;

  // All below: mu_ held.
  OrgState* Org(std::string_view organization_id);
  // The organization's state of profile `id`, made empty when new.
  static ProfileState& ProfileOf(OrgState& org, const std::string& id);
  // Membership, in both of the pool's orders and the profile's pools.
  static void Join(PoolState& pool, ProfileState& p);
  static void Leave(PoolState& pool, ProfileState& p);
  PoolState* FindPool(std::string_view organization_id, std::string_view id);
  // Drops expired leases of `p`; true when it can be leased in `exclusive`
  // mode at `now_ms`.
  bool Free(ProfileState& p, bool exclusive, int64_t now_ms);
  ProfileState* Pick(PoolState& pool, int64_t now_ms);
  // Grants `p` through `pool`, submits the write and arranges `done`.
  void Grant(OrgState& org, PoolState& pool, ProfileState& p,
             const AcquireRequest& request, bool with_secrets,
             const std::string& key_id, int64_t now_ms, Answer done);
  // Serves waiters of `pools` (in arrival order) while profiles are free;
  // answers those whose deadline passed; re-arms the pools' timers.
  void Serve(OrgState& org, const std::set<std::string>& pools, int64_t now_ms,
             Deferred& later);
  void Arm(PoolState& pool, int64_t now_ms);
  // Seconds until the earliest lease blocking `pool` expires (≥ 1).
  int RetryAfter(PoolState& pool, int64_t now_ms);
  void OnTimer(const std::string& organization_id, const std::string& pool_id);
  void Undo(const std::string& lease_id);
  // Runs `fn` on the timer thread (here, after Shutdown).
  void OffThread(std::function<void()> fn);
  std::string LeaseJson(const Lease& lease, const ProfileState* p,
                        bool with_secrets, int64_t now_ms) const;
  // The profile as a lease answer carries it: SerializeProfile, or with
  // its secrets opened (when they do not open: logged, without them).
  std::string ProfileJson(const Profile& profile, bool with_secrets) const;
  // `profile_json`: ProfileJson(*profile, with_secrets) when already made,
  // or null.
  std::string LeaseJsonOf(const Lease& lease, const Profile* profile,
                          const std::string* profile_json, bool with_secrets,
                          int64_t now_ms) const;
  // Replaces the memory of `organization_id` (every organization when
  // nullopt) with `snapshot`, keeping the waiters of pools that remain.
  void Rebuild(LeaseSnapshot snapshot,
               const std::optional<std::string>& organization_id,
               Deferred& later);

  // ---- shared store: decisions in the database ----
  // Reloads one organization from the store. Blocking.
  Status ReloadOrganization(const std::string& organization_id);
  // mu_ held: decides `w` through `pool` (the store call runs from `later`).
  void DecideShared(PoolState& pool, Waiter w, bool is_waiting,
                    Deferred& later);
  // mu_ held: the next waiter of `pool`, unless a decision is in flight.
  void ServeShared(PoolState& pool, int64_t now_ms, Deferred& later);
  void AcquireShared(const Principal& caller, std::string pool_id,
                     const AcquireRequest& request, Answer done, bool reloaded);
  void RenewShared(const Principal& caller, std::string_view lease_id,
                   const RenewRequest& request, Answer done);
  void ReleaseShared(const Principal& caller, std::string_view lease_id,
                     Done done);
  // mu_ held: lets every waiting acquisition of the organization try again.
  void WakeOrganization(const std::string& organization_id, Deferred& later);
  void InstallProfile(const Profile& profile);
  void InstallPool(const Pool& pool);
  PoolView ViewOf(const Pool& pool);

  Store& store_;
  const bool shared_;  // store_.shared(): decisions in the database
  const Clock& clock_;
  const SecretBox box_;
  TimerQueue timers_;

  std::mutex mu_;
  StringMap<OrgState> orgs_;  // GUARDED_BY(mu_)
  // Leases not known to be released, by id (expired ones linger until
  // noticed). GUARDED_BY(mu_)
  StringMap<Lease> leases_;
  uint64_t next_seq_ = 1;   // GUARDED_BY(mu_)
  uint64_t grant_seq_ = 0;  // GUARDED_BY(mu_)
  bool stopped_ = false;    // GUARDED_BY(mu_)
};

}  // namespace agentry
