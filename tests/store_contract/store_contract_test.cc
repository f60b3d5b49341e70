// The store contract (src/agentry/store/store.h) for organizations and API
// keys, one typed suite run against every backend (backends.h; agents are in
// agent_store_contract_test.cc).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/store/migration.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"
#include "backends.h"

namespace agentry {
namespace {

using store_contract::Backends;
using store_contract::kT0;
using store_contract::MakeKey;
using store_contract::MakeOrg;
using store_contract::SqliteBackend;
using store_contract::SqliteFoldedThrough;
using store_contract::StoreTest;

// ---- helpers ----

void ExpectSameKey(const ApiKey& want, const ApiKey& got) {
  EXPECT_EQ(want.id, got.id);
  EXPECT_EQ(want.organization_id, got.organization_id);
  EXPECT_EQ(want.name, got.name);
  EXPECT_EQ(want.prefix, got.prefix);
  EXPECT_EQ(want.hash_hex, got.hash_hex);
  EXPECT_EQ(want.scopes, got.scopes);
  EXPECT_EQ(want.agent_ids, got.agent_ids);
  EXPECT_EQ(want.expires_at_ms, got.expires_at_ms);
  EXPECT_EQ(want.revoked_at_ms, got.revoked_at_ms);
  ASSERT_EQ(want.rate_limit.has_value(), got.rate_limit.has_value());
  if (want.rate_limit) {
    EXPECT_EQ(want.rate_limit->per_second, got.rate_limit->per_second);
    EXPECT_EQ(want.rate_limit->burst, got.rate_limit->burst);
  }
  EXPECT_EQ(want.created_by, got.created_by);
  EXPECT_EQ(want.created_at_ms, got.created_at_ms);
}

std::vector<std::string> Ids(const std::vector<ApiKey>& keys) {
  std::vector<std::string> ids;
  for (const ApiKey& k : keys) ids.push_back(k.id);
  return ids;
}

bool Has(const std::vector<ApiKey>& keys, const std::string& id) {
  return std::any_of(keys.begin(), keys.end(),
                     [&](const ApiKey& k) { return k.id == id; });
}

// ---- fixture ----

template <class Backend>
class StoreContractTest : public StoreTest<Backend> {};

TYPED_TEST_SUITE(StoreContractTest, Backends);

// ---- store ----

TYPED_TEST(StoreContractTest, PingsAndNamesItsBackend) {
  EXPECT_TRUE(this->store().Ping().ok());
  EXPECT_EQ(this->store().backend(), TypeParam::kName);
}

// ---- bootstrap ----

TYPED_TEST(StoreContractTest, BootstrapCreatesOnceAndOnlyOnce) {
  const Organization first = MakeOrg("default");
  ApiKey first_key = MakeKey(first.id, "bootstrap admin");
  first_key.scopes = {"*", "admin"};
  Result<bool> created = this->orgs().Bootstrap(first, first_key);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);

  Result<Organization> got = this->orgs().Get(first.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, first.id);
  EXPECT_EQ(got->name, "default");
  EXPECT_EQ(got->created_at_ms, first.created_at_ms);
  Result<ApiKey> key = this->keys().Get(first.id, first_key.id);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ExpectSameKey(first_key, *key);

  // A second bootstrap (another name, so only "no organization" can stop
  // it) writes nothing.
  const Organization second = MakeOrg("other");
  const ApiKey second_key = MakeKey(second.id, "bootstrap admin");
  created = this->orgs().Bootstrap(second, second_key);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(*created);
  EXPECT_EQ(this->orgs().Get(second.id).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(this->keys().Get(second.id, second_key.id).status().code(),
            ErrorCode::kNotFound);

  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_EQ(Ids(*active), std::vector<std::string>{first_key.id});
}

TYPED_TEST(StoreContractTest, BootstrapDoesNothingWhenAnOrganizationExists) {
  const auto [org, admin] = this->CreateOrg("acme");
  const Organization boot = MakeOrg("default");
  const ApiKey boot_key = MakeKey(boot.id, "bootstrap admin");
  Result<bool> created = this->orgs().Bootstrap(boot, boot_key);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(*created);
  EXPECT_EQ(this->orgs().Get(boot.id).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(this->orgs().Get(org.id).ok());
}

TYPED_TEST(StoreContractTest, ConcurrentBootstrapsCreateExactlyOne) {
  constexpr int kThreads = 8;
  std::vector<Organization> orgs;
  std::vector<ApiKey> keys;
  for (int i = 0; i < kThreads; ++i) {
    orgs.push_back(MakeOrg("default"));  // same name, as every node would
    keys.push_back(MakeKey(orgs.back().id, "bootstrap admin"));
  }
  std::vector<Result<bool>> results(kThreads, Status::Internal("not run"));
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = this->orgs().Bootstrap(orgs[i], keys[i]);
    });
  }
  for (std::thread& t : threads) t.join();

  int winners = 0;
  int winner = -1;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status().ToString();
    if (*results[i]) {
      ++winners;
      winner = i;
    }
  }
  ASSERT_EQ(winners, 1);
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(this->orgs().Get(orgs[i].id).ok(), i == winner) << i;
  }
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_EQ(Ids(*active), std::vector<std::string>{keys[winner].id});
}

// ---- organizations ----

TYPED_TEST(StoreContractTest,
           DuplicateOrganizationNameConflictsAndWritesNothing) {
  const auto [acme, acme_admin] = this->CreateOrg("acme");
  const Organization again = MakeOrg("acme");
  const ApiKey again_admin = MakeKey(again.id, "admin");
  const Status st = this->orgs().Create(again, again_admin);
  EXPECT_EQ(st.code(), ErrorCode::kConflict) << st.ToString();
  EXPECT_EQ(st.field(), "name");
  EXPECT_EQ(this->orgs().Get(again.id).status().code(), ErrorCode::kNotFound);
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_EQ(Ids(*active), std::vector<std::string>{acme_admin.id});
}

TYPED_TEST(StoreContractTest, GetOrganizationNotFound) {
  const Result<Organization> got = this->orgs().Get(NewUuidV7(kT0));
  EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
}

TYPED_TEST(StoreContractTest, CreateAndGetOrganizations) {
  const auto [a, a_admin] = this->CreateOrg("alpha");
  const auto [b, b_admin] = this->CreateOrg("beta");
  Result<Organization> got = this->orgs().Get(b.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, b.id);
  EXPECT_EQ(got->name, "beta");
  EXPECT_EQ(got->created_at_ms, b.created_at_ms);
  Result<ApiKey> admin = this->keys().Get(a.id, a_admin.id);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  ExpectSameKey(a_admin, *admin);
}

// ---- keys ----

TYPED_TEST(StoreContractTest, KeysPageByIdAscending) {
  // The admin key plus six more: seven keys in the organization.
  const auto [org, admin] = this->CreateOrg("acme");
  std::vector<ApiKey> created = {admin};
  for (int i = 0; i < 6; ++i) {
    created.push_back(MakeKey(org.id, "key " + std::to_string(i)));
    const Status st = this->keys().Create(created.back());
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Noise in another organization must not show up.
  const auto [other, other_admin] = this->CreateOrg("other");

  std::vector<ApiKey> seen;
  std::vector<size_t> sizes;
  std::vector<bool> more;
  PageRequest req;
  req.limit = 3;
  for (int guard = 0; guard < 10; ++guard) {
    Result<Page<ApiKey>> page = this->keys().List(org.id, req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    sizes.push_back(page->items.size());
    more.push_back(page->has_more);
    seen.insert(seen.end(), page->items.begin(), page->items.end());
    if (!page->has_more) break;
    ASSERT_FALSE(page->items.empty());
    req.after_id = page->items.back().id;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(more, (std::vector<bool>{true, true, false}));

  std::vector<std::string> want = Ids(created);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Ids(seen), want);  // each once, ascending
  for (const ApiKey& k : created) {
    auto it = std::find_if(seen.begin(), seen.end(),
                           [&](const ApiKey& s) { return s.id == k.id; });
    ASSERT_NE(it, seen.end());
    ExpectSameKey(k, *it);
  }

  // Boundaries: a limit equal to the count has no more; one less has.
  req = PageRequest{};
  req.limit = 7;
  Result<Page<ApiKey>> all = this->keys().List(org.id, req);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 7u);
  EXPECT_FALSE(all->has_more);
  req.limit = 6;
  Result<Page<ApiKey>> six = this->keys().List(org.id, req);
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(six->items.size(), 6u);
  EXPECT_TRUE(six->has_more);
  // After the last id: an empty page.
  req.after_id = want.back();
  Result<Page<ApiKey>> none = this->keys().List(org.id, req);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->has_more);
}

TYPED_TEST(StoreContractTest, KeysOfAnotherOrganizationAreInvisible) {
  const auto [a, a_admin] = this->CreateOrg("alpha");
  const auto [b, b_admin] = this->CreateOrg("beta");
  const ApiKey a_key = MakeKey(a.id, "alpha key");
  ASSERT_TRUE(this->keys().Create(a_key).ok());

  EXPECT_EQ(this->keys().Get(b.id, a_key.id).status().code(),
            ErrorCode::kNotFound);
  Result<Page<ApiKey>> b_page = this->keys().List(b.id, PageRequest{});
  ASSERT_TRUE(b_page.ok()) << b_page.status().ToString();
  EXPECT_EQ(Ids(b_page->items), std::vector<std::string>{b_admin.id});
  EXPECT_FALSE(b_page->has_more);
  EXPECT_EQ(this->keys().Revoke(b.id, a_key.id, kT0 + 5).code(),
            ErrorCode::kNotFound);

  // The failed revoke changed nothing for the owner.
  Result<ApiKey> still = this->keys().Get(a.id, a_key.id);
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_FALSE(still->revoked_at_ms.has_value());
  Result<Page<ApiKey>> a_page = this->keys().List(a.id, PageRequest{});
  ASSERT_TRUE(a_page.ok());
  EXPECT_TRUE(Has(a_page->items, a_key.id));
}

TYPED_TEST(StoreContractTest, RevokedKeyIsGettableButNotListed) {
  const auto [org, admin] = this->CreateOrg("acme");
  const ApiKey key = MakeKey(org.id, "to revoke");
  ASSERT_TRUE(this->keys().Create(key).ok());

  const Status revoked = this->keys().Revoke(org.id, key.id, kT0 + 99);
  ASSERT_TRUE(revoked.ok()) << revoked.ToString();

  Result<ApiKey> got = this->keys().Get(org.id, key.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->revoked_at_ms, std::optional<int64_t>(kT0 + 99));
  Result<Page<ApiKey>> page = this->keys().List(org.id, PageRequest{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Ids(page->items), std::vector<std::string>{admin.id});
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok());
  EXPECT_FALSE(Has(*active, key.id));
  EXPECT_TRUE(Has(*active, admin.id));

  // Revoking again, or revoking an unknown key: not found, nothing changes.
  EXPECT_EQ(this->keys().Revoke(org.id, key.id, kT0 + 500).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->keys().Revoke(org.id, NewUuidV7(kT0), kT0).code(),
            ErrorCode::kNotFound);
  got = this->keys().Get(org.id, key.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->revoked_at_ms, std::optional<int64_t>(kT0 + 99));
}

TYPED_TEST(StoreContractTest, DuplicateHashOrIdConflicts) {
  const auto [org, admin] = this->CreateOrg("acme");
  const ApiKey key = MakeKey(org.id, "one");
  ASSERT_TRUE(this->keys().Create(key).ok());

  ApiKey same_hash = MakeKey(org.id, "two");
  same_hash.hash_hex = key.hash_hex;
  EXPECT_EQ(this->keys().Create(same_hash).code(), ErrorCode::kConflict);
  EXPECT_EQ(this->keys().Get(org.id, same_hash.id).status().code(),
            ErrorCode::kNotFound);

  ApiKey same_id = MakeKey(org.id, "three");
  same_id.id = key.id;
  EXPECT_EQ(this->keys().Create(same_id).code(), ErrorCode::kConflict);
  Result<ApiKey> got = this->keys().Get(org.id, key.id);
  ASSERT_TRUE(got.ok());
  ExpectSameKey(key, *got);  // the original is untouched

  // An organization whose admin key clashes is not created either.
  const Organization clash = MakeOrg("clash");
  ApiKey clash_admin = MakeKey(clash.id, "admin");
  clash_admin.hash_hex = key.hash_hex;
  EXPECT_EQ(this->orgs().Create(clash, clash_admin).code(),
            ErrorCode::kConflict);
  EXPECT_EQ(this->orgs().Get(clash.id).status().code(), ErrorCode::kNotFound);
}

TYPED_TEST(StoreContractTest, OptionalFieldsRoundTrip) {
  const auto [org, admin] = this->CreateOrg("acme");

  ApiKey bare = MakeKey(org.id, "bare");  // every optional field absent
  ApiKey none = MakeKey(org.id, "no agents");
  none.agent_ids = std::vector<std::string>{};
  ApiKey full = MakeKey(org.id, "full \"quoted\" name");
  full.scopes = {"agents:read", "we\"ird\\scope", "ünïcödé", ""};
  full.agent_ids = std::vector<std::string>{NewUuidV7(kT0), NewUuidV7(kT0)};
  full.expires_at_ms = kT0 + 86'400'000;
  full.rate_limit = RateLimit{2.5, 10};
  full.created_by = admin.id;
  for (const ApiKey* k : {&bare, &none, &full}) {
    const Status st = this->keys().Create(*k);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  Result<ApiKey> got = this->keys().Get(org.id, bare.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameKey(bare, *got);
  EXPECT_FALSE(got->agent_ids.has_value());
  EXPECT_FALSE(got->expires_at_ms.has_value());
  EXPECT_FALSE(got->revoked_at_ms.has_value());
  EXPECT_FALSE(got->rate_limit.has_value());
  EXPECT_FALSE(got->created_by.has_value());

  got = this->keys().Get(org.id, none.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->agent_ids.has_value());  // empty list, not "all agents"
  EXPECT_TRUE(got->agent_ids->empty());

  got = this->keys().Get(org.id, full.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameKey(full, *got);

  // ListActive returns the same values.
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok());
  for (const ApiKey* k : {&bare, &none, &full}) {
    auto it = std::find_if(active->begin(), active->end(),
                           [&](const ApiKey& a) { return a.id == k->id; });
    ASSERT_NE(it, active->end());
    ExpectSameKey(*k, *it);
  }
}

TYPED_TEST(StoreContractTest, ConcurrentKeyCreatesAllLand) {
  const auto [org, admin] = this->CreateOrg("acme");
  constexpr int kThreads = 16;
  constexpr int kPerThread = 5;
  std::vector<std::vector<ApiKey>> made(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      made[t].push_back(MakeKey(org.id, "k" + std::to_string(t * 100 + i)));
    }
  }
  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (const ApiKey& k : made[t]) {
        if (!this->keys().Create(k).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), static_cast<size_t>(kThreads * kPerThread + 1));
  std::set<std::string> ids;
  for (const ApiKey& k : *active) ids.insert(k.id);
  for (const auto& per_thread : made) {
    for (const ApiKey& k : per_thread) EXPECT_TRUE(ids.count(k.id)) << k.id;
  }
}

// ---- durability ----

TYPED_TEST(StoreContractTest, EverythingSurvivesReopen) {
  const Organization boot = MakeOrg("default");
  const ApiKey boot_key = MakeKey(boot.id, "bootstrap admin");
  Result<bool> booted = this->orgs().Bootstrap(boot, boot_key);
  ASSERT_TRUE(booted.ok()) << booted.status().ToString();
  ASSERT_TRUE(*booted);
  const auto [org, admin] = this->CreateOrg("acme");
  ApiKey full = MakeKey(org.id, "full");
  full.agent_ids = std::vector<std::string>{NewUuidV7(kT0)};
  full.rate_limit = RateLimit{0.5, 3};
  full.expires_at_ms = kT0 + 1000;
  full.created_by = admin.id;
  ASSERT_TRUE(this->keys().Create(full).ok());
  const ApiKey gone = MakeKey(org.id, "gone");
  ASSERT_TRUE(this->keys().Create(gone).ok());
  ASSERT_TRUE(this->keys().Revoke(org.id, gone.id, kT0 + 7).ok());

  // Twice: the second reopen finds every migration already applied.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    this->Reopen();
    Result<Organization> got_org = this->orgs().Get(org.id);
    ASSERT_TRUE(got_org.ok()) << got_org.status().ToString();
    EXPECT_EQ(got_org->name, "acme");
    EXPECT_TRUE(this->orgs().Get(boot.id).ok());
    Result<ApiKey> got = this->keys().Get(org.id, full.id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectSameKey(full, *got);
    got = this->keys().Get(org.id, gone.id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->revoked_at_ms, std::optional<int64_t>(kT0 + 7));
    Result<std::vector<ApiKey>> active = this->keys().ListActive();
    ASSERT_TRUE(active.ok());
    std::vector<std::string> want = {boot_key.id, admin.id, full.id};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(Ids(*active), want);
    // Still bootstrapped: a new bootstrap does nothing.
    const Organization boot2 = MakeOrg("default2");
    Result<bool> again =
        this->orgs().Bootstrap(boot2, MakeKey(boot2.id, "bootstrap admin"));
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    // Duplicate name still enforced after reopen.
    const Organization dup = MakeOrg("acme");
    EXPECT_EQ(this->orgs().Create(dup, MakeKey(dup.id, "admin")).code(),
              ErrorCode::kConflict);
  }
}

// ---- OpenStore URLs (backend-independent) ----

TEST(OpenStoreTest, PostgresUrlsNeverEchoTheirPassword) {
  // Nothing listens on port 1: the server is unreachable. Schemes are
  // case-insensitive.
  for (const char* url : {"postgres://agentry:s3cret-pw@127.0.0.1:1/agentry",
                          "PostgreSQL://agentry:s3cret-pw@127.0.0.1:1/x"}) {
    Result<std::unique_ptr<Store>> store = OpenStore(url);
    EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable) << url;
    EXPECT_NE(store.status().message().find("PostgreSQL"), std::string::npos);
    EXPECT_EQ(store.status().message().find("s3cret-pw"), std::string::npos)
        << store.status().message();
  }
  // Not a valid URI at all.
  Result<std::unique_ptr<Store>> bad =
      OpenStore("postgres://agentry:s3cret-pw@[::1/agentry");
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(bad.status().message().find("s3cret-pw"), std::string::npos)
      << bad.status().message();
}

TEST(OpenStoreTest, UnknownSchemeNamesTheAcceptedOnes) {
  Result<std::unique_ptr<Store>> store =
      OpenStore("mysql://root:secret@localhost/x");
  EXPECT_EQ(store.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_NE(store.status().message().find("sqlite://"), std::string::npos);
  EXPECT_NE(store.status().message().find("postgres://"), std::string::npos);
  EXPECT_EQ(store.status().message().find("secret"), std::string::npos);
  EXPECT_EQ(OpenStore("./data/agentry.db").status().code(),
            ErrorCode::kInvalidRequest);
}

TEST(OpenStoreTest, SqliteNeedsAPath) {
  EXPECT_EQ(OpenStore("sqlite://").status().code(), ErrorCode::kInvalidRequest);
}

// ---- SQLite specifics ----

TEST(SqliteStoreTest, UnopenablePathIsUnavailable) {
  SqliteBackend backend;
  // The parent "directory" is a regular file.
  const std::string file = backend.dir + "/plain";
  {
    auto c = SqliteConnection::Open(file);
    ASSERT_TRUE(c.ok());
  }
  Result<std::unique_ptr<Store>> store =
      OpenStore("sqlite://" + file + "/agentry.db");
  EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable);
}

TEST(SqliteStoreTest, MigrationsAreRecordedOnceAndWalIsOn) {
  SqliteBackend backend;
  for (int i = 0; i < 2; ++i) {
    Result<std::unique_ptr<Store>> store = OpenStore(backend.url());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  Result<std::unique_ptr<SqliteConnection>> conn =
      SqliteConnection::Open(backend.path());
  ASSERT_TRUE(conn.ok());
  {
    Result<SqliteStatement> stmt = (*conn)->Prepare(
        "SELECT COUNT(*), MAX(version) FROM schema_migrations");
    ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
    ASSERT_TRUE(*stmt->Step());
    EXPECT_EQ(stmt->Int64(0), static_cast<int64_t>(kSqliteMigrationsCount));
    EXPECT_EQ(stmt->Int64(1),
              kSqliteMigrations[kSqliteMigrationsCount - 1].version);
  }
  Result<SqliteStatement> mode = (*conn)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
}

// Applies the embedded migrations older than `version` to `c`, as a binary
// of that time would have, recording them.
void ApplyMigrationsBefore(SqliteConnection& c, int version) {
  ASSERT_TRUE(c.Exec("CREATE TABLE schema_migrations (version INTEGER "
                     "PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER "
                     "NOT NULL) STRICT")
                  .ok());
  for (size_t i = 0; i < kSqliteMigrationsCount; ++i) {
    const Migration& m = kSqliteMigrations[i];
    if (m.version >= version) break;
    ASSERT_TRUE(c.Exec(m.sql).ok()) << m.name;
    Result<SqliteStatement> rec = c.Prepare(
        "INSERT INTO schema_migrations (version, name, applied_at) "
        "VALUES (?, ?, ?)");
    ASSERT_TRUE(rec.ok());
    rec->BindAll(m.version, m.name, kT0);
    ASSERT_TRUE(rec->Run().ok());
  }
}

// Creates the database at `path` as a binary from before migration `version`
// left it; the open connection goes to *out.
void OpenBefore(const std::string& path, int version,
                std::unique_ptr<SqliteConnection>* out) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open(path);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ApplyMigrationsBefore(**conn, version));
  *out = std::move(*conn);
}

// A database written before 0005_lease_hot_path keeps its profiles' fencing
// tokens and last grant times through the migration.
TEST(SqliteStoreTest, LeaseHotPathMigrationKeepsTokens) {
  SqliteBackend backend;
  {
    std::unique_ptr<SqliteConnection> conn;
    ASSERT_NO_FATAL_FAILURE(OpenBefore(backend.path(), 5, &conn));
    SqliteConnection& c = *conn;
    Result<SqliteStatement> org = c.Prepare(
        "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)");
    ASSERT_TRUE(org.ok());
    org->BindAll("org-1", "one", kT0);
    ASSERT_TRUE(org->Run().ok());
    for (const auto& [id, token] :
         {std::pair<std::string, int64_t>{"leased", 7}, {"never", 0}}) {
      Result<SqliteStatement> p = c.Prepare(
          "INSERT INTO profiles (organization_id, id, config, enabled, "
          "revision, fencing_token, last_leased_at, created_at, updated_at) "
          "VALUES ('org-1', ?, '{\"name\":\"p\"}', 1, 1, ?, ?, ?, ?)");
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      p->Bind(1, id).Bind(2, token);
      if (token > 0) {
        p->Bind(3, kT0 + 5);
      } else {
        p->Bind(3, std::nullopt);
      }
      p->Bind(4, kT0).Bind(5, kT0);
      ASSERT_TRUE(p->Run().ok());
    }
  }
  Result<std::unique_ptr<Store>> store = OpenStore(backend.url());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<LeaseSnapshot> snapshot = (*store)->leases().Load(kT0);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  ASSERT_EQ(snapshot->lease_states.size(), 2u);
  for (const ProfileLeaseState& s : snapshot->lease_states) {
    if (s.profile_id == "leased") {
      EXPECT_EQ(s.fencing_token, 7);
      EXPECT_EQ(s.last_leased_at_ms, kT0 + 5);
    } else {
      EXPECT_EQ(s.fencing_token, 0);
      EXPECT_EQ(s.last_leased_at_ms, std::nullopt);
    }
  }
}

// A database written before 0006_leases_without_rowid keeps every lease,
// released or live, through the table's rebuild.
TEST(SqliteStoreTest, LeasesWithoutRowidMigrationKeepsLeases) {
  SqliteBackend backend;
  {
    std::unique_ptr<SqliteConnection> conn;
    ASSERT_NO_FATAL_FAILURE(OpenBefore(backend.path(), 6, &conn));
    SqliteConnection& c = *conn;
    ASSERT_TRUE(
        c.Exec("INSERT INTO organizations (id, name, created_at) VALUES "
               "('org-1', 'one', 1);"
               "INSERT INTO leases (id, organization_id, pool_id, profile_id, "
               "exclusive, holder, fencing_token, acquired_at, expires_at, "
               "released_at) VALUES "
               "('l-live', 'org-1', 'pool-1', 'prof-1', 1, 'runner-7', 3, "
               "1763840000123, 1763840300123, NULL),"
               "('l-done', 'org-1', 'pool-1', 'prof-2', 0, NULL, 9, "
               "1763840000000, 1763840300000, 1763840000100)")
            .ok());
  }
  Result<std::unique_ptr<Store>> store = OpenStore(backend.url());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<Lease> live = (*store)->leases().Get("org-1", "l-live");
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_EQ(live->pool_id, "pool-1");
  EXPECT_EQ(live->profile_id, "prof-1");
  EXPECT_TRUE(live->exclusive);
  EXPECT_EQ(live->holder, "runner-7");
  EXPECT_EQ(live->fencing_token, 3);
  EXPECT_EQ(live->acquired_at_ms, kT0);
  EXPECT_EQ(live->expires_at_ms, kT0 + 300000);
  EXPECT_EQ(live->released_at_ms, std::nullopt);
  Result<Lease> done = (*store)->leases().Get("org-1", "l-done");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(done->exclusive);
  EXPECT_EQ(done->holder, std::nullopt);
  EXPECT_EQ(done->released_at_ms, 1763840000100);
  Result<LeaseSnapshot> snapshot = (*store)->leases().Load(kT0 + 1);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  ASSERT_EQ(snapshot->live_leases.size(), 1u);
  EXPECT_EQ(snapshot->live_leases[0].id, "l-live");

  Result<std::unique_ptr<SqliteConnection>> conn =
      SqliteConnection::Open(backend.path());
  ASSERT_TRUE(conn.ok());
  Result<SqliteStatement> schema = (*conn)->Prepare(
      "SELECT sql FROM sqlite_schema WHERE type = 'table' AND "
      "name = 'leases'");
  ASSERT_TRUE(schema.ok());
  ASSERT_TRUE(*schema->Step());
  EXPECT_NE(schema->Text(0).find("WITHOUT ROWID"), std::string::npos);
  // 0008 then moved the live lease into the index of pinned leases.
  Result<SqliteStatement> index = (*conn)->Prepare(
      "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND "
      "name = 'leases_pinned'");
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(*index->Step());
  EXPECT_EQ(index->Int64(0), 1);
  Result<SqliteStatement> pinned =
      (*conn)->Prepare("SELECT id, pinned FROM leases ORDER BY id");
  ASSERT_TRUE(pinned.ok());
  ASSERT_TRUE(*pinned->Step());
  EXPECT_EQ(pinned->Text(0), "l-done");
  EXPECT_TRUE(pinned->IsNull(1));
  ASSERT_TRUE(*pinned->Step());
  EXPECT_EQ(pinned->Text(0), "l-live");
  EXPECT_EQ(pinned->Int64(1), 1);
}

// A database written before 0007_grants_folded_in_batches: every lease
// already raised its token row, so the fold starts after the last lease.
TEST(SqliteStoreTest, GrantsFoldedMigrationStartsAfterTheLastLease) {
  SqliteBackend backend;
  {
    std::unique_ptr<SqliteConnection> conn;
    ASSERT_NO_FATAL_FAILURE(OpenBefore(backend.path(), 7, &conn));
    ASSERT_TRUE(conn->Exec("INSERT INTO leases (id, organization_id, pool_id, "
                           "profile_id, exclusive, holder, fencing_token, "
                           "acquired_at, expires_at, released_at) VALUES "
                           "('019aa000-0000-7000-8000-000000000001', 'org-1', "
                           "'pool-1', 'prof-1', 1, NULL, 3, 1, 2, NULL),"
                           "('019aa000-0000-7000-8000-000000000002', 'org-1', "
                           "'pool-1', 'prof-1', 1, NULL, 4, 1, 2, NULL)")
                    .ok());
  }
  ASSERT_TRUE(OpenStore(backend.url()).ok());
  EXPECT_EQ(SqliteFoldedThrough(backend.path()),
            "019aa000-0000-7000-8000-000000000002");
  // On an empty database it starts before any id.
  SqliteBackend empty;
  ASSERT_TRUE(OpenStore(empty.url()).ok());
  EXPECT_EQ(SqliteFoldedThrough(empty.path()), "");
}

TEST(SqliteStoreTest, RefusesADatabaseFromANewerBinary) {
  SqliteBackend backend;
  ASSERT_TRUE(OpenStore(backend.url()).ok());
  {
    Result<std::unique_ptr<SqliteConnection>> conn =
        SqliteConnection::Open(backend.path());
    ASSERT_TRUE(conn.ok());
    Result<SqliteStatement> stmt = (*conn)->Prepare(
        "INSERT INTO schema_migrations (version, name, applied_at) "
        "VALUES (?, ?, ?)");
    ASSERT_TRUE(stmt.ok());
    stmt->BindAll(9999, "9999_from_the_future", kT0);
    ASSERT_TRUE(stmt->Run().ok());
  }
  Result<std::unique_ptr<Store>> store = OpenStore(backend.url());
  EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace agentry
