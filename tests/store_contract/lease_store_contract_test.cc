// The ProfileStore, PoolStore and LeaseStore contracts
// (src/agentry/store/store.h), typed suites run against every backend.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/domain/lease.h"
#include "agentry/domain/profile.h"
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

}  // namespace
}  // namespace agentry
