// The abstract store: one small interface per aggregate, and OpenStore(url)
// to pick a backend ("sqlite://PATH" or "postgres://…").
//
// Every call blocks until done, so callers must not run it on an I/O thread
// (the HTTP layer offloads to a worker pool). A write returns ok only once it
// is durable (committed with the store's full sync). A write that fails
// changes nothing. All implementations are thread-safe.
//
// Failure codes common to every call: kUnavailable when the database cannot
// be reached or is closing, kInternal for unexpected database errors. Each
// method lists its own expected failures.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/domain/agent.h"
#include "agentry/domain/instruction.h"
#include "agentry/domain/lease.h"
#include "agentry/domain/profile.h"
#include "agentry/domain/tenancy.h"
#include "agentry/domain/tool.h"

namespace agentry {

class Histogram;

// Keyset pagination: items ordered by id ascending, starting after `after_id`.
struct PageRequest {
  std::optional<std::string> after_id;  // exclusive lower bound
  size_t limit = 50;                    // 1–200
};

template <class T>
struct Page {
  std::vector<T> items;
  bool has_more = false;  // another page follows the last item
};

class OrganizationStore {
 public:
  virtual ~OrganizationStore() = default;

  // Creates `org` and its first key in one transaction if, and only if, the
  // store holds no organization at all. Returns whether it created them
  // (false: some organization already existed; nothing written). Safe when
  // several nodes start at once.
  virtual Result<bool> Bootstrap(const Organization& org,
                                 const ApiKey& admin_key) = 0;

  // Creates `org` and its first key in one transaction.
  // kConflict (field "name") when the name is taken.
  virtual Status Create(const Organization& org, const ApiKey& admin_key) = 0;

  // kNotFound when absent.
  virtual Result<Organization> Get(std::string_view id) = 0;
};

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;

  // kConflict when the id or the hash already exists.
  virtual Status Create(const ApiKey& key) = 0;

  // Every key of every organization that is not revoked (expired ones
  // included): what the in-memory authentication index is built from.
  virtual Result<std::vector<ApiKey>> ListActive() = 0;

  // The organization's keys that are not revoked, by id ascending.
  virtual Result<Page<ApiKey>> List(std::string_view organization_id,
                                    const PageRequest& page) = 0;

  // One key of the organization, revoked or not. kNotFound when absent or
  // owned by another organization.
  virtual Result<ApiKey> Get(std::string_view organization_id,
                             std::string_view id) = 0;

  // Marks the key revoked at `at_ms`. kNotFound when absent, already
  // revoked, or owned by another organization.
  virtual Status Revoke(std::string_view organization_id, std::string_view id,
                        int64_t at_ms) = 0;
};

struct AgentListFilter {
  // Case-insensitive substring of the current name; empty: no filter.
  std::string name_contains;
  // Current `enabled` must equal this; nullopt: no filter.
  std::optional<bool> enabled;
  // Only these agent ids (a key limited by agent_ids); nullopt: all.
  std::optional<std::vector<std::string>> only_ids;
};

// Summary of a published version, for listing.
struct AgentVersionSummary {
  int version = 0;
  std::string note;
  int64_t published_at_ms = 0;
  std::string published_by;
};

// Agents and their immutable versions. Every mutation takes
// `expected_revision`: when set and different from the stored revision the
// call fails with kPreconditionFailed and changes nothing (If-Match, and
// read-modify-write without lost updates). Mutations return the new head.
// Lookups take `id_or_key`: a UUID is matched against ids, anything else
// against keys. Another organization's agents are kNotFound everywhere.
class AgentStore {
 public:
  virtual ~AgentStore() = default;

  // Inserts a new head (revision, draft_revision 1; never published). When
  // `grant_to_key_id` is set, the new agent's id is appended to that key's
  // agent_ids in the same transaction (an agent created by a key limited to
  // some agents is granted to it). kConflict (field "key") when the key is
  // taken in the organization.
  virtual Status Create(const AgentRecord& agent,
                        const std::optional<std::string>& grant_to_key_id) = 0;

  // kNotFound when absent.
  virtual Result<AgentRecord> Get(std::string_view organization_id,
                                  std::string_view id_or_key) = 0;

  // The organization's agents matching `filter`, by id ascending.
  virtual Result<Page<AgentRecord>> List(std::string_view organization_id,
                                         const AgentListFilter& filter,
                                         const PageRequest& page) = 0;

  // Replaces the draft: revision and draft_revision grow by one;
  // current_name/current_enabled are replaced by the given values. Every
  // mutation below sets updated_at = at_ms.
  virtual Result<AgentRecord> UpdateDraft(
      std::string_view organization_id, std::string_view agent_id,
      std::optional<int64_t> expected_revision,
      const boost::json::object& draft, const std::string& current_name,
      bool current_enabled, int64_t at_ms) = 0;

  // Publishes the current draft as version latest_version + 1 and makes it
  // active (published_draft_revision = draft_revision, revision + 1,
  // current_* from the draft). `config` is what to store as the version
  // (the draft with references pinned). Returns the version.
  virtual Result<AgentVersion> Publish(std::string_view organization_id,
                                       std::string_view agent_id,
                                       std::optional<int64_t> expected_revision,
                                       const boost::json::object& config,
                                       const std::string& note,
                                       const std::string& published_by,
                                       int64_t at_ms) = 0;

  // Makes `version` the active one (revision + 1, current_* from it).
  // kNotFound when the version does not exist.
  virtual Result<AgentRecord> Activate(std::string_view organization_id,
                                       std::string_view agent_id, int version,
                                       std::optional<int64_t> expected_revision,
                                       const std::string& activated_by,
                                       int64_t at_ms) = 0;

  // Deletes the agent and all its versions.
  virtual Status Delete(std::string_view organization_id,
                        std::string_view agent_id,
                        std::optional<int64_t> expected_revision) = 0;

  // kNotFound when the agent or the version does not exist.
  virtual Result<AgentVersion> GetVersion(std::string_view organization_id,
                                          std::string_view agent_id,
                                          int version) = 0;

  // Versions newest first, starting below `before_version` (nullopt: from
  // the newest); at most `limit` (1–200).
  virtual Result<Page<AgentVersionSummary>> ListVersions(
      std::string_view organization_id, std::string_view agent_id,
      std::optional<int> before_version, size_t limit) = 0;
};

// The tool registry. Another organization's tools are kNotFound everywhere.
class ToolStore {
 public:
  virtual ~ToolStore() = default;

  // Inserts a tool (revision 1). kConflict (field "id") when the id is taken
  // in the organization.
  virtual Status Create(const Tool& tool) = 0;

  // kNotFound when absent.
  virtual Result<Tool> Get(std::string_view organization_id,
                           std::string_view id) = 0;

  // The organization's tools by id ascending (byte order).
  virtual Result<Page<Tool>> List(std::string_view organization_id,
                                  const PageRequest& page) = 0;

  // Replaces the configuration: revision + 1, updated_at = at_ms.
  // kPreconditionFailed when `expected_revision` is set and differs.
  virtual Result<Tool> Update(std::string_view organization_id,
                              std::string_view id,
                              std::optional<int64_t> expected_revision,
                              const boost::json::object& config,
                              int64_t at_ms) = 0;

  // kPreconditionFailed as Update; kNotFound when absent.
  virtual Status Delete(std::string_view organization_id, std::string_view id,
                        std::optional<int64_t> expected_revision) = 0;
};

// Instructions and their immutable versions. Another organization's
// instructions are kNotFound everywhere.
class InstructionStore {
 public:
  virtual ~InstructionStore() = default;

  // Inserts an instruction with `first` as its version 1 (whatever
  // first.version holds). kConflict (field "id") when the id is taken in the
  // organization.
  virtual Status Create(const Instruction& first) = 0;

  // Version `version`, or the latest when nullopt. kNotFound when the
  // instruction or the version does not exist.
  virtual Result<Instruction> Get(std::string_view organization_id,
                                  std::string_view id,
                                  std::optional<int> version) = 0;

  // The organization's instructions (each at its latest version) by id
  // ascending (byte order).
  virtual Result<Page<Instruction>> List(std::string_view organization_id,
                                         const PageRequest& page) = 0;

  // Versions newest first, starting below `before_version` (nullopt: from
  // the newest); at most `limit` (1–200). kNotFound when the instruction
  // does not exist.
  virtual Result<Page<Instruction>> ListVersions(
      std::string_view organization_id, std::string_view id,
      std::optional<int> before_version, size_t limit) = 0;

  // Appends version latest + 1 holding `config`, made at `at_ms` by key
  // `created_by`, and returns it. kPreconditionFailed when the latest
  // version is not `expected_latest`; kNotFound when absent.
  virtual Result<Instruction> AddVersion(std::string_view organization_id,
                                         std::string_view id,
                                         int expected_latest,
                                         const boost::json::object& config,
                                         int64_t at_ms,
                                         const std::string& created_by) = 0;
};

// Credential profiles. `config` is stored as given: the service seals the
// secrets before it gets here. Another organization's profiles are
// kNotFound everywhere.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Inserts a profile (revision 1, never leased). kConflict when the id is
  // taken.
  virtual Status Create(const Profile& profile) = 0;
  virtual Result<Profile> Get(std::string_view organization_id,
                              std::string_view id) = 0;
  // By id ascending.
  virtual Result<Page<Profile>> List(std::string_view organization_id,
                                     const PageRequest& page) = 0;
  // Replaces the configuration: revision + 1, updated_at = at_ms.
  // kPreconditionFailed when `expected_revision` is set and differs.
  virtual Result<Profile> Update(std::string_view organization_id,
                                 std::string_view id,
                                 std::optional<int64_t> expected_revision,
                                 const boost::json::object& config,
                                 int64_t at_ms) = 0;
  // Deletes the profile and its pool memberships (not its leases).
  virtual Status Delete(std::string_view organization_id, std::string_view id,
                        std::optional<int64_t> expected_revision) = 0;
};

// A search of an organization's pools: a page by offset, in a chosen order,
// with the number of matches in all (the Asteroid surface's list).
struct PoolQuery {
  enum class Sort { kName, kCreatedAt, kUpdatedAt };
  // Case-insensitive (ASCII) substring of the name; "" matches every pool.
  std::string name_contains;
  Sort sort = Sort::kCreatedAt;
  bool descending = true;  // ties broken by id, in the same direction
  int64_t offset = 0;      // ≥ 0
  size_t limit = 50;       // 1–200
};

struct PoolQueryResult {
  std::vector<Pool> items;
  int64_t total = 0;  // every match, whatever the offset and limit
};

// Pools of profiles and their members. Another organization's pools are
// kNotFound everywhere.
class PoolStore {
 public:
  virtual ~PoolStore() = default;

  // kConflict (field "name") when the organization has a pool of that name.
  virtual Status Create(const Pool& pool) = 0;
  virtual Result<Pool> Get(std::string_view organization_id,
                           std::string_view id) = 0;
  // By id ascending.
  virtual Result<Page<Pool>> List(std::string_view organization_id,
                                  const PageRequest& page) = 0;
  // Matches of `query`, in its order.
  virtual Result<PoolQueryResult> Query(std::string_view organization_id,
                                        const PoolQuery& query) = 0;
  // As ProfileStore::Update; kConflict (field "name") for a taken name.
  virtual Result<Pool> Update(std::string_view organization_id,
                              std::string_view id,
                              std::optional<int64_t> expected_revision,
                              const boost::json::object& config,
                              int64_t at_ms) = 0;
  // Deletes the pool and its memberships (not its leases).
  virtual Status Delete(std::string_view organization_id, std::string_view id,
                        std::optional<int64_t> expected_revision) = 0;

  // Adds every profile of `profile_ids` (members already are kept) in one
  // transaction. kNotFound (nothing added) when the pool or any of the
  // profiles is not the organization's. Returns how many were new.
  virtual Result<size_t> AddMembers(std::string_view organization_id,
                                    std::string_view pool_id,
                                    const std::vector<std::string>& profile_ids,
                                    int64_t at_ms) = 0;
  // Removes those of `profile_ids` that are members (others are ignored) in
  // one transaction; returns how many were. kNotFound when the pool is not
  // the organization's.
  virtual Result<size_t> RemoveMembers(
      std::string_view organization_id, std::string_view pool_id,
      const std::vector<std::string>& profile_ids) = 0;
};

// Every profile's lease bookkeeping, as loaded at start.
struct ProfileLeaseState {
  std::string organization_id;
  std::string profile_id;
  int64_t fencing_token = 0;  // of the latest grant (0: never leased)
  std::optional<int64_t> last_leased_at_ms;
};

// What the lease engine rebuilds its memory from.
struct LeaseSnapshot {
  std::vector<Profile> profiles;
  std::vector<Pool> pools;
  // (organization_id, pool_id, profile_id)
  struct Member {
    std::string organization_id, pool_id, profile_id;
  };
  std::vector<Member> members;
  std::vector<ProfileLeaseState> lease_states;
  std::vector<Lease> live_leases;  // neither released nor expired at load
};

// A lease to decide in the database (LeaseStore::Decide).
struct LeaseOrder {
  std::string lease_id;  // the new lease's id
  std::string organization_id;
  std::string pool_id;
  bool exclusive = true;  // the pool's mode
  bool lru = true;        // else most recently used first
  std::optional<std::string> holder;
  int64_t now_ms = 0;
  int64_t ttl_ms = 0;
};

// A lease and the profile it holds (sealed configuration).
struct DecidedLease {
  Lease lease;
  Profile profile;
};
using DecidedDone = std::function<void(Result<DecidedLease>)>;

// Leases. The writes are asynchronous: `done` runs once the write is
// durable (ok) or failed (nothing written), on a store thread — keep it
// short and never block in it. Writes submitted from one thread are
// committed in submission order.
class LeaseStore {
 public:
  using Done = std::function<void(Status)>;
  virtual ~LeaseStore() = default;

  // Inserts `lease` and raises its profile's fencing_token and
  // last_leased_at to the lease's (they never go down).
  virtual void Grant(const Lease& lease, Done done) = 0;
  // Sets expires_at of an unreleased lease (kConflict when released).
  virtual void Renew(std::string_view organization_id,
                     std::string_view lease_id, int64_t expires_at_ms,
                     Done done) = 0;
  // Sets released_at unless already set (idempotent).
  virtual void Release(std::string_view organization_id,
                       std::string_view lease_id, int64_t released_at_ms,
                       Done done) = 0;

  virtual Result<Lease> Get(std::string_view organization_id,
                            std::string_view id) = 0;

  // Everything, every organization, with the leases live at `now_ms`.
  virtual Result<LeaseSnapshot> Load(int64_t now_ms) = 0;

  // ---- decisions in the database (a store shared by several nodes) ----
  // A store that only one process uses (SQLite) leaves these to the lease
  // engine's memory and answers kInternal ("not supported"); see
  // Store::shared().

  // One organization's part of Load().
  virtual Result<LeaseSnapshot> LoadOrganization(
      std::string_view organization_id, int64_t now_ms);

  // Decides and records a grant through `order.pool_id` at
  // `order.now_ms`: the free enabled member first in LRU (else MRU) order,
  // ties by id, locked so that no other node grants it meanwhile (an
  // exclusive order never waits for a profile another node is granting: it
  // takes the next). The profile's fencing token is raised by one and
  // becomes the lease's. `done` gets the lease and its profile, or
  // kNoProfileAvailable with the seconds until the earliest blocking lease
  // expires.
  virtual void Decide(const LeaseOrder& order, DecidedDone done);
  // Extends a lease that is active at `now_ms` and holds `fencing_token` to
  // max(its expiry, now_ms + ttl) — ttl: `ttl_ms`, else its pool's default
  // TTL. kConflict (released, expired or another token), kNotFound.
  virtual void RenewLive(std::string_view organization_id,
                         std::string_view lease_id, int64_t fencing_token,
                         int64_t now_ms, std::optional<int64_t> ttl_ms,
                         DecidedDone done);
  // Release() of a lease that must exist: kNotFound otherwise; ok when it
  // was already released.
  virtual void ReleaseExisting(std::string_view organization_id,
                               std::string_view lease_id,
                               int64_t released_at_ms, Done done);
  // The pool's leases active at `now_ms`, by id.
  virtual Result<Page<Lease>> ListLive(std::string_view organization_id,
                                       std::string_view pool_id, int64_t now_ms,
                                       const PageRequest& page);
  // Whether the profile has a lease active at `now_ms`.
  virtual Result<bool> HasLiveLease(std::string_view organization_id,
                                    std::string_view profile_id,
                                    int64_t now_ms);
};

// A change one node made to something every node keeps in memory,
// announced to the others by a store shared by several nodes.
struct StoreChange {
  enum class Kind {
    kAgent,        // id: the agent's
    kApiKey,       // id: the key's
    kInstruction,  // id: the instruction's
    kTool,         // id: the tool's
    kProfile,      // id: the profile's
    kPool,         // id: the pool's (also for its members)
    kLeaseFreed,   // id: the lease's (released)
  };
  Kind kind = Kind::kAgent;
  std::string organization_id;
  std::string id;
};

// What Store::Watch delivers, on the store's listener thread, one call at a
// time. Handlers may block on the store (briefly).
struct ChangeHandlers {
  // A change committed by another node.
  std::function<void(const StoreChange&)> on_change;
  // Changes may have been missed: drop everything kept in memory.
  // `listening` is false when the connection that listens was lost (until
  // it is back, nothing in memory can be trusted to be current) and true
  // once it listens again.
  std::function<void(bool listening)> on_reset;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual OrganizationStore& organizations() = 0;
  virtual ApiKeyStore& api_keys() = 0;
  virtual AgentStore& agents() = 0;
  virtual ToolStore& tools() = 0;
  virtual InstructionStore& instructions() = 0;
  virtual ProfileStore& profiles() = 0;
  virtual PoolStore& pools() = 0;
  virtual LeaseStore& leases() = 0;

  // Ok when the database answers a trivial query.
  virtual Status Ping() = 0;

  // "sqlite" or "postgres".
  virtual std::string_view backend() const = 0;

  // Whether several nodes may use this store at once (PostgreSQL): then
  // lease decisions are made in the database (LeaseStore::Decide…) and
  // every node keeps its memory current through Watch().
  virtual bool shared() const { return false; }
  // Starts delivering the changes other nodes commit (a shared store); a
  // store no other node writes never calls the handlers. Call once, before
  // serving.
  virtual Status Watch(ChangeHandlers handlers);
  // Stops delivering changes (no handler runs once it returns).
  // Idempotent.
  virtual void StopWatching() {}
  // Ok while changes are being delivered (or need not be); kUnavailable
  // while the listening connection is down.
  virtual Status WatchStatus() const { return Status::Ok(); }
};

struct StoreOptions {
  // Receives the number of writes committed by each transaction (group
  // commit batch size). May be null.
  Histogram* commit_batch_sizes = nullptr;
  // Connections kept open for concurrent readers (SQLite: read-only ones;
  // PostgreSQL: a pool besides the writer's connection).
  size_t read_connections = 4;
  // Most writes folded into one transaction.
  size_t max_batch = 256;
  // SQLite: grants between two folds of the leases into the profiles'
  // token rows; loading the leases reads at most about this many beyond
  // them.
  size_t lease_fold_every = 2048;
  // How long a read waits for a free pooled connection before failing with
  // kUnavailable (PostgreSQL).
  int64_t connection_wait_ms = 5000;
};

// Opens (creating if needed) and migrates the store named by `url`:
// "sqlite://PATH" (relative or absolute; parent directories are created), or
// "postgres://…" / "postgresql://…" (a libpq connection URI; the database
// must exist). kInvalidRequest for an unknown scheme, an empty path or a
// malformed URI; kUnavailable when the database cannot be reached, opened
// or migrated. Messages never repeat the URL (it may hold a password).
Result<std::unique_ptr<Store>> OpenStore(std::string_view url,
                                         const StoreOptions& options = {});

}  // namespace agentry
