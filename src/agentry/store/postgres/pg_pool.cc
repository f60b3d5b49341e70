#include "agentry/store/postgres/pg_pool.h"

#include <algorithm>
#include <utility>

namespace agentry {

Result<std::unique_ptr<PgReadPool>> PgReadPool::Open(
    const std::string& url, size_t size, std::chrono::milliseconds wait) {
  auto pool = std::unique_ptr<PgReadPool>(new PgReadPool(wait));
  pool->size_ = std::max<size_t>(1, size);
  for (size_t i = 0; i < pool->size_; ++i) {
    AGENTRY_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                             PgConnection::Open(url));
    pool->idle_.push_back(std::move(conn));
  }
  return pool;
}

Status PgReadPool::Borrow(std::unique_ptr<PgConnection>& out) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, wait_, [this] { return !idle_.empty(); })) {
    return Status::Unavailable("all " + std::to_string(size_) +
                               " PostgreSQL read connections stayed busy for " +
                               std::to_string(wait_.count()) + " ms");
  }
  out = std::move(idle_.back());
  idle_.pop_back();
  return Status::Ok();
}

void PgReadPool::GiveBack(std::unique_ptr<PgConnection> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

void PgReadPool::EndTransaction(PgConnection& conn) {
  if (conn.InTransaction()) (void)conn.Script("ROLLBACK");
}

}  // namespace agentry
