// Group commit for SQLite: one writer thread owns the only write connection
// and folds concurrent writes into one transaction, so a batch of N writes
// costs one fsync instead of N.
//
// The writer takes everything queued (up to max_batch jobs), runs
// BEGIN IMMEDIATE, runs each job (inside its own SAVEPOINT unless it was
// submitted as Isolation::kStatements), then COMMITs once and completes
// every job of the batch.
//
// Durability: a job is reported ok only after the COMMIT that contains it has
// returned, i.e. it is as durable as the connection's `synchronous` setting
// makes a commit (the store uses WAL with synchronous=FULL: fsynced).
// Isolation between jobs: a job that returns non-ok (or throws) changes
// nothing, and its batch-mates still commit — a savepoint job is rolled back
// to its savepoint; a kStatements job relies on each SQLite statement undoing
// itself when it fails, so it must fail before its first change (if it
// returns non-ok after a change, the writer cannot undo it alone and rolls
// the whole batch back). If BEGIN or COMMIT fails, or SQLite aborts the
// transaction, the whole batch is rolled back: every job that had succeeded
// gets kUnavailable, a job that had failed keeps its own error. Nothing from
// that batch is written.
//
// Jobs run one after another on the writer thread and see the writes of the
// jobs before them in the same batch. A job must only use the connection it
// is given, must not start, commit or roll back transactions itself, and
// must not block on other writes (it would deadlock the writer).
//
// Wake-ups: Write wakes the writer at once. Submit from a thread inside an
// EventRound (an HTTP I/O thread) defers the wake-up to the end of the round
// (common/event_round.h): the jobs of one round start one transaction
// together, and the writer does not take the core from the round. The
// writer also takes whatever is queued whenever it finishes a batch.
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
#include "agentry/store/sqlite/sqlite_db.h"

namespace agentry {

class Histogram;

struct GroupCommitOptions {
  // Most jobs folded into one transaction (values below 1 count as 1).
  size_t max_batch = 256;
  // Receives the number of jobs in each committed transaction. May be null;
  // must outlive the writer.
  Histogram* batch_sizes = nullptr;
};

class GroupCommitWriter {
 public:
  using Job = std::function<Status(SqliteConnection&)>;
  using Done = std::function<void(Status)>;

  // How a job is kept apart from its batch-mates (see the top of the file).
  enum class Isolation {
    kSavepoint,   // any job: its own SAVEPOINT, rolled back when it fails
    kStatements,  // DML only, fails before its first change or not at all:
                  // no savepoint (two statements and a page copy per page
                  // it touches fewer)
  };

  // Takes the write connection and starts the writer thread. The connection
  // must not be inside a transaction.
  GroupCommitWriter(std::unique_ptr<SqliteConnection> connection,
                    GroupCommitOptions options = {});
  // Shutdown(), then closes the connection.
  ~GroupCommitWriter();

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Runs `job` in the next batch and blocks until that batch is committed.
  // Returns the job's own error if it failed (nothing it did is kept),
  // kUnavailable if the commit failed or the writer is shut down, ok once
  // the write is durable.
  Status Write(Job job);

  // Like Write without blocking: `done` receives the same Status. It runs on
  // the writer thread after the commit (keep it short, it must not throw),
  // or on the calling thread, at once, with kUnavailable when the writer is
  // shut down.
  void Submit(Job job, Done done, Isolation isolation = Isolation::kSavepoint);

  // Stops accepting jobs, drains the queue, stops the thread. Idempotent.
  void Shutdown();

  // True while the writer thread waits for work with nothing queued (so the
  // next job reaches it only through a wake-up). For tests and diagnostics.
  bool Idle();

 private:
  struct Pending {
    Job job;
    Done done;
    Isolation isolation;
  };

  void Enqueue(Pending pending, bool wake_now);
  static void Wake(void* self);  // an EventRound wake-up
  void Loop();
  void RunBatch(std::vector<Pending>& batch);

  const GroupCommitOptions options_;
  std::unique_ptr<SqliteConnection> conn_;  // only the writer thread uses it

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)
  bool idle_ = false;          // GUARDED_BY(mu_)

  std::mutex shutdown_mu_;  // serialises Shutdown (join once)
  std::thread thread_;
  std::thread::id writer_id_;  // set once in the constructor
};

}  // namespace agentry
