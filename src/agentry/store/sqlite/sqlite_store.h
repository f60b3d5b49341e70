// The embedded SQLite backend of Store (store.h states the contract).
//
// One database file in WAL mode with synchronous=FULL and foreign keys on.
// Every write goes through one GroupCommitWriter (one write connection, one
// thread, batched commits, one fsync per batch); reads use a small pool of
// read-only connections and never wait for the writer (WAL readers see the
// last committed state). Several processes may open the same file: writes
// take SQLite's write lock with BEGIN IMMEDIATE, and waits are bounded by the
// busy timeout (then kUnavailable).
//
// Thread-safe. Destroying the store drains pending writes; no call may be in
// flight then.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agentry/common/status.h"
#include "agentry/store/store.h"

namespace agentry {

class GroupCommitWriter;
class SqliteReadPool;
class SqliteOrganizationStore;
class SqliteApiKeyStore;

class SqliteStore final : public Store {
 public:
  // Opens (creating it and its parent directories if needed) the database at
  // `path`, applies the embedded migrations not yet applied, each in its own
  // transaction, and starts the writer. kInvalidRequest for an empty path;
  // kUnavailable when the file cannot be opened or migrated, or when it was
  // migrated by a newer binary (its schema version is unknown to this one).
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const StoreOptions& options);

  ~SqliteStore() override;

  OrganizationStore& organizations() override;
  ApiKeyStore& api_keys() override;
  Status Ping() override;
  std::string_view backend() const override { return "sqlite"; }

 private:
  SqliteStore();

  // Declaration order is destruction order reversed: the aggregate stores go
  // first, then the writer (draining), then the readers.
  std::unique_ptr<SqliteReadPool> readers_;
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteOrganizationStore> organizations_;
  std::unique_ptr<SqliteApiKeyStore> api_keys_;
};

}  // namespace agentry
