// Group commit for PostgreSQL: one writer thread owns the store's write
// connection and folds queued writes into one transaction, so a batch of N
// writes costs one COMMIT (one WAL flush) instead of N.
//
// The writer takes everything queued (up to max_batch jobs), runs BEGIN
// (READ COMMITTED), runs each job inside its own SAVEPOINT, then COMMITs once
// and completes every job of the batch. Jobs take the row locks they need
// (SELECT … FOR UPDATE) so that checks and changes stay atomic against other
// nodes writing the same database.
//
// Durability: a job is reported ok only after the COMMIT that contains it has
// returned, and connections run with synchronous_commit=on: the commit is in
// the server's flushed WAL.
// Isolation between jobs: a job that returns non-ok (or throws) is rolled
// back to its savepoint, so it changes nothing, and its batch-mates still
// commit.
// Retries: when a statement fails with a serialization failure or a deadlock
// (another node got in the way), or the connection turns out to be lost
// before COMMIT was sent, the whole batch is rolled back and run again — on a
// reconnected connection if need be — up to max_attempts times, with a short
// growing pause. A job may therefore run more than once: it must set its
// outputs afresh each time it runs. If the batch still fails, or BEGIN or
// COMMIT fails otherwise, nothing of it is written: every job that had
// succeeded gets kUnavailable, a job that had failed keeps its own error.
// When the connection is lost while COMMIT is in flight the outcome is
// unknown; the batch's jobs get kUnavailable saying so, and are not retried
// (a retry could apply them twice).
//
// Order: jobs run one after another on the writer thread, in submission
// order, and see the writes of the jobs before them in the same batch; jobs
// submitted from one thread are committed in submission order. A job must
// only use the connection it is given, must not start, commit or roll back
// transactions itself, and must not block on other writes (it would deadlock
// the writer).
//
// Thread-safety: Write, Submit and Shutdown may be called from any thread,
// concurrently, except from the writer thread itself (a job or a `done`
// callback): Write from there returns kInternal instead of deadlocking.
// After Shutdown begins, new jobs get kUnavailable; jobs already queued are
// drained (run and committed) before Shutdown returns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/postgres/pg_db.h"

namespace agentry {

class Histogram;

struct PgWriterOptions {
  // Most jobs folded into one transaction (values below 1 count as 1).
  size_t max_batch = 256;
  // Receives the number of jobs in each committed transaction. May be null;
  // must outlive the writer.
  Histogram* batch_sizes = nullptr;
  // Runs of a batch that keeps failing for a transient reason (values below
  // 1 count as 1).
  int max_attempts = 5;
};

class PgWriter {
 public:
  using Job = std::function<Status(PgConnection&)>;
  using Done = std::function<void(Status)>;

  // Takes the write connection and starts the writer thread. The connection
  // must not be inside a transaction.
  PgWriter(std::unique_ptr<PgConnection> connection,
           PgWriterOptions options = {});
  // Shutdown(), then closes the connection.
  ~PgWriter();

  PgWriter(const PgWriter&) = delete;
  PgWriter& operator=(const PgWriter&) = delete;

  // Runs `job` in the next batch and blocks until that batch is committed.
  // Returns the job's own error if it failed (nothing it did is kept),
  // kUnavailable if the commit failed or the writer is shut down, ok once
  // the write is durable.
  Status Write(Job job);

  // Like Write without blocking: `done` receives the same Status. It runs on
  // the writer thread after the commit (keep it short, it must not throw),
  // or on the calling thread, at once, with kUnavailable when the writer is
  // shut down.
  void Submit(Job job, Done done);

  // Stops accepting jobs, drains the queue, stops the thread. Idempotent.
  void Shutdown();

 private:
  struct Pending {
    Job job;
    Done done;
  };

  // How one run of a batch ended.
  enum class Outcome { kCommitted, kFailed, kRetry };

  void Loop();
  void RunBatch(std::vector<Pending>& batch);
  // One run: `results` receives each job's own status, `batch_error` the
  // reason nothing was written (ok when committed).
  Outcome TryBatch(std::vector<Pending>& batch, std::vector<Status>& results,
                   Status& batch_error);
  // After a failed run: rolls back whatever is open.
  void Abandon();

  const PgWriterOptions options_;
  std::unique_ptr<PgConnection> conn_;  // only the writer thread uses it

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)

  std::mutex shutdown_mu_;  // serialises Shutdown (join once)
  std::thread thread_;
  std::thread::id writer_id_;  // set once in the constructor
};

}  // namespace agentry
