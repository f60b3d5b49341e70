// The PostgreSQL backend of Store (store.h states the contract), for several
// nodes sharing one database.
//
// Schema: migrations/postgres/*.sql, embedded in the binary and applied at
// open, one transaction each, while holding a session advisory lock
// (kMigrationLock), so nodes starting at once migrate one after another; a
// database migrated by a newer binary is refused. Configurations are TEXT
// holding the canonical JSON exactly as written (member order kept byte for
// byte: ETags depend on it), times BIGINT epoch milliseconds, identifiers
// COLLATE "C" (byte order, as SQLite).
//
// Every write goes through one PgWriter (one connection, one thread, batched
// commits with a savepoint per write, retried on serialization failures and
// deadlocks); it returns ok only after COMMIT. Reads use a bounded pool of
// `StoreOptions::read_connections` connections; waiting for one is bounded
// by `StoreOptions::connection_wait_ms` (then kUnavailable). Writes lock the
// rows they check (SELECT … FOR UPDATE) so that checks hold across nodes.
//
// The URL is handed to libpq as a connection URI and never appears in a
// message: it may hold a password.
//
// Thread-safe. Destroying the store drains pending writes; no call may be in
// flight then.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agentry/common/status.h"
#include "agentry/store/store.h"

namespace agentry {

class PgListener;
class PgReadPool;
class PgWriter;
class PostgresOrganizationStore;
class PostgresApiKeyStore;
class PostgresAgentStore;
class PostgresToolStore;
class PostgresInstructionStore;
class PostgresProfileStore;
class PostgresPoolStore;
class PostgresLeaseStore;

class PostgresStore final : public Store {
 public:
  // The session advisory lock held while migrating ("agentry1").
  static constexpr int64_t kMigrationLock = 0x6167656e74727931;
  // The transaction advisory lock held by Bootstrap ("agentry2").
  static constexpr int64_t kBootstrapLock = 0x6167656e74727932;

  // Connects to `url` (postgres://… or postgresql://…, any libpq URI),
  // applies the embedded migrations not yet applied and starts the writer.
  // kInvalidRequest when `url` is not a valid URI; kUnavailable when the
  // server cannot be reached or the database cannot be migrated, or when it
  // was migrated by a newer binary (its schema version is unknown to this
  // one).
  static Result<std::unique_ptr<PostgresStore>> Open(
      const std::string& url, const StoreOptions& options);

  ~PostgresStore() override;

  OrganizationStore& organizations() override;
  ApiKeyStore& api_keys() override;
  AgentStore& agents() override;
  ToolStore& tools() override;
  InstructionStore& instructions() override;
  ProfileStore& profiles() override;
  PoolStore& pools() override;
  LeaseStore& leases() override;
  Status Ping() override;
  std::string_view backend() const override { return "postgres"; }
  bool shared() const override { return true; }
  // Starts a PgListener on a connection of its own.
  Status Watch(ChangeHandlers handlers) override;
  Status WatchStatus() const override;
  void StopWatching() override;

 private:
  PostgresStore();

  // Declaration order is destruction order reversed: the aggregate stores go
  // first, then the writer (draining), then the readers.
  std::string url_;
  std::unique_ptr<PgReadPool> readers_;
  std::unique_ptr<PgWriter> writer_;
  std::unique_ptr<PostgresOrganizationStore> organizations_;
  std::unique_ptr<PostgresApiKeyStore> api_keys_;
  std::unique_ptr<PostgresAgentStore> agents_;
  std::unique_ptr<PostgresToolStore> tools_;
  std::unique_ptr<PostgresInstructionStore> instructions_;
  std::unique_ptr<PostgresProfileStore> profiles_;
  std::unique_ptr<PostgresPoolStore> pools_;
  std::unique_ptr<PostgresLeaseStore> leases_;
  std::unique_ptr<PgListener> listener_;  // after Watch
};

}  // namespace agentry
