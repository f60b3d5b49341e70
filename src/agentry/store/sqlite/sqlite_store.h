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

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"

namespace agentry {

class GroupCommitWriter;
class SqliteOrganizationStore;
class SqliteApiKeyStore;
class SqliteAgentStore;
class SqliteToolStore;
class SqliteInstructionStore;
class SqliteProfileStore;
class SqlitePoolStore;
class SqliteLeaseStore;

// A fixed set of read-only connections, shared by the aggregate stores of
// one SqliteStore. With() borrows one (waiting while all are busy), runs
// `fn` on it and gives it back. Thread-safe.
class SqliteReadPool {
 public:
  static Result<std::unique_ptr<SqliteReadPool>> Open(const std::string& path,
                                                      size_t n) {
    auto pool = std::unique_ptr<SqliteReadPool>(new SqliteReadPool());
    SqliteOpenOptions options;
    options.read_only = true;
    for (size_t i = 0; i < std::max<size_t>(1, n); ++i) {
      AGENTRY_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> conn,
                               SqliteConnection::Open(path, options));
      pool->idle_.push_back(std::move(conn));
    }
    return pool;
  }

  template <class Fn>
  auto With(Fn&& fn) {
    Lease lease(*this);
    return fn(*lease.conn);
  }

 private:
  SqliteReadPool() = default;

  struct Lease {
    explicit Lease(SqliteReadPool& pool) : pool(pool) {
      std::unique_lock<std::mutex> lock(pool.mu_);
      pool.cv_.wait(lock, [&] { return !pool.idle_.empty(); });
      conn = std::move(pool.idle_.back());
      pool.idle_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard<std::mutex> lock(pool.mu_);
        pool.idle_.push_back(std::move(conn));
      }
      pool.cv_.notify_one();
    }
    SqliteReadPool& pool;
    std::unique_ptr<SqliteConnection> conn;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_;  // GUARDED_BY(mu_)
};

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
  AgentStore& agents() override;
  ToolStore& tools() override;
  InstructionStore& instructions() override;
  ProfileStore& profiles() override;
  PoolStore& pools() override;
  LeaseStore& leases() override;
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
  std::unique_ptr<SqliteAgentStore> agents_;
  std::unique_ptr<SqliteToolStore> tools_;
  std::unique_ptr<SqliteInstructionStore> instructions_;
  std::unique_ptr<SqliteProfileStore> profiles_;
  std::unique_ptr<SqlitePoolStore> pools_;
  std::unique_ptr<SqliteLeaseStore> leases_;
};

}  // namespace agentry
