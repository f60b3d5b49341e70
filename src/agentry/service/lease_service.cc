#include "agentry/service/lease_service.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <utility>

#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/json_patch.h"
#include "agentry/common/log.h"
#include "agentry/common/text.h"

namespace agentry {

namespace bj = boost::json;

namespace {

constexpr int kMaxWriteAttempts = 8;
constexpr size_t kMaxWaitersPerPool = 10000;

// The associated data a profile's secrets are sealed with: they open only
// as this organization's this profile.
std::string SecretAd(std::string_view organization_id,
                     std::string_view profile_id) {
  std::string ad(organization_id);
  ad += '/';
  ad += profile_id;
  return ad;
}

Status ProfileNotFound(std::string_view id) {
  return Status::NotFound("profile " + std::string(id) + " not found");
}
Status PoolNotFound(std::string_view id) {
  return Status::NotFound("pool " + std::string(id) + " not found");
}
Status LeaseNotFound(std::string_view id) {
  return Status::NotFound("lease " + std::string(id) + " not found");
}
Status Stale(std::string_view what, std::string_view id) {
  return Status::PreconditionFailed("If-Match does not name the current " +
                                    std::string(what) + " " + std::string(id));
}

bool IfMatchHolds(std::string_view if_match, int64_t created, int64_t rev) {
  return if_match.empty() ||
         EtagListMatches(if_match, LeaseService::Etag(created, rev), false);
}

// Members of a config object as JSON text, after `id`, followed by the
// times: the shape of every profile and pool answer.
void AppendConfig(bj::object& o, const bj::object& config) {
  for (const auto& m : config) o[m.key()] = m.value();
}

bool BoolAt(const bj::object& o, std::string_view name, bool fallback) {
  const bj::value* v = o.if_contains(name);
  return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
}

int64_t IntAt(const bj::object& o, std::string_view name, int64_t fallback) {
  const bj::value* v = o.if_contains(name);
  return v != nullptr && v->is_int64() ? v->get_int64() : fallback;
}

}  // namespace

// ---------------------------------------------------------------- basics

LeaseService::LeaseService(Store& store, const Clock& clock, SecretBox box)
    : store_(store),
      shared_(store.shared()),
      clock_(clock),
      box_(std::move(box)) {}

LeaseService::~LeaseService() { Shutdown(); }

std::string LeaseService::Etag(int64_t created_at_ms, int64_t revision) {
  return "\"" + std::to_string(created_at_ms) + "." + std::to_string(revision) +
         "\"";
}

namespace {

// {id, …config, created_at, updated_at}: every profile answer.
std::string ProfileAnswer(const Profile& profile, const bj::object& config) {
  bj::object o;
  o["id"] = profile.id;
  AppendConfig(o, config);
  o["created_at"] = FormatRfc3339Ms(profile.created_at_ms);
  o["updated_at"] = FormatRfc3339Ms(profile.updated_at_ms);
  return json::Serialize(o);
}

}  // namespace

std::string LeaseService::SerializeProfile(const Profile& profile) {
  return ProfileAnswer(profile, RedactProfileSecrets(profile.config));
}

std::string LeaseService::SerializePool(const PoolView& view) {
  bj::object o;
  o["id"] = view.pool.id;
  o["organization_id"] = view.pool.organization_id;
  AppendConfig(o, view.pool.config);
  o["profile_count"] = view.profile_count;
  o["created_at"] = FormatRfc3339Ms(view.pool.created_at_ms);
  o["updated_at"] = FormatRfc3339Ms(view.pool.updated_at_ms);
  return json::Serialize(o);
}

LeaseService::OrgState* LeaseService::Org(std::string_view organization_id) {
  auto it = orgs_.find(organization_id);
  return it == orgs_.end() ? nullptr : &it->second;
}

LeaseService::PoolState* LeaseService::FindPool(
    std::string_view organization_id, std::string_view id) {
  OrgState* org = Org(organization_id);
  if (org == nullptr) return nullptr;
  auto it = org->pools.find(id);
  return it == org->pools.end() ? nullptr : &it->second;
}

LeaseService::ProfileState& LeaseService::ProfileOf(OrgState& org,
                                                    const std::string& id) {
  auto [it, inserted] = org.profiles.try_emplace(id);
  if (inserted) it->second.id = it->first;
  return it->second;
}

LeaseService::UseKey LeaseService::KeyOf(ProfileState& p) {
  return UseKey{p.last_start_ms.value_or(INT64_MIN), p.last_grant_seq, p.id,
                &p};
}

void LeaseService::Join(PoolState& pool, ProfileState& p) {
  if (!pool.members.insert(std::string(p.id)).second) return;
  pool.by_use.insert(KeyOf(p));
  p.pools.insert(pool.pool.id);
}

void LeaseService::Leave(PoolState& pool, ProfileState& p) {
  if (pool.members.erase(std::string(p.id)) == 0) return;
  pool.by_use.erase(KeyOf(p));
  p.pools.erase(pool.pool.id);
}

void LeaseService::InstallProfile(const Profile& profile) {
  OrgState& org = orgs_[profile.organization_id];
  ProfileState& p = ProfileOf(org, profile.id);
  if (p.profile && p.profile->revision >= profile.revision) return;
  p.profile = std::make_shared<const Profile>(profile);
  p.json = std::make_shared<const std::string>(SerializeProfile(profile));
  p.secret_json.reset();
  p.enabled = BoolAt(profile.config, "enabled", true);
}

void LeaseService::InstallPool(const Pool& pool) {
  OrgState& org = orgs_[pool.organization_id];
  PoolState& s = org.pools[pool.id];
  if (!s.pool.id.empty() && s.pool.revision >= pool.revision) return;
  s.pool = pool;
  s.exclusive = !BoolAt(pool.config, "allow_concurrent_use", false);
  s.lru = StrategyOf(pool.config) == SelectionStrategy::kLeastRecentlyUsed;
  s.default_ttl_s =
      static_cast<int>(IntAt(pool.config, "default_lease_ttl_seconds", 300));
}

PoolView LeaseService::ViewOf(const Pool& pool) {
  PoolView v{pool, 0};
  if (PoolState* s = FindPool(pool.organization_id, pool.id)) {
    v.profile_count = s->members.size();
  }
  return v;
}

Status LeaseService::Load() {
  AGENTRY_ASSIGN_OR_RETURN(LeaseSnapshot s,
                           store_.leases().Load(clock_.NowMs()));
  const size_t profiles = s.profiles.size(), pools = s.pools.size(),
               live = s.live_leases.size();
  Deferred later;
  Rebuild(std::move(s), std::nullopt, later);
  for (auto& fn : later) fn();
  log::Info("lease state loaded", {{"profiles", std::to_string(profiles)},
                                   {"pools", std::to_string(pools)},
                                   {"live_leases", std::to_string(live)}});
  return Status::Ok();
}

void LeaseService::Rebuild(LeaseSnapshot s,
                           const std::optional<std::string>& organization_id,
                           Deferred& later) {
  std::lock_guard<std::mutex> lock(mu_);
  StringMap<OrgState> old;
  if (organization_id) {
    auto it = orgs_.find(*organization_id);
    if (it != orgs_.end()) {
      old.emplace(it->first, std::move(it->second));
      orgs_.erase(it);
    }
    for (auto l = leases_.begin(); l != leases_.end();) {
      l = l->second.organization_id == *organization_id ? leases_.erase(l)
                                                        : std::next(l);
    }
  } else {
    old = std::move(orgs_);
    orgs_.clear();
    leases_.clear();
  }
  for (const Profile& p : s.profiles) InstallProfile(p);
  for (const ProfileLeaseState& ls : s.lease_states) {
    ProfileState& p = ProfileOf(orgs_[ls.organization_id], ls.profile_id);
    p.token = ls.fencing_token;
    p.last_start_ms = ls.last_leased_at_ms;
  }
  for (const Pool& p : s.pools) InstallPool(p);
  for (const LeaseSnapshot::Member& m : s.members) {
    OrgState& org = orgs_[m.organization_id];
    auto pool = org.pools.find(m.pool_id);
    auto profile = org.profiles.find(m.profile_id);
    if (pool == org.pools.end() || profile == org.profiles.end()) continue;
    Join(pool->second, profile->second);
  }
  // Shared store: leases live in the database only.
  if (shared_) s.live_leases.clear();
  for (Lease& l : s.live_leases) {
    auto org = orgs_.find(l.organization_id);
    if (org == orgs_.end()) continue;
    auto p = org->second.profiles.find(l.profile_id);
    if (p == org->second.profiles.end()) continue;
    if (l.exclusive) {
      p->second.exclusive = l.id;
    } else {
      p->second.shared.insert(l.id);
    }
    leases_.emplace(l.id, std::move(l));
  }
  // The waiters (and their timers) stay with their pools; those of a pool
  // that is gone are told so.
  const int64_t now = clock_.NowMs();
  for (auto& [org_id, org] : old) {
    std::set<std::string> waiting;
    for (auto& [pool_id, pool] : org.pools) {
      PoolState* kept = FindPool(org_id, pool_id);
      if (kept == nullptr) {
        for (Waiter& w : pool.waiters) {
          later.push_back([done = std::move(w.done), id = pool_id] {
            done(PoolNotFound(id));
          });
        }
        if (pool.timer != 0) timers_.Cancel(pool.timer);
        continue;
      }
      kept->waiters = std::move(pool.waiters);
      kept->timer = pool.timer;
      kept->timer_at_ms = pool.timer_at_ms;
      kept->deciding = pool.deciding;
      kept->retry_at_ms = pool.retry_at_ms;
      if (!kept->waiters.empty()) waiting.insert(pool_id);
    }
    if (!waiting.empty()) Serve(orgs_[org_id], waiting, now, later);
  }
}

void LeaseService::Shutdown() {
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [org_id, org] : orgs_) {
      for (auto& [pool_id, pool] : org.pools) {
        for (Waiter& w : pool.waiters) {
          later.push_back([done = std::move(w.done)] {
            done(Status::Unavailable("the server is shutting down"));
          });
        }
        pool.waiters.clear();
      }
    }
  }
  timers_.Shutdown();
  for (auto& fn : later) fn();
}

// ---------------------------------------------------------------- profiles

Result<Profile> LeaseService::CreateProfile(const Principal& caller,
                                            const bj::object& body) {
  AGENTRY_ASSIGN_OR_RETURN(bj::object config, NormalizeProfileConfig(body));
  Profile p;
  p.created_at_ms = clock_.NowMs();
  p.updated_at_ms = p.created_at_ms;
  p.id = NewUuidV7(p.created_at_ms);
  p.organization_id = caller.organization_id;
  p.config =
      SealProfileSecrets(config, box_, SecretAd(p.organization_id, p.id));
  AGENTRY_RETURN_IF_ERROR(store_.profiles().Create(p));
  std::lock_guard<std::mutex> lock(mu_);
  InstallProfile(p);
  return p;
}

Result<Profile> LeaseService::GetProfile(const Principal& caller,
                                         std::string_view id) {
  auto p = store_.profiles().Get(caller.organization_id, id);
  if (!p.ok() && p.status().code() == ErrorCode::kNotFound) {
    return ProfileNotFound(id);
  }
  return p;
}

Result<Page<Profile>> LeaseService::ListProfiles(const Principal& caller,
                                                 const PageRequest& page) {
  return store_.profiles().List(caller.organization_id, page);
}

Result<Profile> LeaseService::PatchProfile(const Principal& caller,
                                           std::string_view id,
                                           const bj::object& patch,
                                           std::string_view if_match) {
  constexpr std::string_view kReadOnly[] = {"id", "organization_id",
                                            "created_at", "updated_at"};
  AGENTRY_RETURN_IF_ERROR(json::RefuseReadOnly(patch, kReadOnly));
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(Profile current, GetProfile(caller, id));
    if (!IfMatchHolds(if_match, current.created_at_ms, current.revision)) {
      return Stale("profile", id);
    }
    const std::string ad = SecretAd(current.organization_id, current.id);
    AGENTRY_ASSIGN_OR_RETURN(bj::object opened,
                             OpenProfileSecrets(current.config, box_, ad));
    bj::value merged = json::MergePatch(opened, patch);
    if (!merged.is_object()) {
      return Status::InvalidRequest("request body must be a JSON object");
    }
    AGENTRY_ASSIGN_OR_RETURN(bj::object config,
                             NormalizeProfileConfig(merged.get_object()));
    if (config == opened) return current;  // nothing changes
    auto updated = store_.profiles().Update(
        caller.organization_id, id, current.revision,
        SealProfileSecrets(config, box_, ad), clock_.NowMs());
    if (updated.ok()) {
      Deferred later;
      {
        std::lock_guard<std::mutex> lock(mu_);
        InstallProfile(*updated);
        OrgState* org = Org(caller.organization_id);
        auto p = org->profiles.find(updated->id);
        if (p != org->profiles.end() && p->second.enabled) {
          Serve(*org, p->second.pools, clock_.NowMs(), later);
        }
      }
      for (auto& fn : later) fn();
      return updated;
    }
    if (updated.status().code() == ErrorCode::kPreconditionFailed) {
      if (!if_match.empty()) return Stale("profile", id);
      continue;
    }
    if (updated.status().code() == ErrorCode::kNotFound) {
      return ProfileNotFound(id);
    }
    return updated.status();
  }
  return Status::Unavailable("profile is changing too fast; try again");
}

Status LeaseService::DeleteProfile(const Principal& caller, std::string_view id,
                                   std::string_view if_match) {
  AGENTRY_ASSIGN_OR_RETURN(Profile current, GetProfile(caller, id));
  if (!IfMatchHolds(if_match, current.created_at_ms, current.revision)) {
    return Stale("profile", id);
  }
  const Status leased = Status::Conflict(
      "profile " + current.id + " has an active lease; release it first");
  if (shared_) {
    AGENTRY_ASSIGN_OR_RETURN(
        bool live, store_.leases().HasLiveLease(caller.organization_id,
                                                current.id, clock_.NowMs()));
    if (live) return leased;
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    OrgState* org = Org(caller.organization_id);
    if (org != nullptr) {
      auto p = org->profiles.find(current.id);
      if (p != org->profiles.end() &&
          (!Free(p->second, true, clock_.NowMs()))) {
        return leased;
      }
    }
  }
  std::optional<int64_t> expected;
  if (!if_match.empty()) expected = current.revision;
  Status st = store_.profiles().Delete(caller.organization_id, id, expected);
  if (st.code() == ErrorCode::kNotFound) return ProfileNotFound(id);
  if (st.code() == ErrorCode::kPreconditionFailed) return Stale("profile", id);
  AGENTRY_RETURN_IF_ERROR(st);
  std::lock_guard<std::mutex> lock(mu_);
  if (OrgState* org = Org(caller.organization_id)) {
    auto p = org->profiles.find(current.id);
    if (p != org->profiles.end()) {
      const std::set<std::string> pools = p->second.pools;
      for (const std::string& pool_id : pools) {
        auto pool = org->pools.find(pool_id);
        if (pool != org->pools.end()) Leave(pool->second, p->second);
      }
      org->profiles.erase(p);
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- pools

Result<PoolView> LeaseService::CreatePool(const Principal& caller,
                                          const bj::object& body) {
  AGENTRY_ASSIGN_OR_RETURN(bj::object config, NormalizePoolConfig(body));
  Pool p;
  p.created_at_ms = clock_.NowMs();
  p.updated_at_ms = p.created_at_ms;
  p.id = NewUuidV7(p.created_at_ms);
  p.organization_id = caller.organization_id;
  p.config = std::move(config);
  AGENTRY_RETURN_IF_ERROR(store_.pools().Create(p));
  std::lock_guard<std::mutex> lock(mu_);
  InstallPool(p);
  return ViewOf(p);
}

Result<PoolView> LeaseService::GetPool(const Principal& caller,
                                       std::string_view id) {
  auto p = store_.pools().Get(caller.organization_id, id);
  if (!p.ok()) {
    if (p.status().code() == ErrorCode::kNotFound) return PoolNotFound(id);
    return p.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return ViewOf(*p);
}

Result<Page<PoolView>> LeaseService::ListPools(const Principal& caller,
                                               const PageRequest& page) {
  AGENTRY_ASSIGN_OR_RETURN(Page<Pool> pools,
                           store_.pools().List(caller.organization_id, page));
  Page<PoolView> out;
  out.has_more = pools.has_more;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Pool& p : pools.items) out.items.push_back(ViewOf(p));
  return out;
}

Result<LeaseService::PoolQueryPage> LeaseService::QueryPools(
    const Principal& caller, const PoolQuery& query) {
  AGENTRY_ASSIGN_OR_RETURN(PoolQueryResult found,
                           store_.pools().Query(caller.organization_id, query));
  PoolQueryPage out;
  out.total = found.total;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Pool& p : found.items) out.items.push_back(ViewOf(p));
  return out;
}

Result<PoolView> LeaseService::PatchPool(const Principal& caller,
                                         std::string_view id,
                                         const bj::object& patch,
                                         std::string_view if_match) {
  constexpr std::string_view kReadOnly[] = {
      "id", "organization_id", "profile_count", "created_at", "updated_at"};
  AGENTRY_RETURN_IF_ERROR(json::RefuseReadOnly(patch, kReadOnly));
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto current = store_.pools().Get(caller.organization_id, id);
    if (!current.ok()) {
      if (current.status().code() == ErrorCode::kNotFound) {
        return PoolNotFound(id);
      }
      return current.status();
    }
    if (!IfMatchHolds(if_match, current->created_at_ms, current->revision)) {
      return Stale("pool", id);
    }
    bj::value merged = json::MergePatch(current->config, patch);
    if (!merged.is_object()) {
      return Status::InvalidRequest("request body must be a JSON object");
    }
    AGENTRY_ASSIGN_OR_RETURN(bj::object config,
                             NormalizePoolConfig(merged.get_object()));
    if (config == current->config) {
      std::lock_guard<std::mutex> lock(mu_);
      return ViewOf(*current);
    }
    auto updated = store_.pools().Update(
        caller.organization_id, id, current->revision, config, clock_.NowMs());
    if (updated.ok()) {
      Deferred later;
      PoolView view;
      {
        std::lock_guard<std::mutex> lock(mu_);
        InstallPool(*updated);
        if (OrgState* org = Org(caller.organization_id)) {
          Serve(*org, {updated->id}, clock_.NowMs(), later);
        }
        view = ViewOf(*updated);
      }
      for (auto& fn : later) fn();
      return view;
    }
    if (updated.status().code() == ErrorCode::kPreconditionFailed) {
      if (!if_match.empty()) return Stale("pool", id);
      continue;
    }
    if (updated.status().code() == ErrorCode::kNotFound) {
      return PoolNotFound(id);
    }
    return updated.status();
  }
  return Status::Unavailable("pool is changing too fast; try again");
}

Status LeaseService::DeletePool(const Principal& caller, std::string_view id,
                                std::string_view if_match) {
  auto current = store_.pools().Get(caller.organization_id, id);
  if (!current.ok()) {
    if (current.status().code() == ErrorCode::kNotFound) {
      return PoolNotFound(id);
    }
    return current.status();
  }
  if (!IfMatchHolds(if_match, current->created_at_ms, current->revision)) {
    return Stale("pool", id);
  }
  std::optional<int64_t> expected;
  if (!if_match.empty()) expected = current->revision;
  Status st = store_.pools().Delete(caller.organization_id, id, expected);
  if (st.code() == ErrorCode::kNotFound) return PoolNotFound(id);
  if (st.code() == ErrorCode::kPreconditionFailed) return Stale("pool", id);
  AGENTRY_RETURN_IF_ERROR(st);
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (OrgState* org = Org(caller.organization_id)) {
      auto pool = org->pools.find(current->id);
      if (pool != org->pools.end()) {
        for (const std::string& member : pool->second.members) {
          auto p = org->profiles.find(member);
          if (p != org->profiles.end()) p->second.pools.erase(current->id);
        }
        for (Waiter& w : pool->second.waiters) {
          later.push_back([done = std::move(w.done), id = current->id] {
            done(PoolNotFound(id));
          });
        }
        if (pool->second.timer != 0) timers_.Cancel(pool->second.timer);
        org->pools.erase(pool);
      }
    }
  }
  for (auto& fn : later) fn();
  return Status::Ok();
}

Result<std::pair<size_t, size_t>> LeaseService::AddMembers(
    const Principal& caller, std::string_view pool_id,
    const std::vector<std::string>& profile_ids) {
  AGENTRY_ASSIGN_OR_RETURN(
      size_t added, store_.pools().AddMembers(caller.organization_id, pool_id,
                                              profile_ids, clock_.NowMs()));
  // Another node may have made the pool or the profiles a moment ago.
  if (shared_) {
    AGENTRY_RETURN_IF_ERROR(ReloadOrganization(caller.organization_id));
  }
  Deferred later;
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    OrgState* org = Org(caller.organization_id);
    PoolState* pool = FindPool(caller.organization_id, pool_id);
    if (org == nullptr || pool == nullptr) return PoolNotFound(pool_id);
    for (const std::string& id : profile_ids) {
      auto p = org->profiles.find(id);
      if (p == org->profiles.end()) continue;  // deleted meanwhile
      Join(*pool, p->second);
    }
    count = pool->members.size();
    Serve(*org, {pool->pool.id}, clock_.NowMs(), later);
  }
  for (auto& fn : later) fn();
  return std::make_pair(added, count);
}

Result<std::pair<size_t, size_t>> LeaseService::RemoveMembers(
    const Principal& caller, std::string_view pool_id,
    const std::vector<std::string>& profile_ids) {
  AGENTRY_ASSIGN_OR_RETURN(size_t removed,
                           store_.pools().RemoveMembers(caller.organization_id,
                                                        pool_id, profile_ids));
  if (shared_) {
    AGENTRY_RETURN_IF_ERROR(ReloadOrganization(caller.organization_id));
  }
  std::lock_guard<std::mutex> lock(mu_);
  OrgState* org = Org(caller.organization_id);
  PoolState* pool = FindPool(caller.organization_id, pool_id);
  if (org == nullptr || pool == nullptr) return PoolNotFound(pool_id);
  for (const std::string& id : profile_ids) {
    auto p = org->profiles.find(id);
    if (p != org->profiles.end()) {
      Leave(*pool, p->second);
    } else {
      pool->members.erase(id);
    }
  }
  return std::make_pair(removed, pool->members.size());
}

Result<Page<ListedItem>> LeaseService::ListMembers(const Principal& caller,
                                                   std::string_view pool_id,
                                                   const PageRequest& page) {
  if (page.limit < 1 || page.limit > 200) {
    return Status::InvalidRequest("limit must be between 1 and 200", "limit");
  }
  std::lock_guard<std::mutex> lock(mu_);
  OrgState* org = Org(caller.organization_id);
  PoolState* pool = FindPool(caller.organization_id, pool_id);
  if (org == nullptr || pool == nullptr) return PoolNotFound(pool_id);
  Page<ListedItem> out;
  auto it = page.after_id ? pool->members.upper_bound(*page.after_id)
                          : pool->members.begin();
  for (; it != pool->members.end(); ++it) {
    if (out.items.size() == page.limit) {
      out.has_more = true;
      break;
    }
    auto p = org->profiles.find(*it);
    if (p != org->profiles.end() && p->second.json) {
      out.items.push_back(ListedItem{*it, *p->second.json});
    }
  }
  return out;
}

// ---------------------------------------------------------------- leases

bool LeaseService::Free(ProfileState& p, bool exclusive, int64_t now_ms) {
  // An expired lease is forgotten here (the store still answers for it).
  if (p.exclusive) {
    auto it = leases_.find(*p.exclusive);
    if (it != leases_.end() && it->second.ActiveAt(now_ms)) return false;
    if (it != leases_.end()) leases_.erase(it);
    p.exclusive.reset();
  }
  for (auto s = p.shared.begin(); s != p.shared.end();) {
    auto it = leases_.find(*s);
    if (it != leases_.end() && it->second.ActiveAt(now_ms)) {
      if (exclusive) return false;
      ++s;
    } else {
      if (it != leases_.end()) leases_.erase(it);
      s = p.shared.erase(s);
    }
  }
  return true;
}

LeaseService::ProfileState* LeaseService::Pick(PoolState& pool,
                                               int64_t now_ms) {
  // Never leased counts as least recently used; grants of one millisecond
  // are told apart by their order; ties (never granted since start, same
  // stored time) go to the smallest id.
  if (pool.lru) {
    for (const UseKey& k : pool.by_use) {
      if (k.profile->enabled && Free(*k.profile, pool.exclusive, now_ms)) {
        return k.profile;
      }
    }
    return nullptr;
  }
  // Most recently used: from the end; within a run of equal times the
  // last free one met has the smallest id.
  const UseKey* best = nullptr;
  for (auto it = pool.by_use.rbegin(); it != pool.by_use.rend(); ++it) {
    if (best != nullptr && (it->last_start_ms != best->last_start_ms ||
                            it->grant_seq != best->grant_seq)) {
      break;
    }
    if (it->profile->enabled && Free(*it->profile, pool.exclusive, now_ms)) {
      best = &*it;
    }
  }
  return best == nullptr ? nullptr : best->profile;
}

std::string LeaseService::ProfileJson(const Profile& profile,
                                      bool with_secrets) const {
  if (with_secrets) {
    auto opened = OpenProfileSecrets(
        profile.config, box_, SecretAd(profile.organization_id, profile.id));
    if (opened.ok()) return ProfileAnswer(profile, *opened);
    log::Error("a profile's secrets do not open under the master key",
               {{"profile_id", profile.id}});
  }
  return SerializeProfile(profile);
}

std::string LeaseService::LeaseJson(const Lease& lease, const ProfileState* p,
                                    bool with_secrets, int64_t now_ms) const {
  if (p == nullptr || !p->profile) {
    return LeaseJsonOf(lease, nullptr, nullptr, with_secrets, now_ms);
  }
  if (!with_secrets) {
    return LeaseJsonOf(lease, p->profile.get(), p->json.get(), false, now_ms);
  }
  // Opened once per revision of the profile (decrypting and serialising
  // it per grant was a third of a grant's instructions); the copy is wiped
  // when dropped.
  if (!p->secret_json) {
    std::string opened = ProfileJson(*p->profile, true);
    p->secret_json = std::shared_ptr<const std::string>(
        new std::string(std::move(opened)), [](const std::string* s) {
          WipeString(const_cast<std::string&>(*s));
          delete s;
        });
  }
  return LeaseJsonOf(lease, p->profile.get(), p->secret_json.get(), true,
                     now_ms);
}

std::string LeaseService::LeaseJsonOf(const Lease& lease,
                                      const Profile* profile,
                                      const std::string* profile_json,
                                      bool with_secrets, int64_t now_ms) const {
  std::string made;
  if (profile != nullptr && profile_json == nullptr) {
    made = ProfileJson(*profile, with_secrets);
    profile_json = &made;
  }
  std::string out;
  out.reserve(320 + (profile_json != nullptr ? profile_json->size() : 4) +
              (lease.holder ? lease.holder->size() : 0));
  out += "{\"id\":";
  json::AppendString(out, lease.id);
  out += ",\"pool_id\":";
  json::AppendString(out, lease.pool_id);
  out += ",\"profile_id\":";
  json::AppendString(out, lease.profile_id);
  out += ",\"profile\":";
  out += profile_json != nullptr ? std::string_view(*profile_json) : "null";
  out += ",\"fencing_token\":";
  out += std::to_string(lease.fencing_token);
  out += ",\"holder\":";
  if (lease.holder) {
    json::AppendString(out, *lease.holder);
  } else {
    out += "null";
  }
  out += lease.exclusive ? ",\"mode\":\"exclusive\"" : ",\"mode\":\"shared\"";
  out += ",\"status\":\"";
  out += lease.StatusAt(now_ms);
  out += "\",\"acquired_at\":\"";
  AppendRfc3339Ms(out, lease.acquired_at_ms);
  out += "\",\"expires_at\":\"";
  AppendRfc3339Ms(out, lease.expires_at_ms);
  out += "\",\"released_at\":";
  if (lease.released_at_ms) {
    out += '"';
    AppendRfc3339Ms(out, *lease.released_at_ms);
    out += '"';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

void LeaseService::Grant(OrgState& org, PoolState& pool, ProfileState& p,
                         const AcquireRequest& request, bool with_secrets,
                         const std::string& key_id, int64_t now_ms,
                         Answer done) {
  Lease lease;
  lease.id = NewUuidV7(now_ms);
  lease.organization_id = pool.pool.organization_id;
  lease.pool_id = pool.pool.id;
  lease.profile_id = p.profile->id;
  lease.exclusive = pool.exclusive;
  lease.holder = request.holder;
  lease.fencing_token = ++p.token;
  lease.acquired_at_ms = now_ms;
  lease.expires_at_ms =
      now_ms + int64_t{1000} * request.ttl_seconds.value_or(pool.default_ttl_s);
  // The profile moves to the recent end of each of its pools' use order.
  std::vector<PoolState*> pools;
  pools.reserve(p.pools.size());
  for (const std::string& id : p.pools) {
    if (id == pool.pool.id) {
      pools.push_back(&pool);
    } else if (auto it = org.pools.find(id); it != org.pools.end()) {
      pools.push_back(&it->second);
    }
  }
  for (PoolState* s : pools) s->by_use.erase(KeyOf(p));
  p.last_start_ms = std::max(p.last_start_ms.value_or(now_ms), now_ms);
  p.last_grant_seq = ++grant_seq_;
  for (PoolState* s : pools) s->by_use.insert(KeyOf(p));
  if (lease.exclusive) {
    p.exclusive = lease.id;
  } else {
    p.shared.insert(lease.id);
  }
  std::string body = LeaseJson(lease, &p, with_secrets, now_ms);
  leases_.emplace(lease.id, lease);
  (void)key_id;
  // Submitted under the lock: the store commits grants and releases in the
  // order they were decided. `done` never takes the lock (an undo is
  // scheduled instead), so it may even run right here.
  store_.leases().Grant(lease, [this, id = lease.id, body = std::move(body),
                                done = std::move(done)](Status st) mutable {
    if (st.ok()) {
      done(std::move(body));
      return;
    }
    log::Warn("a lease grant failed to commit; undoing it",
              {{"lease_id", id}, {"error", st.message()}});
    timers_.ScheduleIn(0, [this, id] { Undo(id); });
    done(Status::Unavailable("the lease could not be stored: " + st.message()));
  });
}

void LeaseService::OffThread(std::function<void()> fn) {
  // After Shutdown the timer thread is gone: run it here rather than never.
  auto shared = std::make_shared<std::function<void()>>(std::move(fn));
  if (timers_.ScheduleIn(0, [shared] { (*shared)(); }) == 0) (*shared)();
}

void LeaseService::Undo(const std::string& lease_id) {
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(lease_id);
    if (it == leases_.end()) return;
    const Lease lease = it->second;
    leases_.erase(it);
    OrgState* org = Org(lease.organization_id);
    if (org == nullptr) return;
    auto p = org->profiles.find(lease.profile_id);
    if (p == org->profiles.end()) return;
    if (p->second.exclusive == lease_id) p->second.exclusive.reset();
    p->second.shared.erase(lease_id);
    Serve(*org, p->second.pools, clock_.NowMs(), later);
  }
  for (auto& fn : later) fn();
}

int LeaseService::RetryAfter(PoolState& pool, int64_t now_ms) {
  int64_t earliest = INT64_MAX;
  for (const UseKey& k : pool.by_use) {
    if (!k.profile->enabled) continue;
    const ProfileState& p = *k.profile;
    auto consider = [&](const std::string& lease_id) {
      auto l = leases_.find(lease_id);
      if (l != leases_.end() && l->second.ActiveAt(now_ms)) {
        earliest = std::min(earliest, l->second.expires_at_ms);
      }
    };
    if (p.exclusive) consider(*p.exclusive);
    if (pool.exclusive) {
      // An exclusive lease waits for the last shared one.
      int64_t latest = INT64_MIN;
      for (const std::string& s : p.shared) {
        auto l = leases_.find(s);
        if (l != leases_.end() && l->second.ActiveAt(now_ms)) {
          latest = std::max(latest, l->second.expires_at_ms);
        }
      }
      if (latest != INT64_MIN) earliest = std::min(earliest, latest);
    }
  }
  if (earliest == INT64_MAX) return 1;
  const int64_t seconds = (earliest - now_ms + 999) / 1000;
  return static_cast<int>(std::clamp<int64_t>(seconds, 1, 86400));
}

void LeaseService::Arm(PoolState& pool, int64_t now_ms) {
  if (pool.waiters.empty()) {
    if (pool.timer != 0) timers_.Cancel(pool.timer);
    pool.timer = 0;
    return;
  }
  // The earliest of: a waiter's deadline, a blocking lease's expiry.
  int64_t at = INT64_MAX;
  for (const Waiter& w : pool.waiters) at = std::min(at, w.deadline_ms);
  if (shared_) {
    // Expiries are not announced: the database's earliest one, and at
    // least once a second in case a release was missed.
    at = std::min(at, now_ms + 1000);
    if (pool.retry_at_ms > now_ms) at = std::min(at, pool.retry_at_ms);
  } else {
    at = std::min(at, now_ms + int64_t{1000} * RetryAfter(pool, now_ms));
  }
  if (pool.timer != 0 && pool.timer_at_ms == at) return;
  if (pool.timer != 0) timers_.Cancel(pool.timer);
  pool.timer_at_ms = at;
  pool.timer = timers_.ScheduleIn(
      at - now_ms, [this, org_id = pool.pool.organization_id,
                    pool_id = pool.pool.id] { OnTimer(org_id, pool_id); });
}

void LeaseService::OnTimer(const std::string& organization_id,
                           const std::string& pool_id) {
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    OrgState* org = Org(organization_id);
    PoolState* pool = FindPool(organization_id, pool_id);
    if (org == nullptr || pool == nullptr) return;
    pool->timer = 0;
    Serve(*org, {pool_id}, clock_.NowMs(), later);
  }
  for (auto& fn : later) fn();
}

void LeaseService::Serve(OrgState& org, const std::set<std::string>& pools,
                         int64_t now_ms, Deferred& later) {
  if (shared_) {
    for (const std::string& id : pools) {
      auto it = org.pools.find(id);
      if (it != org.pools.end()) ServeShared(it->second, now_ms, later);
    }
    return;
  }
  // Waiters whose time is up.
  for (const std::string& id : pools) {
    auto it = org.pools.find(id);
    if (it == org.pools.end()) continue;
    PoolState& pool = it->second;
    for (auto w = pool.waiters.begin(); w != pool.waiters.end();) {
      if (w->deadline_ms <= now_ms) {
        later.push_back(
            [done = std::move(w->done), retry = RetryAfter(pool, now_ms)] {
              done(Status::NoProfileAvailable(
                  "no profile of the pool became available in time", retry));
            });
        w = pool.waiters.erase(w);
      } else {
        ++w;
      }
    }
  }
  // Then, in order of arrival across the pools, whoever can be served.
  while (true) {
    PoolState* best = nullptr;
    ProfileState* pick = nullptr;
    for (const std::string& id : pools) {
      auto it = org.pools.find(id);
      if (it == org.pools.end() || it->second.waiters.empty()) continue;
      PoolState& pool = it->second;
      if (best != nullptr &&
          best->waiters.front().seq < pool.waiters.front().seq) {
        continue;
      }
      if (ProfileState* p = Pick(pool, now_ms)) {
        best = &pool;
        pick = p;
      }
    }
    if (best == nullptr) break;
    Waiter w = std::move(best->waiters.front());
    best->waiters.pop_front();
    Grant(org, *best, *pick, w.request, w.with_secrets, w.key_id, now_ms,
          std::move(w.done));
  }
  for (const std::string& id : pools) {
    auto it = org.pools.find(id);
    if (it != org.pools.end()) Arm(it->second, now_ms);
  }
}

void LeaseService::Acquire(const Principal& caller, std::string_view pool_id,
                           const AcquireRequest& request, Answer done) {
  if (shared_) {
    AcquireShared(caller, std::string(pool_id), request, std::move(done),
                  false);
    return;
  }
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      later.push_back([done = std::move(done)] {
        done(Status::Unavailable("the server is shutting down"));
      });
    } else if (PoolState* pool = FindPool(caller.organization_id, pool_id);
               pool == nullptr) {
      later.push_back([done = std::move(done), id = std::string(pool_id)] {
        done(PoolNotFound(id));
      });
    } else {
      OrgState& org = *Org(caller.organization_id);
      const int64_t now = clock_.NowMs();
      const bool with_secrets = caller.Has(Scope::kProfilesSecrets);
      // Earlier arrivals first.
      if (!pool->waiters.empty()) Serve(org, {pool->pool.id}, now, later);
      ProfileState* p = pool->waiters.empty() ? Pick(*pool, now) : nullptr;
      if (p != nullptr) {
        Grant(org, *pool, *p, request, with_secrets, caller.key_id, now,
              std::move(done));
      } else if (request.wait_seconds > 0 &&
                 pool->waiters.size() < kMaxWaitersPerPool) {
        Waiter w;
        w.seq = next_seq_++;
        w.deadline_ms = now + int64_t{1000} * request.wait_seconds;
        w.request = request;
        w.with_secrets = with_secrets;
        w.key_id = caller.key_id;
        w.done = std::move(done);
        pool->waiters.push_back(std::move(w));
        Arm(*pool, now);
      } else {
        later.push_back(
            [done = std::move(done), retry = RetryAfter(*pool, now)] {
              done(Status::NoProfileAvailable(
                  "every profile of the pool is leased or disabled", retry));
            });
      }
    }
  }
  for (auto& fn : later) fn();
}

void LeaseService::Renew(const Principal& caller, std::string_view lease_id,
                         const RenewRequest& request, Answer done) {
  if (shared_) {
    RenewShared(caller, lease_id, request, std::move(done));
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMs();
  auto it = leases_.find(lease_id);
  if (it == leases_.end() ||
      it->second.organization_id != caller.organization_id) {
    lock.unlock();
    // Not live here: released, long expired or unknown. The store read
    // happens off the caller's (I/O) thread.
    OffThread([this, org = caller.organization_id, id = std::string(lease_id),
               now, done = std::move(done)] {
      auto stored = store_.leases().Get(org, id);
      if (!stored.ok()) {
        done(stored.status().code() == ErrorCode::kNotFound ? LeaseNotFound(id)
                                                            : stored.status());
        return;
      }
      done(Status::Conflict("lease " + id + " is " + stored->StatusAt(now) +
                            "; acquire a new one"));
    });
    return;
  }
  Lease& lease = it->second;
  if (!lease.ActiveAt(now)) {
    lock.unlock();
    done(Status::Conflict("lease " + std::string(lease_id) +
                          " has expired; acquire a new one"));
    return;
  }
  if (lease.fencing_token != request.fencing_token) {
    lock.unlock();
    done(Status::Conflict("fencing_token " +
                          std::to_string(request.fencing_token) +
                          " is not the lease's token"));
    return;
  }
  int ttl =
      static_cast<int>((lease.expires_at_ms - lease.acquired_at_ms) / 1000);
  if (PoolState* pool = FindPool(lease.organization_id, lease.pool_id)) {
    ttl = pool->default_ttl_s;
  }
  ttl = request.ttl_seconds.value_or(ttl);
  const int64_t previous = lease.expires_at_ms;
  lease.expires_at_ms = std::max(previous, now + int64_t{1000} * ttl);
  const int64_t expires = lease.expires_at_ms;
  OrgState* org = Org(lease.organization_id);
  ProfileState* p = nullptr;
  if (org != nullptr) {
    auto pit = org->profiles.find(lease.profile_id);
    if (pit != org->profiles.end()) p = &pit->second;
  }
  std::string body =
      LeaseJson(lease, p, caller.Has(Scope::kProfilesSecrets), now);
  store_.leases().Renew(
      lease.organization_id, lease.id, expires,
      [this, id = lease.id, previous, expires, body = std::move(body),
       done = std::move(done)](Status st) mutable {
        if (st.ok()) {
          done(std::move(body));
          return;
        }
        timers_.ScheduleIn(0, [this, id, previous, expires] {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = leases_.find(id);
          if (it != leases_.end() && it->second.expires_at_ms == expires) {
            it->second.expires_at_ms = previous;
          }
        });
        done(st.code() == ErrorCode::kConflict
                 ? st
                 : Status::Unavailable("the renewal could not "
                                       "be stored: " +
                                       st.message()));
      });
}

void LeaseService::Release(const Principal& caller, std::string_view lease_id,
                           Done done) {
  if (shared_) {
    ReleaseShared(caller, lease_id, std::move(done));
    return;
  }
  Deferred later;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = leases_.find(lease_id);
    if (it == leases_.end() ||
        it->second.organization_id != caller.organization_id) {
      lock.unlock();
      // Not live here: the store knows (read off the caller's thread).
      OffThread([this, org = caller.organization_id, id = std::string(lease_id),
                 done = std::move(done)]() mutable {
        auto stored = store_.leases().Get(org, id);
        if (!stored.ok()) {
          done(stored.status().code() == ErrorCode::kNotFound
                   ? LeaseNotFound(id)
                   : stored.status());
          return;
        }
        if (stored->released_at_ms) {
          done(Status::Ok());  // idempotent
          return;
        }
        // Expired but never released: record the release too.
        store_.leases().Release(org, id, clock_.NowMs(), std::move(done));
      });
      return;
    }
    const Lease lease = it->second;
    leases_.erase(it);
    const int64_t now = clock_.NowMs();
    // Written before any grant it makes possible (same writer, FIFO).
    store_.leases().Release(lease.organization_id, lease.id, now,
                            std::move(done));
    OrgState* org = Org(lease.organization_id);
    if (org != nullptr) {
      auto p = org->profiles.find(lease.profile_id);
      if (p != org->profiles.end()) {
        if (p->second.exclusive == lease.id) p->second.exclusive.reset();
        p->second.shared.erase(lease.id);
        Serve(*org, p->second.pools, now, later);
      }
    }
  }
  for (auto& fn : later) fn();
}

Result<std::string> LeaseService::GetLease(const Principal& caller,
                                           std::string_view lease_id) {
  if (!shared_) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(lease_id);
    if (it != leases_.end() &&
        it->second.organization_id == caller.organization_id) {
      const ProfileState* p = nullptr;
      if (OrgState* org = Org(caller.organization_id)) {
        auto pit = org->profiles.find(it->second.profile_id);
        if (pit != org->profiles.end()) p = &pit->second;
      }
      return LeaseJson(it->second, p, caller.Has(Scope::kProfilesSecrets),
                       clock_.NowMs());
    }
  }
  auto stored = store_.leases().Get(caller.organization_id, lease_id);
  if (!stored.ok()) {
    if (stored.status().code() == ErrorCode::kNotFound) {
      return LeaseNotFound(lease_id);
    }
    return stored.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  const ProfileState* p = nullptr;
  if (OrgState* org = Org(caller.organization_id)) {
    auto pit = org->profiles.find(stored->profile_id);
    if (pit != org->profiles.end()) p = &pit->second;
  }
  return LeaseJson(*stored, p, caller.Has(Scope::kProfilesSecrets),
                   clock_.NowMs());
}

Result<Page<ListedItem>> LeaseService::ListPoolLeases(const Principal& caller,
                                                      std::string_view pool_id,
                                                      const PageRequest& page) {
  if (page.limit < 1 || page.limit > 200) {
    return Status::InvalidRequest("limit must be between 1 and 200", "limit");
  }
  if (shared_) {
    const int64_t now = clock_.NowMs();
    auto pool = store_.pools().Get(caller.organization_id, pool_id);
    if (!pool.ok()) {
      return pool.status().code() == ErrorCode::kNotFound
                 ? PoolNotFound(pool_id)
                 : pool.status();
    }
    AGENTRY_ASSIGN_OR_RETURN(
        Page<Lease> live,
        store_.leases().ListLive(caller.organization_id, pool->id, now, page));
    Page<ListedItem> out;
    out.has_more = live.has_more;
    std::lock_guard<std::mutex> lock(mu_);
    OrgState* org = Org(caller.organization_id);
    for (const Lease& lease : live.items) {
      const ProfileState* p = nullptr;
      if (org != nullptr) {
        auto pit = org->profiles.find(lease.profile_id);
        if (pit != org->profiles.end()) p = &pit->second;
      }
      out.items.push_back(ListedItem{
          lease.id,
          LeaseJson(lease, p, caller.Has(Scope::kProfilesSecrets), now)});
    }
    return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  OrgState* org = Org(caller.organization_id);
  PoolState* pool = FindPool(caller.organization_id, pool_id);
  if (org == nullptr || pool == nullptr) return PoolNotFound(pool_id);
  const int64_t now = clock_.NowMs();
  std::map<std::string, const Lease*> live;
  for (const auto& [id, lease] : leases_) {
    if (lease.organization_id == caller.organization_id &&
        lease.pool_id == pool->pool.id && lease.ActiveAt(now) &&
        (!page.after_id || id > *page.after_id)) {
      live.emplace(id, &lease);
    }
  }
  Page<ListedItem> out;
  for (const auto& [id, lease] : live) {
    if (out.items.size() == page.limit) {
      out.has_more = true;
      break;
    }
    const ProfileState* p = nullptr;
    auto pit = org->profiles.find(lease->profile_id);
    if (pit != org->profiles.end()) p = &pit->second;
    out.items.push_back(ListedItem{
        id, LeaseJson(*lease, p, caller.Has(Scope::kProfilesSecrets), now)});
  }
  return out;
}

// ---------------------------------------------------------------- shared
// Several nodes on one database: the store decides, the memory waits.

void LeaseService::OnStoreChange(const StoreChange& change) {
  using K = StoreChange::Kind;
  if (change.kind == K::kProfile || change.kind == K::kPool) {
    Status st = ReloadOrganization(change.organization_id);
    if (!st.ok()) {
      log::Warn("cannot reload an organization's pools and profiles",
                {{"organization_id", change.organization_id},
                 {"error", st.message()}});
    }
    return;
  }
  if (change.kind == K::kLeaseFreed) {
    Deferred later;
    {
      std::lock_guard<std::mutex> lock(mu_);
      WakeOrganization(change.organization_id, later);
    }
    for (auto& fn : later) fn();
  }
}

void LeaseService::OnStoreReset(bool listening) {
  if (!listening) return;  // decisions are in the database anyway
  auto s = store_.leases().Load(clock_.NowMs());
  if (!s.ok()) {
    log::Warn("cannot reload the pools and profiles",
              {{"error", s.status().message()}});
    return;
  }
  Deferred later;
  Rebuild(std::move(*s), std::nullopt, later);
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> orgs;
    for (const auto& [id, org] : orgs_) orgs.push_back(id);
    for (const std::string& id : orgs) WakeOrganization(id, later);
  }
  for (auto& fn : later) fn();
}

Status LeaseService::ReloadOrganization(const std::string& organization_id) {
  AGENTRY_ASSIGN_OR_RETURN(
      LeaseSnapshot s,
      store_.leases().LoadOrganization(organization_id, clock_.NowMs()));
  Deferred later;
  Rebuild(std::move(s), organization_id, later);
  for (auto& fn : later) fn();
  return Status::Ok();
}

void LeaseService::WakeOrganization(const std::string& organization_id,
                                    Deferred& later) {
  OrgState* org = Org(organization_id);
  if (org == nullptr) return;
  const int64_t now = clock_.NowMs();
  for (auto& [id, pool] : org->pools) {
    if (!pool.waiters.empty()) ServeShared(pool, now, later);
  }
}

void LeaseService::AcquireShared(const Principal& caller, std::string pool_id,
                                 const AcquireRequest& request, Answer done,
                                 bool reloaded) {
  Deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PoolState* pool = FindPool(caller.organization_id, pool_id);
    if (stopped_) {
      later.push_back([done = std::move(done)] {
        done(Status::Unavailable("the server is shutting down"));
      });
    } else if (pool == nullptr && !reloaded) {
      // Perhaps made on another node a moment ago: ask the store (off the
      // caller's I/O thread), then try once more.
      OffThread([this, caller, pool_id = std::move(pool_id), request,
                 done = std::move(done)]() mutable {
        Status st = ReloadOrganization(caller.organization_id);
        if (!st.ok()) {
          done(st);
          return;
        }
        AcquireShared(caller, std::move(pool_id), request, std::move(done),
                      true);
      });
      return;
    } else if (pool == nullptr) {
      later.push_back([done = std::move(done), id = std::move(pool_id)] {
        done(PoolNotFound(id));
      });
    } else {
      const int64_t now = clock_.NowMs();
      Waiter w;
      w.seq = next_seq_++;
      w.deadline_ms = now + int64_t{1000} * request.wait_seconds;
      w.request = request;
      w.with_secrets = caller.Has(Scope::kProfilesSecrets);
      w.key_id = caller.key_id;
      w.done = std::move(done);
      if (request.wait_seconds > 0 && !pool->waiters.empty()) {
        // Behind those already waiting.
        if (pool->waiters.size() >= kMaxWaitersPerPool) {
          later.push_back([done = std::move(w.done)] {
            done(Status::NoProfileAvailable(
                "too many acquisitions are waiting for this pool", 1));
          });
        } else {
          pool->waiters.push_back(std::move(w));
          ServeShared(*pool, now, later);
        }
      } else {
        DecideShared(*pool, std::move(w), false, later);
      }
    }
  }
  for (auto& fn : later) fn();
}

void LeaseService::DecideShared(PoolState& pool, Waiter w, bool is_waiting,
                                Deferred& later) {
  LeaseOrder order;
  order.lease_id = NewUuidV7(clock_.NowMs());
  order.organization_id = pool.pool.organization_id;
  order.pool_id = pool.pool.id;
  order.exclusive = pool.exclusive;
  order.lru = pool.lru;
  order.holder = w.request.holder;
  order.now_ms = clock_.NowMs();
  order.ttl_ms =
      int64_t{1000} * w.request.ttl_seconds.value_or(pool.default_ttl_s);
  if (is_waiting) pool.deciding = true;
  // The store is called once mu_ is released (its callback takes mu_).
  later.push_back([this, order = std::move(order), w = std::move(w),
                   is_waiting]() mutable {
    auto waiter = std::make_shared<Waiter>(std::move(w));
    store_.leases().Decide(order, [this, order, waiter,
                                   is_waiting](Result<DecidedLease> decided) {
      Deferred next;
      const int64_t now = clock_.NowMs();
      {
        std::lock_guard<std::mutex> lock(mu_);
        PoolState* pool = FindPool(order.organization_id, order.pool_id);
        if (pool != nullptr && is_waiting) pool->deciding = false;
        const bool none = !decided.ok() && decided.status().code() ==
                                               ErrorCode::kNoProfileAvailable;
        const bool may_wait = waiter->request.wait_seconds > 0 &&
                              waiter->deadline_ms > now && pool != nullptr &&
                              !stopped_ &&
                              pool->waiters.size() < kMaxWaitersPerPool;
        if (none && may_wait) {
          pool->retry_at_ms =
              now + int64_t{1000} * decided.status().retry_after_s();
          // Back in its place by arrival.
          auto at = std::find_if(
              pool->waiters.begin(), pool->waiters.end(),
              [&](const Waiter& o) { return o.seq > waiter->seq; });
          pool->waiters.insert(at, std::move(*waiter));
          Arm(*pool, now);
        } else {
          next.push_back([this, waiter, decided = std::move(decided), now, none,
                          gone = pool == nullptr,
                          pool_id = order.pool_id]() mutable {
            if (decided.ok()) {
              waiter->done(LeaseJsonOf(decided->lease, &decided->profile,
                                       nullptr, waiter->with_secrets, now));
            } else if (none && gone) {
              waiter->done(PoolNotFound(pool_id));
            } else if (none && waiter->request.wait_seconds > 0) {
              waiter->done(Status::NoProfileAvailable(
                  "no profile of the pool became available in time",
                  decided.status().retry_after_s()));
            } else if (none ||
                       decided.status().code() == ErrorCode::kNotFound) {
              waiter->done(std::move(decided).status());
            } else {
              waiter->done(
                  Status::Unavailable("the lease could not be decided: " +
                                      decided.status().message()));
            }
          });
          if (pool != nullptr && is_waiting) {
            ServeShared(*pool, now, next);
          }
        }
      }
      for (auto& fn : next) fn();
    });
  });
}

void LeaseService::ServeShared(PoolState& pool, int64_t now_ms,
                               Deferred& later) {
  // Waiters whose time is up.
  for (auto w = pool.waiters.begin(); w != pool.waiters.end();) {
    if (w->deadline_ms <= now_ms) {
      const int retry = static_cast<int>(std::clamp<int64_t>(
          (pool.retry_at_ms - now_ms + 999) / 1000, 1, 86400));
      later.push_back([done = std::move(w->done), retry] {
        done(Status::NoProfileAvailable(
            "no profile of the pool became available in time", retry));
      });
      w = pool.waiters.erase(w);
    } else {
      ++w;
    }
  }
  if (!pool.deciding && !pool.waiters.empty() && !stopped_) {
    Waiter w = std::move(pool.waiters.front());
    pool.waiters.pop_front();
    DecideShared(pool, std::move(w), true, later);
  }
  Arm(pool, now_ms);
}

void LeaseService::RenewShared(const Principal& caller,
                               std::string_view lease_id,
                               const RenewRequest& request, Answer done) {
  std::optional<int64_t> ttl_ms;
  if (request.ttl_seconds) ttl_ms = int64_t{1000} * *request.ttl_seconds;
  const int64_t now = clock_.NowMs();
  store_.leases().RenewLive(
      caller.organization_id, lease_id, request.fencing_token, now, ttl_ms,
      [this, now, id = std::string(lease_id),
       with_secrets = caller.Has(Scope::kProfilesSecrets),
       done = std::move(done)](Result<DecidedLease> renewed) {
        if (renewed.ok()) {
          done(LeaseJsonOf(renewed->lease, &renewed->profile, nullptr,
                           with_secrets, now));
        } else if (renewed.status().code() == ErrorCode::kNotFound) {
          done(LeaseNotFound(id));
        } else if (renewed.status().code() == ErrorCode::kConflict) {
          done(std::move(renewed).status());
        } else {
          done(Status::Unavailable("the renewal could not be stored: " +
                                   renewed.status().message()));
        }
      });
}

void LeaseService::ReleaseShared(const Principal& caller,
                                 std::string_view lease_id, Done done) {
  store_.leases().ReleaseExisting(
      caller.organization_id, lease_id, clock_.NowMs(),
      [this, org = caller.organization_id, id = std::string(lease_id),
       done = std::move(done)](Status st) {
        if (st.code() == ErrorCode::kNotFound) {
          done(LeaseNotFound(id));
          return;
        }
        done(st);
        if (!st.ok()) return;
        // This node's waiters at once; other nodes' through the
        // announcement.
        Deferred later;
        {
          std::lock_guard<std::mutex> lock(mu_);
          WakeOrganization(org, later);
        }
        for (auto& fn : later) fn();
      });
}

}  // namespace agentry
