// The backends the store contract suites run against, and what those suites
// share: a typed fixture that opens the store, and value helpers. Every
// contract suite is a TYPED_TEST_SUITE over `Backends`, so a backend joins
// every suite by adding one fixture struct to that list.
//
// A backend fixture struct provides:
//   - a default constructor that prepares a fresh, empty, private database
//     (and a destructor that removes it);
//   - `std::string url() const`: the URL OpenStore opens it with (the same
//     URL every time, so a test can close and reopen the store);
//   - `static constexpr std::string_view kName`: Store::backend().
// SQLite and PostgreSQL are the backends; the tests that look inside one
// backend (its files, its tables) are plain TESTs of that backend.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "agentry/common/crypto.h"
#include "agentry/common/ids.h"
#include "agentry/common/metrics.h"
#include "agentry/domain/tenancy.h"
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"

namespace agentry::store_contract {

// ---- backends ----

// A SQLite database in a fresh temporary directory, below two directories
// that do not exist yet (OpenStore must create them).
struct SqliteBackend {
  static constexpr std::string_view kName = "sqlite";

  SqliteBackend() {
    char tmpl[] = "/tmp/agentry-store-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = made;
  }
  ~SqliteBackend() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  std::string path() const { return dir + "/nested/data/agentry.db"; }
  std::string url() const { return "sqlite://" + path(); }

  std::string dir;
};

// A fresh, empty PostgreSQL database on the server AGENTRY_TEST_PG_URL names
// (tests/pg/with_postgres.sh starts a throwaway server and sets it; ctest
// runs the suites through it): created through an admin connection to that
// URL, dropped WITH (FORCE) at the end. Without the variable, constructing
// one throws, so every PostgreSQL test fails saying how to run it.
struct PostgresBackend {
  static constexpr std::string_view kName = "postgres";

  PostgresBackend() {
    const char* admin = getenv("AGENTRY_TEST_PG_URL");
    if (admin == nullptr || *admin == '\0') {
      throw std::runtime_error(
          "AGENTRY_TEST_PG_URL is not set: the PostgreSQL store tests need a "
          "server; run them through the wrapper script, e.g. "
          "bash tests/pg/with_postgres.sh build/tests/store_contract_test "
          "(ctest does)");
    }
    admin_url = admin;
    std::random_device random;
    name = "agentry_t_";
    for (int i = 0; i < 4; ++i) name += std::to_string(random() % 100000);
    // A database name cannot be a bound parameter; this one is ours
    // ([a-z0-9_]) and quoted.
    AdminScript("CREATE DATABASE \"" + name + "\"");
    // postgres://user@host:port/DATABASE?query: swap the database.
    const size_t authority = admin_url.find("://") + 3;
    const size_t path = admin_url.find('/', authority);
    const size_t query = admin_url.find('?', authority);
    db_url = admin_url.substr(0, std::min(path, query)) + "/" + name +
             (query == std::string::npos ? "" : admin_url.substr(query));
  }
  ~PostgresBackend() {
    try {
      AdminScript("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  PostgresBackend(const PostgresBackend&) = delete;
  PostgresBackend& operator=(const PostgresBackend&) = delete;

  std::string url() const { return db_url; }

  // Runs constant SQL on the server's admin database; throws on failure.
  void AdminScript(const std::string& sql) const {
    Result<std::unique_ptr<PgConnection>> conn = PgConnection::Open(admin_url);
    if (!conn.ok()) {
      throw std::runtime_error("cannot reach the test PostgreSQL server: " +
                               conn.status().ToString());
    }
    const PgResult r = (*conn)->Script(sql);
    if (!r.ok()) throw std::runtime_error(sql + ": " + r.status().ToString());
  }

  std::string admin_url;
  std::string name;
  std::string db_url;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;

// ---- helpers ----

inline constexpr int64_t kT0 = 1763840000123;  // 2025-11-22T19:33:20.123Z

inline Organization MakeOrg(const std::string& name) {
  Organization org;
  org.created_at_ms = kT0;
  org.id = NewUuidV7(org.created_at_ms);
  org.name = name;
  return org;
}

inline ApiKey MakeKey(const std::string& organization_id,
                      const std::string& name) {
  ApiKey k;
  k.created_at_ms = kT0 + 1;
  k.id = NewUuidV7(k.created_at_ms);
  k.organization_id = organization_id;
  k.name = name;
  const std::string secret = "agk_" + RandomAlnum(40);
  k.prefix = secret.substr(0, kKeyPrefixLength);
  k.hash_hex = HashSecretHex(secret);
  k.scopes = {"agents:read", "keys:write"};
  return k;
}

// The last lease id a SQLite store at `path` folded into its token rows
// (lease_grants_folded, migration 0007).
inline std::string SqliteFoldedThrough(const std::string& path) {
  Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open(path);
  EXPECT_TRUE(conn.ok());
  Result<SqliteStatement> stmt =
      (*conn)->Prepare("SELECT through_lease_id FROM lease_grants_folded");
  EXPECT_TRUE(stmt.ok());
  EXPECT_TRUE(*stmt->Step());
  return stmt->Text(0);
}

// ---- fixture ----

// Opens a store on a fresh database of `Backend` for each test.
template <class Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    Open();
  }

  // Opens with `options_` (a test may change them, then Reopen).
  void Open() {
    StoreOptions options = options_;
    options.commit_batch_sizes = &batch_sizes_;
    Result<std::unique_ptr<Store>> store = OpenStore(backend_.url(), options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Closes the store (draining its writes) and opens the same database.
  void Reopen() {
    store_.reset();
    Open();
  }

  Store& store() { return *store_; }
  OrganizationStore& orgs() { return store_->organizations(); }
  ApiKeyStore& keys() { return store_->api_keys(); }
  AgentStore& agents() { return store_->agents(); }
  ToolStore& tools() { return store_->tools(); }
  InstructionStore& instructions() { return store_->instructions(); }

  // Creates an organization with its admin key; returns both.
  std::pair<Organization, ApiKey> CreateOrg(const std::string& name) {
    Organization org = MakeOrg(name);
    ApiKey admin = MakeKey(org.id, name + " admin");
    admin.scopes = {"*"};
    const Status st = orgs().Create(org, admin);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return {org, admin};
  }

  Backend backend_;  // outlives the store
  StoreOptions options_;
  Histogram batch_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
  std::unique_ptr<Store> store_;
};

}  // namespace agentry::store_contract
