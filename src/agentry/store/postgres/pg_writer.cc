#include "agentry/store/postgres/pg_writer.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <future>
#include <random>
#include <string>
#include <utility>

#include "agentry/common/metrics.h"

namespace agentry {

namespace {

// Calls `done`, which must not throw; if it does anyway the writer survives.
void Complete(const PgWriter::Done& done, Status status) {
  if (!done) return;
  try {
    done(std::move(status));
  } catch (...) {
  }
}

}  // namespace

PgWriter::PgWriter(std::unique_ptr<PgConnection> connection,
                   PgWriterOptions options)
    : options_(options), conn_(std::move(connection)) {
  thread_ = std::thread([this] { Loop(); });
  writer_id_ = thread_.get_id();
}

PgWriter::~PgWriter() { Shutdown(); }

Status PgWriter::Write(Job job) {
  if (std::this_thread::get_id() == writer_id_) {
    return Status::Internal(
        "a write was issued from the writer thread (it would deadlock)");
  }
  std::promise<Status> promise;
  std::future<Status> future = promise.get_future();
  Submit(std::move(job),
         [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

void PgWriter::Submit(Job job, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(job), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  Complete(done, Status::Unavailable("the store is shutting down"));
}

void PgWriter::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // From the writer thread (a `done` callback) we cannot join ourselves; the
  // loop sees stopping_ and exits once the queue is empty.
  if (std::this_thread::get_id() == writer_id_) return;
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (thread_.joinable()) thread_.join();
}

void PgWriter::Loop() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  std::vector<Pending> batch;
  batch.reserve(std::min<size_t>(max_batch, 1024));
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything drained
      const size_t n = std::min(queue_.size(), max_batch);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
  }
}

void PgWriter::RunBatch(std::vector<Pending>& batch) {
  const int max_attempts = std::max(1, options_.max_attempts);
  std::minstd_rand jitter(static_cast<unsigned>(
      std::chrono::steady_clock::now().time_since_epoch().count()));
  std::vector<Status> results;
  Status batch_error;
  for (int attempt = 1;; ++attempt) {
    const Outcome outcome = TryBatch(batch, results, batch_error);
    if (outcome != Outcome::kRetry) break;
    if (attempt == max_attempts) {
      batch_error =
          Status::Unavailable("gave up after " + std::to_string(max_attempts) +
                              " attempts: " + batch_error.message());
      break;
    }
    // Let the transaction that got in the way finish; a random part keeps
    // two nodes from colliding again in lockstep.
    std::this_thread::sleep_for(std::chrono::milliseconds(
        10 * attempt + static_cast<int>(jitter() % 10)));
  }
  if (batch_error.ok() && options_.batch_sizes != nullptr) {
    options_.batch_sizes->Observe(static_cast<double>(batch.size()));
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Status st = std::move(results[i]);
    if (st.ok() && !batch_error.ok()) st = batch_error;
    Complete(batch[i].done, std::move(st));
    batch[i].job = nullptr;  // release captures before the next batch
  }
}

PgWriter::Outcome PgWriter::TryBatch(std::vector<Pending>& batch,
                                     std::vector<Status>& results,
                                     Status& batch_error) {
  static constexpr char kSavepoint[] = "SAVEPOINT agentry_job";
  static constexpr char kRelease[] = "RELEASE SAVEPOINT agentry_job";
  static constexpr char kRollbackTo[] = "ROLLBACK TO SAVEPOINT agentry_job";

  results.assign(batch.size(), Status::Ok());
  batch_error = Status::Ok();
  // A transient failure (lost connection, serialization failure, deadlock)
  // ends this run; the batch is run again.
  const auto transient = [this] {
    return conn_->broken() || conn_->transient_failure();
  };
  const auto fail = [&](Status why) {
    batch_error = Status::Unavailable(why.message());
    const Outcome outcome = transient() ? Outcome::kRetry : Outcome::kFailed;
    Abandon();
    return outcome;
  };

  if (conn_->broken()) {
    if (Status st = conn_->Reset(); !st.ok()) {
      batch_error = st;
      return Outcome::kRetry;
    }
  }
  conn_->ClearTransientFailure();
  if (PgResult begin = conn_->Script("BEGIN ISOLATION LEVEL READ COMMITTED");
      !begin.ok()) {
    return fail(Status::Unavailable("could not begin a write transaction: " +
                                    begin.status().message()));
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (PgResult savepoint = conn_->Script(kSavepoint); !savepoint.ok()) {
      return fail(Status::Unavailable("could not open a savepoint: " +
                                      savepoint.status().message()));
    }
    Status st;
    try {
      st = batch[i].job(*conn_);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("write job threw: ") + e.what());
    } catch (...) {
      st = Status::Internal("write job threw");
    }
    if (transient()) {
      return fail(Status::Unavailable(
          "the write transaction was interrupted: " + st.message()));
    }
    if (st.ok()) {
      PgResult released = conn_->Script(kRelease);
      if (released.ok()) continue;
      st = released.status();
    }
    results[i] = std::move(st);
    PgResult rolled_back = conn_->Script(kRollbackTo);
    if (!rolled_back.ok()) {
      return fail(Status::Unavailable("could not roll back a failed write: " +
                                      rolled_back.status().message()));
    }
    if (PgResult released = conn_->Script(kRelease); !released.ok()) {
      return fail(Status::Unavailable("could not roll back a failed write: " +
                                      released.status().message()));
    }
  }
  PgResult commit = conn_->Script("COMMIT");
  if (commit.ok()) return Outcome::kCommitted;
  if (conn_->broken()) {
    // The server may have committed before the connection dropped: the
    // outcome is unknown, and running the jobs again could apply them twice.
    batch_error = Status::Unavailable(
        "the connection to PostgreSQL was lost during COMMIT; the write may "
        "or may not have been committed: " +
        commit.status().message());
    return Outcome::kFailed;
  }
  return fail(
      Status::Unavailable("commit failed: " + commit.status().message()));
}

void PgWriter::Abandon() {
  if (!conn_->broken() && conn_->InTransaction()) {
    (void)conn_->Script("ROLLBACK");
  }
}

}  // namespace agentry
