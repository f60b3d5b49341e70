#include "agentry/store/sqlite/sqlite_store.h"

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <utility>
#include <vector>

#include "agentry/store/migration.h"
#include "agentry/store/sqlite/group_commit.h"
#include "agentry/store/sqlite/sqlite_agent_store.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/sqlite/sqlite_lease_store.h"
#include "agentry/store/sqlite/sqlite_registry_store.h"
#include "agentry/store/sqlite/sqlite_util.h"

namespace agentry {

using sqlite::ToJsonArray;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ---- string vectors as JSON arrays ----

Result<std::vector<std::string>> FromJsonArray(const std::string& text,
                                               std::string_view what) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) {
    return Status::Internal("stored " + std::string(what) +
                            " is not a JSON array");
  }
  std::vector<std::string> out;
  out.reserve(v.get_array().size());
  for (const boost::json::value& item : v.get_array()) {
    if (!item.is_string()) {
      return Status::Internal("stored " + std::string(what) +
                              " holds a non-string");
    }
    const boost::json::string& s = item.get_string();
    out.emplace_back(s.data(), s.size());
  }
  return out;
}

// ---- rows ----

// The api_keys columns, in the order ReadKey and InsertKey use.
#define AGENTRY_KEY_COLUMNS                                                  \
  "id, organization_id, name, prefix, hash, scopes, agent_ids, expires_at, " \
  "revoked_at, rate_per_second, rate_burst, created_by, created_at"

Result<ApiKey> ReadKey(const SqliteStatement& row) {
  ApiKey k;
  k.id = row.Text(0);
  k.organization_id = row.Text(1);
  k.name = row.Text(2);
  k.prefix = row.Text(3);
  k.hash_hex = row.Text(4);
  AGENTRY_ASSIGN_OR_RETURN(k.scopes,
                           FromJsonArray(row.Text(5), "scopes of key " + k.id));
  if (!row.IsNull(6)) {
    AGENTRY_ASSIGN_OR_RETURN(
        std::vector<std::string> ids,
        FromJsonArray(row.Text(6), "agent_ids of key " + k.id));
    k.agent_ids = std::move(ids);
  }
  k.expires_at_ms = row.OptInt64(7);
  k.revoked_at_ms = row.OptInt64(8);
  if (!row.IsNull(9)) k.rate_limit = RateLimit{row.Double(9), row.Int64(10)};
  k.created_by = row.OptText(11);
  k.created_at_ms = row.Int64(12);
  return k;
}

// Runs `stmt` and collects every row as a key.
Result<std::vector<ApiKey>> ReadKeys(SqliteStatement& stmt) {
  std::vector<ApiKey> out;
  while (true) {
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    AGENTRY_ASSIGN_OR_RETURN(ApiKey key, ReadKey(stmt));
    out.push_back(std::move(key));
  }
}

// Turns SQLite's constraint failures on api_keys into the contract's errors.
Status KeyWriteError(Status st, const ApiKey& key) {
  if (st.code() == ErrorCode::kConflict) {
    if (Contains(st.message(), "api_keys.hash")) {
      return Status::Conflict("an API key with the same hash already exists");
    }
    if (Contains(st.message(), "api_keys.id")) {
      return Status::Conflict("API key " + key.id + " already exists", "id");
    }
  }
  if (Contains(st.message(), "FOREIGN KEY constraint failed")) {
    return Status::NotFound("organization " + key.organization_id +
                            " not found");
  }
  return st;
}

Status InsertKey(SqliteConnection& c, const ApiKey& key) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("INSERT INTO api_keys (" AGENTRY_KEY_COLUMNS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  std::optional<std::string> agent_ids;
  if (key.agent_ids) agent_ids = ToJsonArray(*key.agent_ids);
  std::optional<double> per_second;
  std::optional<int64_t> burst;
  if (key.rate_limit) {
    per_second = key.rate_limit->per_second;
    burst = key.rate_limit->burst;
  }
  stmt.BindAll(key.id, key.organization_id, key.name, key.prefix, key.hash_hex,
               ToJsonArray(key.scopes), agent_ids, key.expires_at_ms,
               key.revoked_at_ms, per_second, burst, key.created_by,
               key.created_at_ms);
  Status st = stmt.Run();
  if (!st.ok()) return KeyWriteError(std::move(st), key);
  return Status::Ok();
}

Status InsertOrganization(SqliteConnection& c, const Organization& org) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("INSERT INTO organizations (id, name, created_at) "
                "VALUES (?, ?, ?)"));
  stmt.BindAll(org.id, org.name, org.created_at_ms);
  Status st = stmt.Run();
  if (st.code() == ErrorCode::kConflict) {
    if (Contains(st.message(), "organizations.name")) {
      return Status::Conflict(
          "an organization named \"" + org.name + "\" already exists", "name");
    }
    if (Contains(st.message(), "organizations.id")) {
      return Status::Conflict("organization " + org.id + " already exists",
                              "id");
    }
  }
  return st;
}

// Inserts `org` and its first key (which must belong to it).
Status InsertOrganizationWithKey(SqliteConnection& c, const Organization& org,
                                 const ApiKey& key) {
  if (key.organization_id != org.id) {
    return Status::Internal("the first key of organization " + org.id +
                            " belongs to " + key.organization_id);
  }
  AGENTRY_RETURN_IF_ERROR(InsertOrganization(c, org));
  return InsertKey(c, key);
}

// ---- opening ----

Status ConfigureWriteConnection(SqliteConnection& c) {
  {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                             c.Prepare("PRAGMA journal_mode=WAL"));
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    const std::string mode = row ? stmt.Text(0) : "";
    if (mode != "wal") {
      return Status::Unavailable(
          "could not switch to WAL journal mode (got \"" + mode + "\")");
    }
  }
  AGENTRY_RETURN_IF_ERROR(c.Exec("PRAGMA synchronous=FULL"));
  AGENTRY_RETURN_IF_ERROR(c.Exec("PRAGMA foreign_keys=ON"));
  AGENTRY_RETURN_IF_ERROR(c.Exec("PRAGMA wal_autocheckpoint=10000"));
  return Status::Ok();
}

// Applies every embedded migration the database lacks, each in its own
// IMMEDIATE transaction (safe when several processes start at once).
Status Migrate(SqliteConnection& c) {
  int latest = 0;
  for (size_t i = 0; i < kSqliteMigrationsCount; ++i) {
    if (kSqliteMigrations[i].version <= latest) {
      return Status::Internal(
          "embedded SQLite migrations are not strictly increasing at " +
          std::string(kSqliteMigrations[i].name));
    }
    latest = kSqliteMigrations[i].version;
  }
  AGENTRY_RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
             "applied_at INTEGER NOT NULL) STRICT"));
  {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    const int64_t current = row ? stmt.Int64(0) : 0;
    if (current > latest) {
      return Status::Unavailable(
          "the database has schema version " + std::to_string(current) +
          ", newer than this binary knows (" + std::to_string(latest) +
          "); run a newer agentry or restore a matching backup");
    }
  }
  for (size_t i = 0; i < kSqliteMigrationsCount; ++i) {
    const Migration& m = kSqliteMigrations[i];
    AGENTRY_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
    Status st = [&]() -> Status {
      {
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("SELECT EXISTS (SELECT 1 FROM schema_migrations "
                      "WHERE version = ?)"));
        stmt.BindAll(m.version);
        AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (row && stmt.Int64(0) != 0) return Status::Ok();  // applied
      }
      Status applied = c.Exec(m.sql);
      if (!applied.ok()) {
        return Status::Internal("migration " + std::string(m.name) +
                                " failed: " + applied.message());
      }
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES (?, ?, ?)"));
      stmt.BindAll(m.version, m.name, NowMs());
      return stmt.Run();
    }();
    if (st.ok()) st = c.Exec("COMMIT");
    if (!st.ok()) {
      if (c.InTransaction()) (void)c.Exec("ROLLBACK");
      return st;
    }
  }
  return Status::Ok();
}

}  // namespace

// ---- organizations ----

class SqliteOrganizationStore final : public OrganizationStore {
 public:
  SqliteOrganizationStore(GroupCommitWriter& writer, SqliteReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Result<bool> Bootstrap(const Organization& org,
                         const ApiKey& admin_key) override {
    bool created = false;
    // BEGIN IMMEDIATE holds the write lock from the check to the insert, so
    // two processes bootstrapping the same file cannot both create.
    const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
      created = false;
      {
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("SELECT EXISTS (SELECT 1 FROM organizations)"));
        AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return Status::Internal("SELECT EXISTS returned no row");
        if (stmt.Int64(0) != 0) return Status::Ok();
      }
      AGENTRY_RETURN_IF_ERROR(InsertOrganizationWithKey(c, org, admin_key));
      created = true;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return created;
  }

  Status Create(const Organization& org, const ApiKey& admin_key) override {
    return writer_.Write([&](SqliteConnection& c) {
      return InsertOrganizationWithKey(c, org, admin_key);
    });
  }

  Result<Organization> Get(std::string_view id) override {
    return readers_.With([&](SqliteConnection& c) -> Result<Organization> {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("SELECT id, name, created_at FROM organizations "
                    "WHERE id = ?"));
      stmt.BindAll(id);
      AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return Status::NotFound("organization " + std::string(id) +
                                " not found");
      }
      Organization org;
      org.id = stmt.Text(0);
      org.name = stmt.Text(1);
      org.created_at_ms = stmt.Int64(2);
      return org;
    });
  }

 private:
  GroupCommitWriter& writer_;
  SqliteReadPool& readers_;
};

// ---- API keys ----

class SqliteApiKeyStore final : public ApiKeyStore {
 public:
  SqliteApiKeyStore(GroupCommitWriter& writer, SqliteReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Status Create(const ApiKey& key) override {
    return writer_.Write(
        [&](SqliteConnection& c) { return InsertKey(c, key); });
  }

  Result<std::vector<ApiKey>> ListActive() override {
    return readers_.With(
        [&](SqliteConnection& c) -> Result<std::vector<ApiKey>> {
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              c.Prepare("SELECT " AGENTRY_KEY_COLUMNS
                        " FROM api_keys WHERE revoked_at IS NULL "
                        "ORDER BY id"));
          return ReadKeys(stmt);
        });
  }

  Result<Page<ApiKey>> List(std::string_view organization_id,
                            const PageRequest& page) override {
    if (page.limit < 1 || page.limit > 200) {
      return Status::InvalidRequest("limit must be between 1 and 200", "limit");
    }
    const int64_t fetch = static_cast<int64_t>(page.limit) + 1;
    return readers_.With([&](SqliteConnection& c) -> Result<Page<ApiKey>> {
      Result<SqliteStatement> prepared =
          page.after_id
              ? c.Prepare("SELECT " AGENTRY_KEY_COLUMNS
                          " FROM api_keys WHERE organization_id = ? "
                          "AND revoked_at IS NULL AND id > ? "
                          "ORDER BY id LIMIT ?")
              : c.Prepare("SELECT " AGENTRY_KEY_COLUMNS
                          " FROM api_keys WHERE organization_id = ? "
                          "AND revoked_at IS NULL ORDER BY id LIMIT ?");
      if (!prepared.ok()) return prepared.status();
      SqliteStatement& stmt = *prepared;
      if (page.after_id) {
        stmt.BindAll(organization_id, *page.after_id, fetch);
      } else {
        stmt.BindAll(organization_id, fetch);
      }
      Page<ApiKey> out;
      AGENTRY_ASSIGN_OR_RETURN(out.items, ReadKeys(stmt));
      if (out.items.size() > page.limit) {
        out.items.resize(page.limit);
        out.has_more = true;
      }
      return out;
    });
  }

  Result<ApiKey> Get(std::string_view organization_id,
                     std::string_view id) override {
    return readers_.With([&](SqliteConnection& c) -> Result<ApiKey> {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("SELECT " AGENTRY_KEY_COLUMNS
                    " FROM api_keys WHERE id = ? AND organization_id = ?"));
      stmt.BindAll(id, organization_id);
      AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return Status::NotFound("api key " + std::string(id) + " not found");
      }
      return ReadKey(stmt);
    });
  }

  Status Revoke(std::string_view organization_id, std::string_view id,
                int64_t at_ms) override {
    return writer_.Write([&](SqliteConnection& c) -> Status {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? "
                    "AND organization_id = ? AND revoked_at IS NULL"));
      stmt.BindAll(at_ms, id, organization_id);
      AGENTRY_RETURN_IF_ERROR(stmt.Run());
      if (c.Changes() == 0) {
        return Status::NotFound("api key " + std::string(id) + " not found");
      }
      return Status::Ok();
    });
  }

 private:
  GroupCommitWriter& writer_;
  SqliteReadPool& readers_;
};

#undef AGENTRY_KEY_COLUMNS

// ---- the store ----

SqliteStore::SqliteStore() = default;

SqliteStore::~SqliteStore() {
  // Drain pending writes, close the readers, and close the write connection
  // last so that it checkpoints the WAL into the database file.
  organizations_.reset();
  api_keys_.reset();
  agents_.reset();
  tools_.reset();
  instructions_.reset();
  profiles_.reset();
  pools_.reset();
  leases_.reset();
  if (writer_) writer_->Shutdown();
  readers_.reset();
  writer_.reset();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, const StoreOptions& options) {
  if (path.empty()) {
    return Status::InvalidRequest("the SQLite store needs a file path");
  }
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Status::Unavailable("cannot create the directory " +
                                 parent.string() + ": " + ec.message());
    }
  }
  const auto unavailable = [&](const Status& st) {
    return Status::Unavailable("cannot open the SQLite store " + path + ": " +
                               st.message());
  };

  Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open(path);
  if (!conn.ok()) return unavailable(conn.status());
  if (Status st = ConfigureWriteConnection(**conn); !st.ok()) {
    return unavailable(st);
  }
  if (Status st = Migrate(**conn); !st.ok()) return unavailable(st);

  Result<std::unique_ptr<SqliteReadPool>> readers =
      SqliteReadPool::Open(path, options.read_connections);
  if (!readers.ok()) return unavailable(readers.status());

  auto store = std::unique_ptr<SqliteStore>(new SqliteStore());
  store->readers_ = std::move(*readers);
  GroupCommitOptions writer_options;
  writer_options.max_batch = options.max_batch;
  writer_options.batch_sizes = options.commit_batch_sizes;
  store->writer_ =
      std::make_unique<GroupCommitWriter>(std::move(*conn), writer_options);
  store->organizations_ = std::make_unique<SqliteOrganizationStore>(
      *store->writer_, *store->readers_);
  store->api_keys_ =
      std::make_unique<SqliteApiKeyStore>(*store->writer_, *store->readers_);
  store->agents_ =
      std::make_unique<SqliteAgentStore>(*store->writer_, *store->readers_);
  store->tools_ =
      std::make_unique<SqliteToolStore>(*store->writer_, *store->readers_);
  store->instructions_ = std::make_unique<SqliteInstructionStore>(
      *store->writer_, *store->readers_);
  store->pools_ =
      std::make_unique<SqlitePoolStore>(*store->writer_, *store->readers_);
  store->leases_ = std::make_unique<SqliteLeaseStore>(
      *store->writer_, *store->readers_, options.lease_fold_every);
  store->profiles_ = std::make_unique<SqliteProfileStore>(
      *store->writer_, *store->readers_, store->leases_->writer_state());
  return store;
}

OrganizationStore& SqliteStore::organizations() { return *organizations_; }

ApiKeyStore& SqliteStore::api_keys() { return *api_keys_; }

AgentStore& SqliteStore::agents() { return *agents_; }

ToolStore& SqliteStore::tools() { return *tools_; }

InstructionStore& SqliteStore::instructions() { return *instructions_; }

ProfileStore& SqliteStore::profiles() { return *profiles_; }

PoolStore& SqliteStore::pools() { return *pools_; }

LeaseStore& SqliteStore::leases() { return *leases_; }

Status SqliteStore::Ping() {
  return readers_->With([](SqliteConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare("SELECT 1"));
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.Int64(0) != 1) {
      return Status::Internal("SELECT 1 did not answer 1");
    }
    return Status::Ok();
  });
}

}  // namespace agentry
