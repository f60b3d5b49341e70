#include "agentry/store/postgres/postgres_store.h"

#include <chrono>
#include <utility>
#include <vector>

#include "agentry/store/migration.h"
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/postgres/pg_listener.h"
#include "agentry/store/postgres/pg_pool.h"
#include "agentry/store/postgres/pg_util.h"
#include "agentry/store/postgres/pg_writer.h"
#include "agentry/store/postgres/postgres_agent_store.h"
#include "agentry/store/postgres/postgres_lease_store.h"
#include "agentry/store/postgres/postgres_registry_store.h"

namespace agentry {

using pg::ParseStringArray;
using pg::ToJsonArray;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- rows ----

// The api_keys columns, in the order ReadKey and InsertKey use.
#define AGENTRY_KEY_COLUMNS                                                  \
  "id, organization_id, name, prefix, hash, scopes, agent_ids, expires_at, " \
  "revoked_at, rate_per_second, rate_burst, created_by, created_at"

Result<ApiKey> ReadKey(const PgResult& r, int row) {
  ApiKey k;
  k.id = r.Text(row, 0);
  k.organization_id = r.Text(row, 1);
  k.name = r.Text(row, 2);
  k.prefix = r.Text(row, 3);
  k.hash_hex = r.Text(row, 4);
  AGENTRY_ASSIGN_OR_RETURN(
      k.scopes, ParseStringArray(r.Text(row, 5), "scopes of key " + k.id));
  if (!r.IsNull(row, 6)) {
    AGENTRY_ASSIGN_OR_RETURN(
        std::vector<std::string> ids,
        ParseStringArray(r.Text(row, 6), "agent_ids of key " + k.id));
    k.agent_ids = std::move(ids);
  }
  k.expires_at_ms = r.OptInt64(row, 7);
  k.revoked_at_ms = r.OptInt64(row, 8);
  if (!r.IsNull(row, 9)) {
    k.rate_limit = RateLimit{r.Double(row, 9), r.Int64(row, 10)};
  }
  k.created_by = r.OptText(row, 11);
  k.created_at_ms = r.Int64(row, 12);
  return k;
}

// Every row of `r` as a key.
Result<std::vector<ApiKey>> ReadKeys(const PgResult& r) {
  AGENTRY_RETURN_IF_ERROR(r.status());
  std::vector<ApiKey> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    AGENTRY_ASSIGN_OR_RETURN(ApiKey key, ReadKey(r, i));
    out.push_back(std::move(key));
  }
  return out;
}

// Turns PostgreSQL's constraint failures on api_keys into the contract's
// errors.
Status KeyWriteError(const PgResult& failed, const ApiKey& key) {
  if (failed.sqlstate() == kPgUniqueViolation) {
    if (failed.constraint() == "api_keys_hash_key") {
      return Status::Conflict("an API key with the same hash already exists");
    }
    if (failed.constraint() == "api_keys_pkey") {
      return Status::Conflict("API key " + key.id + " already exists", "id");
    }
  }
  if (failed.sqlstate() == kPgForeignKeyViolation) {
    return Status::NotFound("organization " + key.organization_id +
                            " not found");
  }
  return failed.status();
}

Status InsertKey(PgConnection& c, const ApiKey& key) {
  std::optional<std::string> agent_ids;
  if (key.agent_ids) agent_ids = ToJsonArray(*key.agent_ids);
  std::optional<double> per_second;
  std::optional<int64_t> burst;
  if (key.rate_limit) {
    per_second = key.rate_limit->per_second;
    burst = key.rate_limit->burst;
  }
  PgResult r = c.Exec("INSERT INTO api_keys (" AGENTRY_KEY_COLUMNS
                      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                      "$11, $12, $13)",
                      key.id, key.organization_id, key.name, key.prefix,
                      key.hash_hex, ToJsonArray(key.scopes), agent_ids,
                      key.expires_at_ms, key.revoked_at_ms, per_second, burst,
                      key.created_by, key.created_at_ms);
  if (!r.ok()) return KeyWriteError(r, key);
  return Status::Ok();
}

Status InsertOrganization(PgConnection& c, const Organization& org) {
  PgResult r = c.Exec(
      "INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)",
      org.id, org.name, org.created_at_ms);
  if (r.sqlstate() == kPgUniqueViolation) {
    if (r.constraint() == "organizations_name_key") {
      return Status::Conflict(
          "an organization named \"" + org.name + "\" already exists", "name");
    }
    if (r.constraint() == "organizations_pkey") {
      return Status::Conflict("organization " + org.id + " already exists",
                              "id");
    }
  }
  return r.status();
}

// Inserts `org` and its first key (which must belong to it).
Status InsertOrganizationWithKey(PgConnection& c, const Organization& org,
                                 const ApiKey& key) {
  if (key.organization_id != org.id) {
    return Status::Internal("the first key of organization " + org.id +
                            " belongs to " + key.organization_id);
  }
  AGENTRY_RETURN_IF_ERROR(InsertOrganization(c, org));
  return InsertKey(c, key);
}

// ---- opening ----

// Applies `m` unless recorded already, and records it, in one transaction.
Status ApplyMigration(PgConnection& c, const Migration& m) {
  AGENTRY_RETURN_IF_ERROR(c.Script("BEGIN").status());
  Status st = [&]() -> Status {
    PgResult applied =
        c.Exec("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
    AGENTRY_RETURN_IF_ERROR(applied.status());
    if (applied.rows() > 0) return Status::Ok();
    if (PgResult r = c.Script(m.sql); !r.ok()) {
      return Status::Internal("migration " + std::string(m.name) +
                              " failed: " + r.status().message());
    }
    return c
        .Exec(
            "INSERT INTO schema_migrations (version, name, applied_at) "
            "VALUES ($1, $2, $3)",
            m.version, m.name, NowMs())
        .status();
  }();
  if (st.ok()) st = c.Script("COMMIT").status();
  if (!st.ok() && !c.broken() && c.InTransaction()) {
    (void)c.Script("ROLLBACK");
  }
  return st;
}

// Applies every embedded migration the database lacks, each in its own
// transaction, while holding the migration lock: nodes starting at once
// wait for each other, and the later ones find the work done.
Status Migrate(PgConnection& c) {
  int latest = 0;
  for (size_t i = 0; i < kPostgresMigrationsCount; ++i) {
    if (kPostgresMigrations[i].version <= latest) {
      return Status::Internal(
          "embedded PostgreSQL migrations are not strictly increasing at " +
          std::string(kPostgresMigrations[i].name));
    }
    latest = kPostgresMigrations[i].version;
  }
  AGENTRY_RETURN_IF_ERROR(
      c.Exec("SELECT pg_advisory_lock($1)", PostgresStore::kMigrationLock)
          .status());
  const Status st = [&]() -> Status {
    AGENTRY_RETURN_IF_ERROR(
        c.Script("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at BIGINT NOT NULL)")
            .status());
    PgResult current =
        c.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    AGENTRY_RETURN_IF_ERROR(current.status());
    if (current.Int64(0, 0) > latest) {
      return Status::Unavailable(
          "the database has schema version " +
          std::to_string(current.Int64(0, 0)) +
          ", newer than this binary knows (" + std::to_string(latest) +
          "); run a newer agentry or restore a matching backup");
    }
    for (size_t i = 0; i < kPostgresMigrationsCount; ++i) {
      AGENTRY_RETURN_IF_ERROR(ApplyMigration(c, kPostgresMigrations[i]));
    }
    return Status::Ok();
  }();
  // A lost connection released the lock already.
  if (!c.broken()) {
    const Status unlocked =
        c.Exec("SELECT pg_advisory_unlock($1)", PostgresStore::kMigrationLock)
            .status();
    if (st.ok()) return unlocked;
  }
  return st;
}

}  // namespace

// ---- organizations ----

class PostgresOrganizationStore final : public OrganizationStore {
 public:
  PostgresOrganizationStore(PgWriter& writer, PgReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Result<bool> Bootstrap(const Organization& org,
                         const ApiKey& admin_key) override {
    bool created = false;
    // The lock is held from the check to the COMMIT, so two nodes
    // bootstrapping the same database cannot both create.
    const Status st = writer_.Write([&](PgConnection& c) -> Status {
      created = false;
      AGENTRY_RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock($1)",
                                     PostgresStore::kBootstrapLock)
                                  .status());
      PgResult any = c.Exec("SELECT EXISTS (SELECT 1 FROM organizations)");
      AGENTRY_RETURN_IF_ERROR(any.status());
      if (any.Bool(0, 0)) return Status::Ok();
      AGENTRY_RETURN_IF_ERROR(InsertOrganizationWithKey(c, org, admin_key));
      created = true;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return created;
  }

  Status Create(const Organization& org, const ApiKey& admin_key) override {
    return writer_.Write([&](PgConnection& c) {
      return InsertOrganizationWithKey(c, org, admin_key);
    });
  }

  Result<Organization> Get(std::string_view id) override {
    return readers_.With([&](PgConnection& c) -> Result<Organization> {
      PgResult r = c.Exec(
          "SELECT id, name, created_at FROM organizations WHERE id = $1", id);
      AGENTRY_RETURN_IF_ERROR(r.status());
      if (r.rows() == 0) {
        return Status::NotFound("organization " + std::string(id) +
                                " not found");
      }
      Organization org;
      org.id = r.Text(0, 0);
      org.name = r.Text(0, 1);
      org.created_at_ms = r.Int64(0, 2);
      return org;
    });
  }

 private:
  PgWriter& writer_;
  PgReadPool& readers_;
};

// ---- API keys ----

class PostgresApiKeyStore final : public ApiKeyStore {
 public:
  PostgresApiKeyStore(PgWriter& writer, PgReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Status Create(const ApiKey& key) override {
    return writer_.Write([&](PgConnection& c) { return InsertKey(c, key); });
  }

  Result<std::vector<ApiKey>> ListActive() override {
    return readers_.With([&](PgConnection& c) {
      return ReadKeys(c.Exec("SELECT " AGENTRY_KEY_COLUMNS
                             " FROM api_keys WHERE revoked_at IS NULL "
                             "ORDER BY id"));
    });
  }

  Result<Page<ApiKey>> List(std::string_view organization_id,
                            const PageRequest& page) override {
    AGENTRY_RETURN_IF_ERROR(pg::CheckLimit(page.limit));
    const int64_t fetch = static_cast<int64_t>(page.limit) + 1;
    return readers_.With([&](PgConnection& c) -> Result<Page<ApiKey>> {
      PgResult r = c.Exec("SELECT " AGENTRY_KEY_COLUMNS
                          " FROM api_keys WHERE organization_id = $1 "
                          "AND revoked_at IS NULL AND id > $2 "
                          "ORDER BY id LIMIT $3",
                          organization_id, page.after_id.value_or(""), fetch);
      return pg::ReadPage<ApiKey>(r, page.limit, ReadKey);
    });
  }

  Result<ApiKey> Get(std::string_view organization_id,
                     std::string_view id) override {
    return readers_.With([&](PgConnection& c) -> Result<ApiKey> {
      PgResult r = c.Exec("SELECT " AGENTRY_KEY_COLUMNS
                          " FROM api_keys WHERE id = $1 "
                          "AND organization_id = $2",
                          id, organization_id);
      AGENTRY_RETURN_IF_ERROR(r.status());
      if (r.rows() == 0) {
        return Status::NotFound("api key " + std::string(id) + " not found");
      }
      return ReadKey(r, 0);
    });
  }

  Status Revoke(std::string_view organization_id, std::string_view id,
                int64_t at_ms) override {
    return writer_.Write([&](PgConnection& c) -> Status {
      PgResult r = c.Exec(
          "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 "
          "AND organization_id = $3 AND revoked_at IS NULL",
          at_ms, id, organization_id);
      AGENTRY_RETURN_IF_ERROR(r.status());
      if (r.affected() == 0) {
        return Status::NotFound("api key " + std::string(id) + " not found");
      }
      return Status::Ok();
    });
  }

 private:
  PgWriter& writer_;
  PgReadPool& readers_;
};

#undef AGENTRY_KEY_COLUMNS

// ---- the store ----

PostgresStore::PostgresStore() = default;

PostgresStore::~PostgresStore() {
  // Stop listening, drain pending writes, then close the connections.
  if (listener_) listener_->Stop();
  organizations_.reset();
  api_keys_.reset();
  agents_.reset();
  tools_.reset();
  instructions_.reset();
  profiles_.reset();
  pools_.reset();
  leases_.reset();
  if (writer_) writer_->Shutdown();
  writer_.reset();
  readers_.reset();
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const std::string& url, const StoreOptions& options) {
  const auto failed = [](const Status& st) {
    const std::string message =
        "cannot open the PostgreSQL store: " + st.message();
    return st.code() == ErrorCode::kInvalidRequest
               ? Status::InvalidRequest(message)
               : Status::Unavailable(message);
  };

  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Open(url);
  if (!conn.ok()) return failed(conn.status());
  if (Status st = Migrate(**conn); !st.ok()) return failed(st);

  Result<std::unique_ptr<PgReadPool>> readers =
      PgReadPool::Open(url, options.read_connections,
                       std::chrono::milliseconds(options.connection_wait_ms));
  if (!readers.ok()) return failed(readers.status());

  auto store = std::unique_ptr<PostgresStore>(new PostgresStore());
  store->url_ = url;
  store->readers_ = std::move(*readers);
  PgWriterOptions writer_options;
  writer_options.max_batch = options.max_batch;
  writer_options.batch_sizes = options.commit_batch_sizes;
  store->writer_ = std::make_unique<PgWriter>(std::move(*conn), writer_options);
  PgWriter& writer = *store->writer_;
  PgReadPool& pool = *store->readers_;
  store->organizations_ =
      std::make_unique<PostgresOrganizationStore>(writer, pool);
  store->api_keys_ = std::make_unique<PostgresApiKeyStore>(writer, pool);
  store->agents_ = std::make_unique<PostgresAgentStore>(writer, pool);
  store->tools_ = std::make_unique<PostgresToolStore>(writer, pool);
  store->instructions_ =
      std::make_unique<PostgresInstructionStore>(writer, pool);
  store->profiles_ = std::make_unique<PostgresProfileStore>(writer, pool);
  store->pools_ = std::make_unique<PostgresPoolStore>(writer, pool);
  store->leases_ = std::make_unique<PostgresLeaseStore>(writer, pool);
  return store;
}

OrganizationStore& PostgresStore::organizations() { return *organizations_; }

ApiKeyStore& PostgresStore::api_keys() { return *api_keys_; }

AgentStore& PostgresStore::agents() { return *agents_; }

ToolStore& PostgresStore::tools() { return *tools_; }

InstructionStore& PostgresStore::instructions() { return *instructions_; }

ProfileStore& PostgresStore::profiles() { return *profiles_; }

PoolStore& PostgresStore::pools() { return *pools_; }

LeaseStore& PostgresStore::leases() { return *leases_; }

Status PostgresStore::Watch(ChangeHandlers handlers) {
  if (listener_) return Status::Internal("the store is already watched");
  listener_ = std::make_unique<PgListener>(url_);
  return listener_->Start(std::move(handlers));
}

void PostgresStore::StopWatching() {
  if (listener_) listener_->Stop();
}

Status PostgresStore::WatchStatus() const {
  if (listener_ && !listener_->listening()) {
    return Status::Unavailable(
        "not listening for other nodes' changes (reconnecting)");
  }
  return Status::Ok();
}

Status PostgresStore::Ping() {
  return readers_->With([](PgConnection& c) -> Status {
    PgResult r = c.Exec("SELECT 1");
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() != 1 || r.Int64(0, 0) != 1) {
      return Status::Internal("SELECT 1 did not answer 1");
    }
    return Status::Ok();
  });
}

}  // namespace agentry
