#include "agentry/store/sqlite/group_commit.h"

#include <algorithm>
#include <exception>
#include <future>
#include <string>
#include <utility>

#include "agentry/common/event_round.h"
#include "agentry/common/metrics.h"

namespace agentry {

namespace {

// Calls `done`, which must not throw; if it does anyway the writer survives.
void Complete(const GroupCommitWriter::Done& done, Status status) {
  if (!done) return;
  try {
    done(std::move(status));
  } catch (...) {
  }
}

}  // namespace

GroupCommitWriter::GroupCommitWriter(
    std::unique_ptr<SqliteConnection> connection, GroupCommitOptions options)
    : options_(options), conn_(std::move(connection)) {
  thread_ = std::thread([this] { Loop(); });
  writer_id_ = thread_.get_id();
}

GroupCommitWriter::~GroupCommitWriter() { Shutdown(); }

Status GroupCommitWriter::Write(Job job) {
  if (std::this_thread::get_id() == writer_id_) {
    return Status::Internal(
        "a write was issued from the writer thread (it would deadlock)");
  }
  std::promise<Status> promise;
  std::future<Status> future = promise.get_future();
  // Woken at once: this thread blocks until the commit, so its round (if
  // it runs one) cannot end first.
  Enqueue(Pending{std::move(job),
                  [&promise](Status s) { promise.set_value(std::move(s)); },
                  Isolation::kSavepoint},
          /*wake_now=*/true);
  return future.get();
}

void GroupCommitWriter::Submit(Job job, Done done, Isolation isolation) {
  Enqueue(Pending{std::move(job), std::move(done), isolation},
          /*wake_now=*/false);
}

void GroupCommitWriter::Enqueue(Pending pending, bool wake_now) {
  {
    // The notify stays under the lock: once the lock is released the
    // writer may commit this job, its caller may destroy the writer, and a
    // notify after that would touch a destroyed condition variable.
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      if (wake_now || !EventRound::Defer(&GroupCommitWriter::Wake, this)) {
        cv_.notify_one();
      }
      return;
    }
  }
  Complete(pending.done, Status::Unavailable("the store is shutting down"));
}

void GroupCommitWriter::Wake(void* self) {
  auto* writer = static_cast<GroupCommitWriter*>(self);
  std::lock_guard<std::mutex> lock(writer->mu_);
  writer->cv_.notify_one();
}

void GroupCommitWriter::Shutdown() {
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

bool GroupCommitWriter::Idle() {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_ && queue_.empty();
}

void GroupCommitWriter::Loop() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  std::vector<Pending> batch;
  batch.reserve(std::min<size_t>(max_batch, 1024));
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_ = true;
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      idle_ = false;
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

void GroupCommitWriter::RunBatch(std::vector<Pending>& batch) {
  static constexpr char kSavepoint[] = "SAVEPOINT agentry_job";
  static constexpr char kRelease[] = "RELEASE agentry_job";
  static constexpr char kRollbackTo[] = "ROLLBACK TO agentry_job";

  std::vector<Status> results(batch.size());  // ok until a job says otherwise
  Status batch_error;  // non-ok: nothing of this batch is written
  const Status begin = conn_->Run("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    batch_error = Status::Unavailable("could not begin a write transaction: " +
                                      begin.message());
  }
  for (size_t i = 0; batch_error.ok() && i < batch.size(); ++i) {
    const bool savepoint = batch[i].isolation == Isolation::kSavepoint;
    Status st = savepoint ? conn_->Run(kSavepoint) : Status::Ok();
    if (!st.ok()) {
      batch_error =
          Status::Unavailable("could not open a savepoint: " + st.message());
      break;
    }
    const int64_t changes_before = savepoint ? 0 : conn_->TotalChanges();
    try {
      st = batch[i].job(*conn_);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("write job threw: ") + e.what());
    } catch (...) {
      st = Status::Internal("write job threw");
    }
    if (!conn_->InTransaction()) {
      // SQLite rolled the whole transaction back (disk full, I/O error…):
      // the earlier jobs of this batch are gone too.
      results[i] = std::move(st);
      batch_error = Status::Unavailable(
          "the write transaction was aborted by the database");
      break;
    }
    if (!savepoint) {
      if (st.ok()) continue;
      results[i] = std::move(st);
      if (conn_->TotalChanges() != changes_before) {
        // It failed after changing rows: only the batch can be undone.
        batch_error = Status::Unavailable(
            "a write failed half-done; its batch was rolled back");
      }
      continue;
    }
    if (st.ok()) {
      const Status released = conn_->Run(kRelease);
      if (released.ok()) continue;
      st = released;
    }
    results[i] = std::move(st);
    const Status rolled_back = conn_->Run(kRollbackTo);
    const Status released = conn_->Run(kRelease);
    if (!rolled_back.ok() || !released.ok()) {
      // The job's changes could not be undone alone: undo the batch.
      batch_error = Status::Unavailable(
          "could not roll back a failed write: " +
          (rolled_back.ok() ? released : rolled_back).message());
    }
  }
  if (batch_error.ok()) {
    const Status commit = conn_->Run("COMMIT");
    if (!commit.ok()) {
      batch_error = Status::Unavailable("commit failed: " + commit.message());
    }
  }
  if (!batch_error.ok() && conn_->InTransaction()) {
    (void)conn_->Exec("ROLLBACK");
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

}  // namespace agentry
