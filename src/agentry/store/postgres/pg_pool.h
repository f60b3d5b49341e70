// A bounded pool of PostgreSQL connections for reads, shared by the
// aggregate stores of one PostgresStore.
//
// With(fn) borrows a connection, runs `fn` on it and gives it back. Waiting
// for a free connection is bounded by `wait`: past it the call fails with
// kUnavailable instead of queueing forever behind a stuck database. A
// connection found broken (the server restarted, the network dropped) is
// reconnected before use; when `fn` fails because the connection broke
// while it ran, it is reconnected and `fn` runs once more (reads are safe to
// repeat). A connection is never handed back inside a transaction.
//
// Thread-safe. Every borrowed connection must be back before destruction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/postgres/pg_db.h"

namespace agentry {

class PgReadPool {
 public:
  // Opens `size` (at least 1) connections to `url`. Fails as
  // PgConnection::Open.
  static Result<std::unique_ptr<PgReadPool>> Open(
      const std::string& url, size_t size, std::chrono::milliseconds wait);

  PgReadPool(const PgReadPool&) = delete;
  PgReadPool& operator=(const PgReadPool&) = delete;

  // Runs `fn(PgConnection&)`, which returns a Status or a Result<T>, and
  // returns what it returns; kUnavailable when no connection became free
  // within the wait, or the broken one could not be reconnected.
  template <class Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<PgConnection&>())) {
    std::unique_ptr<PgConnection> conn;
    if (Status st = Borrow(conn); !st.ok()) return st;
    Returner returner{*this, conn};
    for (int attempt = 0;; ++attempt) {
      if (conn->broken()) {
        if (Status st = conn->Reset(); !st.ok()) return st;
      }
      auto result = fn(*conn);
      if (result.ok() || !conn->broken() || attempt > 0) {
        EndTransaction(*conn);
        return result;
      }
    }
  }

 private:
  explicit PgReadPool(std::chrono::milliseconds wait) : wait_(wait) {}

  // Gives `conn` back when the borrow ends, however it ends.
  struct Returner {
    PgReadPool& pool;
    std::unique_ptr<PgConnection>& conn;
    ~Returner() { pool.GiveBack(std::move(conn)); }
  };

  Status Borrow(std::unique_ptr<PgConnection>& out);
  void GiveBack(std::unique_ptr<PgConnection> conn);
  // Rolls back a transaction `fn` left open (it should not have).
  static void EndTransaction(PgConnection& conn);

  const std::chrono::milliseconds wait_;
  size_t size_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace agentry
