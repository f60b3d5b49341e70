// The ProfileStore, PoolStore and LeaseStore contracts
// (src/agentry/store/store.h), typed suites run against every backend.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/domain/lease.h"
#include "agentry/domain/profile.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"
#include "backends.h"

namespace agentry {
namespace {

using store_contract::Backends;
using store_contract::kT0;
using store_contract::StoreTest;

Profile MakeProfile(const std::string& org, const std::string& name,
                    bool enabled = true) {
  Profile p;
  p.created_at_ms = kT0 + 20;
  p.updated_at_ms = p.created_at_ms;
  p.id = NewUuidV7(p.created_at_ms);
  p.organization_id = org;
  p.config = boost::json::object{{"name", name},
                                 {"credentials", boost::json::array{}},
                                 {"enabled", enabled}};
  return p;
}

Pool MakePool(const std::string& org, const std::string& name) {
  Pool p;
  p.created_at_ms = kT0 + 30;
  p.updated_at_ms = p.created_at_ms;
  p.id = NewUuidV7(p.created_at_ms);
  p.organization_id = org;
  p.config = boost::json::object{{"name", name},
                                 {"selection_strategy", "least_recently_used"},
                                 {"allow_concurrent_use", false},
                                 {"default_lease_ttl_seconds", 300}};
  return p;
}

Lease MakeLease(const Pool& pool, const Profile& profile, int64_t token,
                int64_t at, int64_t ttl_ms = 60000) {
  Lease l;
  l.id = NewUuidV7(at);
  l.organization_id = pool.organization_id;
  l.pool_id = pool.id;
  l.profile_id = profile.id;
  l.exclusive = true;
  l.holder = "worker-1";
  l.fencing_token = token;
  l.acquired_at_ms = at;
  l.expires_at_ms = at + ttl_ms;
  return l;
}

// Runs an asynchronous lease write and waits for its status.
template <class Fn>
Status Wait(Fn&& submit) {
  std::promise<Status> done;
  auto f = done.get_future();
  submit([&done](Status st) { done.set_value(std::move(st)); });
  return f.get();
}

template <class Backend>
class LeaseStoreTest : public StoreTest<Backend> {
 protected:
  ProfileStore& profiles() { return this->store().profiles(); }
  PoolStore& pools() { return this->store().pools(); }
  LeaseStore& leases() { return this->store().leases(); }
};
TYPED_TEST_SUITE(LeaseStoreTest, Backends);

TYPED_TEST(LeaseStoreTest, ProfilesRoundTripAndStayInTheirOrganization) {
  auto [org, admin] = this->CreateOrg("prof-a");
  auto [other, other_admin] = this->CreateOrg("prof-b");
  Profile p = MakeProfile(org.id, "one");
  ASSERT_TRUE(this->profiles().Create(p).ok());
  auto got = this->profiles().Get(org.id, p.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->config, p.config);
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(this->profiles().Get(other.id, p.id).status().code(),
            ErrorCode::kNotFound);

  boost::json::object changed = p.config;
  changed["enabled"] = false;
  auto updated = this->profiles().Update(org.id, p.id, 1, changed, kT0 + 99);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->revision, 2);
  EXPECT_EQ(
      this->profiles().Update(org.id, p.id, 1, p.config, 0).status().code(),
      ErrorCode::kPreconditionFailed);
  EXPECT_EQ(this->profiles()
                .Update(other.id, p.id, std::nullopt, p.config, 0)
                .status()
                .code(),
            ErrorCode::kNotFound);
  auto page = this->profiles().List(org.id, PageRequest{std::nullopt, 10});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(this->profiles()
                  .List(other.id, PageRequest{std::nullopt, 10})
                  ->items.empty());
}

TYPED_TEST(LeaseStoreTest, PoolQueryFiltersSortsCountsAndPages) {
  auto [org, admin] = this->CreateOrg("query-a");
  auto [other, other_admin] = this->CreateOrg("query-b");
  const char* names[] = {"Alpha West", "beta", "ALPHA east", "gamma",
                         "alphabet"};
  std::vector<Pool> made;
  for (int i = 0; i < 5; ++i) {
    Pool p = MakePool(org.id, names[i]);
    p.created_at_ms = kT0 + 100 + i;
    p.updated_at_ms = kT0 + 200 - i;  // updated in the opposite order
    p.id = NewUuidV7(p.created_at_ms);
    ASSERT_TRUE(this->pools().Create(p).ok());
    made.push_back(p);
  }
  ASSERT_TRUE(this->pools().Create(MakePool(other.id, "alpha other")).ok());
  auto names_of = [](const PoolQueryResult& r) {
    std::vector<std::string> out;
    for (const Pool& p : r.items) {
      out.emplace_back(p.config.at("name").as_string().c_str());
    }
    return out;
  };

  PoolQuery q;  // default: every pool, newest first
  auto all = this->pools().Query(org.id, q);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->total, 5);
  EXPECT_EQ(names_of(*all),
            (std::vector<std::string>{"alphabet", "gamma", "ALPHA east", "beta",
                                      "Alpha West"}));

  q.name_contains = "alPHa";  // case-insensitive substring
  q.sort = PoolQuery::Sort::kName;
  q.descending = false;
  auto alpha = this->pools().Query(org.id, q);
  ASSERT_TRUE(alpha.ok());
  EXPECT_EQ(alpha->total, 3);
  EXPECT_EQ(names_of(*alpha),
            (std::vector<std::string>{"ALPHA east", "Alpha West", "alphabet"}));

  q.limit = 2;
  q.offset = 2;  // the second page of two
  auto page2 = this->pools().Query(org.id, q);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->total, 3);
  EXPECT_EQ(names_of(*page2), (std::vector<std::string>{"alphabet"}));

  q.offset = 10;  // past the end: nothing, but the count stays
  auto past = this->pools().Query(org.id, q);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->total, 3);
  EXPECT_TRUE(past->items.empty());

  PoolQuery by_update;
  by_update.sort = PoolQuery::Sort::kUpdatedAt;
  by_update.descending = false;
  auto updated = this->pools().Query(org.id, by_update);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(names_of(*updated),
            (std::vector<std::string>{"alphabet", "gamma", "ALPHA east", "beta",
                                      "Alpha West"}));

  PoolQuery literal;  // no pattern characters: % and _ are plain text
  literal.name_contains = "%";
  EXPECT_EQ(this->pools().Query(org.id, literal)->total, 0);

  PoolQuery none;
  none.name_contains = "zzz";
  auto empty = this->pools().Query(org.id, none);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->total, 0);
  EXPECT_TRUE(empty->items.empty());
}

TYPED_TEST(LeaseStoreTest, PoolNamesAreUniquePerOrganization) {
  auto [org, admin] = this->CreateOrg("pool-a");
  auto [other, other_admin] = this->CreateOrg("pool-b");
  ASSERT_TRUE(this->pools().Create(MakePool(org.id, "main")).ok());
  const Status dup = this->pools().Create(MakePool(org.id, "main"));
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_EQ(dup.field(), "name");
  EXPECT_TRUE(this->pools().Create(MakePool(other.id, "main")).ok());
  Pool second = MakePool(org.id, "second");
  ASSERT_TRUE(this->pools().Create(second).ok());
  boost::json::object renamed = second.config;
  renamed["name"] = "main";
  auto clash =
      this->pools().Update(org.id, second.id, std::nullopt, renamed, 0);
  EXPECT_EQ(clash.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(clash.status().field(), "name");
  EXPECT_EQ(this->pools().Get(org.id, second.id)->config.at("name"), "second");
}

TYPED_TEST(LeaseStoreTest, MembersAreAddedAllOrNothing) {
  auto [org, admin] = this->CreateOrg("members-a");
  auto [other, other_admin] = this->CreateOrg("members-b");
  Pool pool = MakePool(org.id, "p");
  ASSERT_TRUE(this->pools().Create(pool).ok());
  Profile a = MakeProfile(org.id, "a"), b = MakeProfile(org.id, "b");
  Profile foreign = MakeProfile(other.id, "x");
  for (const Profile* p : {&a, &b, &foreign}) {
    ASSERT_TRUE(this->profiles().Create(*p).ok());
  }
  // Another organization's profile: nothing is added.
  EXPECT_EQ(this->pools()
                .AddMembers(org.id, pool.id, {a.id, foreign.id}, kT0)
                .status()
                .code(),
            ErrorCode::kNotFound);
  auto snapshot = this->leases().Load(kT0);
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(snapshot->members.empty());

  auto added = this->pools().AddMembers(org.id, pool.id, {a.id, b.id}, kT0);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, 2u);
  EXPECT_EQ(*this->pools().AddMembers(org.id, pool.id, {a.id}, kT0), 0u);
  EXPECT_EQ(this->pools()
                .AddMembers(other.id, pool.id, {foreign.id}, kT0)
                .status()
                .code(),
            ErrorCode::kNotFound);

  auto removed =
      this->pools().RemoveMembers(org.id, pool.id, {a.id, foreign.id});
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1u);  // the foreign profile was never a member
  EXPECT_EQ(*this->pools().RemoveMembers(org.id, pool.id, {a.id}), 0u);
  EXPECT_EQ(
      this->pools().RemoveMembers(other.id, pool.id, {a.id}).status().code(),
      ErrorCode::kNotFound);
  // Deleting a profile takes its memberships with it.
  ASSERT_TRUE(this->profiles().Delete(org.id, b.id, std::nullopt).ok());
  snapshot = this->leases().Load(kT0);
  EXPECT_TRUE(snapshot->members.empty());
}

TYPED_TEST(LeaseStoreTest, GrantsRenewalsAndReleasesAreDurable) {
  auto [org, admin] = this->CreateOrg("leases-a");
  auto [other, other_admin] = this->CreateOrg("leases-b");
  Pool pool = MakePool(org.id, "p");
  Profile profile = MakeProfile(org.id, "a");
  ASSERT_TRUE(this->pools().Create(pool).ok());
  ASSERT_TRUE(this->profiles().Create(profile).ok());

  Lease first = MakeLease(pool, profile, 1, kT0 + 1000);
  Lease second = MakeLease(pool, profile, 2, kT0 + 2000);
  ASSERT_TRUE(Wait([&](auto done) { this->leases().Grant(first, done); }).ok());
  ASSERT_TRUE(
      Wait([&](auto done) { this->leases().Grant(second, done); }).ok());
  ASSERT_TRUE(Wait([&](auto done) {
                this->leases().Renew(org.id, second.id, kT0 + 90000, done);
              }).ok());
  ASSERT_TRUE(Wait([&](auto done) {
                this->leases().Release(org.id, first.id, kT0 + 2500, done);
              }).ok());
  // Idempotent release; renewing a released lease is a conflict.
  EXPECT_TRUE(Wait([&](auto done) {
                this->leases().Release(org.id, first.id, kT0 + 2600, done);
              }).ok());
  EXPECT_EQ(Wait([&](auto done) {
              this->leases().Renew(org.id, first.id, kT0 + 99999, done);
            }).code(),
            ErrorCode::kConflict);

  this->Reopen();
  auto got = this->leases().Get(org.id, first.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->released_at_ms, kT0 + 2500);
  EXPECT_EQ(this->leases().Get(other.id, first.id).status().code(),
            ErrorCode::kNotFound);
  auto live = this->leases().Load(kT0 + 3000);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->live_leases.size(), 1u);
  EXPECT_EQ(live->live_leases[0].id, second.id);
  EXPECT_EQ(live->live_leases[0].expires_at_ms, kT0 + 90000);
  EXPECT_EQ(live->live_leases[0].holder, "worker-1");
  ASSERT_EQ(live->lease_states.size(), 1u);
  EXPECT_EQ(live->lease_states[0].fencing_token, 2);
  EXPECT_EQ(live->lease_states[0].last_leased_at_ms, kT0 + 2000);
  // Expired leases are not live.
  EXPECT_TRUE(this->leases().Load(kT0 + 90000)->live_leases.empty());
  // Fencing tokens never go down, even if an older grant lands later.
  Lease late = MakeLease(pool, profile, 1, kT0 + 500);
  ASSERT_TRUE(Wait([&](auto done) { this->leases().Grant(late, done); }).ok());
  EXPECT_EQ(this->leases().Load(kT0)->lease_states[0].fencing_token, 2);
}

TYPED_TEST(LeaseStoreTest, GrantOfAProfileThatIsGoneWritesNothing) {
  auto [org, admin] = this->CreateOrg("leases-gone");
  Pool pool = MakePool(org.id, "p");
  Profile kept = MakeProfile(org.id, "kept");
  Profile gone = MakeProfile(org.id, "gone");
  ASSERT_TRUE(this->pools().Create(pool).ok());
  ASSERT_TRUE(this->profiles().Create(kept).ok());
  ASSERT_TRUE(this->profiles().Create(gone).ok());
  ASSERT_TRUE(this->profiles().Delete(org.id, gone.id, std::nullopt).ok());

  Lease orphan = MakeLease(pool, gone, 1, kT0 + 1000);
  EXPECT_EQ(Wait([&](auto done) { this->leases().Grant(orphan, done); }).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->leases().Get(org.id, orphan.id).status().code(),
            ErrorCode::kNotFound);
  // The next grant of a profile that exists is unaffected.
  Lease fine = MakeLease(pool, kept, 1, kT0 + 2000);
  ASSERT_TRUE(Wait([&](auto done) { this->leases().Grant(fine, done); }).ok());
  auto snapshot = this->leases().Load(kT0 + 2000);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->live_leases.size(), 1u);
  EXPECT_EQ(snapshot->live_leases[0].id, fine.id);
  ASSERT_EQ(snapshot->lease_states.size(), 1u);
  EXPECT_EQ(snapshot->lease_states[0].fencing_token, 1);
}

// ---- SQLite: grants folded into the token rows in batches (0007) ----

class SqliteLeaseFoldTest
    : public LeaseStoreTest<store_contract::SqliteBackend> {
 protected:
  void SetUp() override {
    LeaseStoreTest::SetUp();
    options_.lease_fold_every = 3;
    Reopen();
    org_ = CreateOrg("fold").first;
    pool_ = MakePool(org_.id, "p");
    a_ = MakeProfile(org_.id, "a");
    b_ = MakeProfile(org_.id, "b");
    ASSERT_TRUE(pools().Create(pool_).ok());
    ASSERT_TRUE(profiles().Create(a_).ok());
    ASSERT_TRUE(profiles().Create(b_).ok());
  }

  Lease GrantOk(const Profile& profile, int64_t token, int64_t at) {
    Lease l = MakeLease(pool_, profile, token, at);
    const Status st = Wait([&](auto done) { leases().Grant(l, done); });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return l;
  }

  // A write after everything submitted so far (the writer runs jobs in
  // order): a fold submitted before it has run when it returns.
  void Drain() {
    Lease l = MakeLease(pool_, a_, 1, kT0);
    ASSERT_TRUE(Wait([&](auto done) {
                  leases().Release(org_.id, l.id, kT0, done);
                }).ok());
  }

  // profile_grants as written: profile id -> (token, last_leased_at).
  std::map<std::string, std::pair<int64_t, int64_t>> TokenRows() {
    std::map<std::string, std::pair<int64_t, int64_t>> rows;
    auto conn = SqliteConnection::Open(backend_.path());
    EXPECT_TRUE(conn.ok());
    auto stmt = (*conn)->Prepare(
        "SELECT profile_id, fencing_token, last_leased_at FROM "
        "profile_grants");
    EXPECT_TRUE(stmt.ok());
    while (*stmt->Step()) {
      rows[stmt->Text(0)] = {stmt->Int64(1), stmt->Int64(2)};
    }
    return rows;
  }

  std::string FoldedThrough() {
    return store_contract::SqliteFoldedThrough(backend_.path());
  }

  // The snapshot's token and start time of `profile`.
  std::pair<int64_t, std::optional<int64_t>> Loaded(const Profile& profile) {
    auto snapshot = leases().Load(kT0);
    EXPECT_TRUE(snapshot.ok());
    for (const ProfileLeaseState& s : snapshot->lease_states) {
      if (s.profile_id == profile.id) {
        return {s.fencing_token, s.last_leased_at_ms};
      }
    }
    ADD_FAILURE() << "no lease state for " << profile.id;
    return {};
  }

  Organization org_;
  Pool pool_;
  Profile a_, b_;
};

TEST_F(SqliteLeaseFoldTest, TokensAreFoldedEveryFewGrantsAndLoadedInBetween) {
  GrantOk(a_, 1, kT0 + 1000);
  GrantOk(b_, 1, kT0 + 1100);
  // Not folded yet: the token rows are untouched, Load reads the leases.
  EXPECT_TRUE(TokenRows().empty());
  EXPECT_EQ(Loaded(a_), std::pair(int64_t{1}, std::optional(kT0 + 1000)));
  const Lease third = GrantOk(a_, 2, kT0 + 1200);  // the third: a fold
  Drain();
  auto rows = TokenRows();
  EXPECT_EQ(rows[a_.id], std::pair(int64_t{2}, kT0 + 1200));
  EXPECT_EQ(rows[b_.id], std::pair(int64_t{1}, kT0 + 1100));
  EXPECT_EQ(FoldedThrough(), third.id);

  // One more, not folded; then a restart.
  GrantOk(a_, 3, kT0 + 1300);
  EXPECT_EQ(TokenRows()[a_.id].first, 2);
  EXPECT_EQ(Loaded(a_), std::pair(int64_t{3}, std::optional(kT0 + 1300)));
  Reopen();
  EXPECT_EQ(Loaded(a_), std::pair(int64_t{3}, std::optional(kT0 + 1300)));
  EXPECT_EQ(Loaded(b_), std::pair(int64_t{1}, std::optional(kT0 + 1100)));

  // The next fold (the first of this process) also covers the lease the
  // last process wrote after its fold.
  GrantOk(b_, 2, kT0 + 1400);
  GrantOk(b_, 3, kT0 + 1500);
  const Lease last = GrantOk(b_, 4, kT0 + 1600);
  Drain();
  rows = TokenRows();
  EXPECT_EQ(rows[a_.id], std::pair(int64_t{3}, kT0 + 1300));
  EXPECT_EQ(rows[b_.id], std::pair(int64_t{4}, kT0 + 1600));
  EXPECT_EQ(FoldedThrough(), last.id);
}

TEST_F(SqliteLeaseFoldTest,
       ALeaseIdBeforeTheFoldedOnesRaisesItsTokenRowAtOnce) {
  GrantOk(a_, 1, kT0 + 1000);
  GrantOk(a_, 2, kT0 + 1100);
  GrantOk(a_, 3, kT0 + 1200);
  Drain();
  ASSERT_EQ(TokenRows()[b_.id].first, 0);
  // A clock set back: an id that sorts before the folded ones. The next
  // fold starts after them, so this grant writes its token row itself.
  Lease back = MakeLease(pool_, b_, 5, kT0 + 900);
  back.id = "00000000-0000-7000-8000-000000000001";
  ASSERT_TRUE(Wait([&](auto done) { leases().Grant(back, done); }).ok());
  EXPECT_EQ(TokenRows()[b_.id], std::pair(int64_t{5}, kT0 + 900));
  Reopen();
  EXPECT_EQ(Loaded(b_), std::pair(int64_t{5}, std::optional(kT0 + 900)));
}

TEST_F(SqliteLeaseFoldTest, AFoldLeavesOutAProfileThatIsGone) {
  GrantOk(a_, 1, kT0 + 1000);
  const Lease gone = GrantOk(b_, 7, kT0 + 1100);
  ASSERT_TRUE(profiles().Delete(org_.id, b_.id, std::nullopt).ok());
  // The writer forgot b with its delete: b's next grant is refused. (The
  // third grant submitted: a fold follows it.)
  Lease refused = MakeLease(pool_, b_, 8, kT0 + 1150);
  EXPECT_EQ(Wait([&](auto done) { leases().Grant(refused, done); }).code(),
            ErrorCode::kNotFound);
  Drain();
  auto rows = TokenRows();
  EXPECT_EQ(rows.count(b_.id), 0u);
  EXPECT_EQ(rows[a_.id], std::pair(int64_t{1}, kT0 + 1000));
  EXPECT_EQ(FoldedThrough(), gone.id);
  EXPECT_EQ(leases().Get(org_.id, refused.id).status().code(),
            ErrorCode::kNotFound);
  GrantOk(a_, 2, kT0 + 1200);
  EXPECT_EQ(Loaded(a_), std::pair(int64_t{2}, std::optional(kT0 + 1200)));
}

TEST_F(SqliteLeaseFoldTest, LiveLeasesLoadWhetherPinnedByAFoldOrAfterIt) {
  auto release = [&](const Lease& l, int64_t at) {
    ASSERT_TRUE(Wait([&](auto done) {
                  leases().Release(org_.id, l.id, at, done);
                }).ok());
  };
  const Lease l1 = GrantOk(a_, 1, kT0 + 1000);
  const Lease l2 = GrantOk(b_, 1, kT0 + 1100);
  release(l2, kT0 + 1150);
  const Lease l3 = GrantOk(a_, 2, kT0 + 1200);  // a fold follows
  Drain();
  const Lease l4 = GrantOk(b_, 2, kT0 + 1300);  // after the fold
  const Lease l5 = GrantOk(b_, 3, kT0 + 1400);
  release(l5, kT0 + 1450);

  auto conn = SqliteConnection::Open(backend_.path());
  ASSERT_TRUE(conn.ok());
  auto stmt = (*conn)->Prepare("SELECT id, pinned FROM leases");
  ASSERT_TRUE(stmt.ok());
  std::map<std::string, bool> pinned;
  while (*stmt->Step()) pinned[stmt->Text(0)] = !stmt->IsNull(1);
  EXPECT_TRUE(pinned[l1.id]);
  EXPECT_FALSE(pinned[l2.id]);  // released before the fold
  EXPECT_TRUE(pinned[l3.id]);
  EXPECT_FALSE(pinned[l4.id]);
  EXPECT_FALSE(pinned[l5.id]);

  auto live_ids = [&](int64_t now) {
    std::set<std::string> ids;
    auto snapshot = leases().Load(now);
    EXPECT_TRUE(snapshot.ok());
    for (const Lease& l : snapshot->live_leases) ids.insert(l.id);
    return ids;
  };
  Reopen();
  EXPECT_EQ(live_ids(kT0 + 2000), (std::set<std::string>{l1.id, l3.id, l4.id}));
  release(l1, kT0 + 2100);
  release(l4, kT0 + 2200);
  EXPECT_EQ(live_ids(kT0 + 2300), (std::set<std::string>{l3.id}));
  // Expired leases are not live, pinned or not.
  EXPECT_TRUE(live_ids(l3.expires_at_ms).empty());
}

}  // namespace
}  // namespace agentry
