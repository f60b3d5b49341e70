// Agents: drafts, immutable versions, rollback, diff, and the hot read path
// (DESIGN §5 "Agents").
//
// The hot path: every agent an execution reads is kept in memory with its
// native JSON answers serialised once per change (current view and draft
// view) and their strong ETags, so a GET is a hash lookup and a shared
// buffer. Every write goes to the store first; once it is durable the
// service installs the new state in the cache before returning, so the
// writing request never answers before the cache is current. A stale loader
// can never overwrite a newer entry (entries carry the agent's revision;
// deletions leave tombstones).
//
// Every method except Peek blocks on the store: call it from a worker, not
// an I/O thread. Peek is in-memory. All methods are thread-safe.
//
// Access: another organization's agent is kNotFound; an agent outside the
// key's grants (agent_ids) is kForbidden. Scopes are checked by the caller's
// route (agents:read / agents:write / agents:publish).
#pragma once

#include <array>
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/common/string_map.h"
#include "agentry/domain/agent.h"
#include "agentry/service/principal.h"
#include "agentry/store/store.h"

namespace agentry {

class AuthService;

// One serialised answer and its strong ETag (quoted, e.g. "\"5f3a…\"").
struct AgentView {
  std::shared_ptr<const std::string> body;
  std::string etag;
};

// A serialised answer made on first use and kept with the cache entry it
// was made from (the compatible surfaces' views of the hot path). Copies
// start empty. Thread-safe: concurrent first callers may each make it; one
// wins and every caller answers the same content.
class LazyBody {
 public:
  LazyBody() = default;
  LazyBody(const LazyBody&) {}
  LazyBody& operator=(const LazyBody&) { return *this; }

  template <class Make>
  std::shared_ptr<const std::string> Get(Make&& make) const {
    if (auto v = body_.load(std::memory_order_acquire)) return v;
    std::shared_ptr<const std::string> made =
        std::make_shared<const std::string>(make());
    std::shared_ptr<const std::string> expected;
    if (body_.compare_exchange_strong(expected, made,
                                      std::memory_order_acq_rel)) {
      return made;
    }
    return expected;
  }

 private:
  mutable std::atomic<std::shared_ptr<const std::string>> body_;
};

// What the cache keeps of one agent.
struct CachedAgent {
  AgentRecord head;
  // The active version (nullopt when never published).
  std::optional<AgentVersion> active;
  AgentView current;     // the active version, else the draft
  AgentView draft;       // the draft
  bool deleted = false;  // tombstone: answers kNotFound
  // The current view as other surfaces answer it, one slot per surface
  // (http/compat), made on first use.
  static constexpr size_t kSurfaceSlots = 2;
  std::array<LazyBody, kSurfaceSlots> surface_views;

  // The configuration the current view shows.
  const boost::json::object& current_config() const {
    return active ? active->config : head.draft;
  }
};

// A side of a diff: the draft, or version n.
struct AgentRef {
  bool draft = true;
  int version = 0;
};

// What publishing checks beyond the agent's own rules: that the tools and
// instructions a configuration refers to exist (service/references.h).
class PublishResolver {
 public:
  virtual ~PublishResolver() = default;
  // Returns the configuration to publish (instruction references pinned to
  // a version), or kInvalidRequest naming the field at fault.
  virtual Result<boost::json::object> ResolveForPublish(
      std::string_view organization_id, const boost::json::object& config) = 0;
};

// An agent's head and one of its configurations.
struct AgentConfigAt {
  AgentRecord head;
  boost::json::object config;
};

class AgentService {
 public:
  // All references must outlive the service. `resolver` (may be null: no
  // reference checks) is consulted by Publish.
  AgentService(Store& store, AuthService& auth, const Clock& clock,
               PublishResolver* resolver = nullptr);

  // The configuration at `ref`; nullopt means the active version, else the
  // draft (what a GET answers). kNotFound when the version does not exist.
  Result<AgentConfigAt> ConfigAt(const Principal& caller,
                                 std::string_view id_or_key,
                                 std::optional<AgentRef> ref);

  // ---- several nodes (DESIGN §7): another node changed something ----
  // Reloads the agent into the cache when it is cached (kept revisions
  // never go down, a deletion leaves a tombstone); drops it when it cannot
  // be read. Blocking.
  void Refresh(std::string_view organization_id, std::string_view agent_id);
  // Drops every cached agent. While `caching` is false nothing is cached
  // (every read goes to the store: announcements may be missed).
  void ForgetAll(bool caching);

  // In-memory only. nullopt: not cached (call Get from a worker). Otherwise
  // the cached agent, or kNotFound / kForbidden.
  std::optional<Result<std::shared_ptr<const CachedAgent>>> Peek(
      const Principal& caller, std::string_view id_or_key) const;

  // The agent, from the cache or loaded into it.
  Result<std::shared_ptr<const CachedAgent>> Get(const Principal& caller,
                                                 std::string_view id_or_key);

  // The answer for version `n` (n ≥ 1). kNotFound when it does not exist.
  Result<AgentView> GetVersionView(const Principal& caller,
                                   std::string_view id_or_key, int n);

  // Creates an agent from a create body: configuration members plus an
  // optional `key`. kInvalidRequest naming the field; kConflict (field
  // "key") for a taken key.
  Result<std::shared_ptr<const CachedAgent>> Create(
      const Principal& caller, const boost::json::object& body);

  // Applies a JSON Merge Patch to the draft. `if_match` is the raw If-Match
  // header ("" when absent): kPreconditionFailed when it names no current
  // ETag of this agent.
  Result<std::shared_ptr<const CachedAgent>> Patch(
      const Principal& caller, std::string_view id_or_key,
      const boost::json::object& patch, std::string_view if_match);

  Status Delete(const Principal& caller, std::string_view id_or_key,
                std::string_view if_match);

  // Publishes the draft as the next version and makes it active. Returns the
  // new version's answer.
  Result<AgentView> Publish(const Principal& caller, std::string_view id_or_key,
                            const std::string& note, std::string_view if_match);

  // Makes version n the active one. Returns its answer.
  Result<AgentView> Activate(const Principal& caller,
                             std::string_view id_or_key, int n,
                             std::string_view if_match);

  Result<Page<AgentVersionSummary>> ListVersions(
      const Principal& caller, std::string_view id_or_key,
      std::optional<int> before_version, size_t limit);

  // RFC 6902 patch from configuration `from` to configuration `to`.
  Result<boost::json::array> Diff(const Principal& caller,
                                  std::string_view id_or_key, AgentRef from,
                                  AgentRef to);

  // The organization's agents visible to the caller (grants applied), each
  // with its current view.
  Result<Page<std::shared_ptr<const CachedAgent>>> List(
      const Principal& caller, AgentListFilter filter, const PageRequest& page);

  // True when `if_match` (an If-Match header value) names a current ETag of
  // `agent`, or is "*". An empty header matches.
  static bool IfMatchHolds(std::string_view if_match, const AgentRecord& agent);

 private:
  Result<AgentRecord> LoadHead(const Principal& caller,
                               std::string_view id_or_key);
  Result<std::shared_ptr<const CachedAgent>> Build(AgentRecord head,
                                                   const CachedAgent* previous);
  // Installs unless a newer (or deleted) entry is cached. Returns what is
  // cached afterwards for this agent.
  std::shared_ptr<const CachedAgent> Install(
      std::shared_ptr<const CachedAgent> entry);
  std::shared_ptr<const CachedAgent> Find(std::string_view organization_id,
                                          std::string_view id_or_key) const;
  Status CheckGrant(const Principal& caller, const AgentRecord& head) const;
  // The draft of `head`, or its version `ref.version` from the store.
  Result<boost::json::object> ConfigOf(const AgentRecord& head, AgentRef ref);

  Store& store_;
  AuthService& auth_;
  const Clock& clock_;
  PublishResolver* resolver_;

  // False while announcements of other nodes' changes may be missed.
  std::atomic<bool> caching_{true};
  mutable std::shared_mutex mu_;
  // agent id → entry. GUARDED_BY(mu_)
  StringMap<std::shared_ptr<const CachedAgent>> by_id_;
  // organization id → key → agent id. GUARDED_BY(mu_)
  StringMap<StringMap<std::string>> id_by_key_;
};

// The native answer of `head` showing `config` (the draft when `version` is
// null, else that version).
std::string SerializeAgentView(const AgentRecord& head,
                               const boost::json::object& config,
                               const AgentVersion* version);

}  // namespace agentry
