// GroupCommitWriter on a real SQLite file: batching, per-job isolation,
// commit failure, completion order and shutdown.

#include "agentry/store/sqlite/group_commit.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <iostream>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/event_round.h"
#include "agentry/common/metrics.h"
#include "agentry/store/sqlite/sqlite_db.h"

namespace agentry {
namespace {

Status Insert(SqliteConnection& c, const std::string& v) {
  AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                           c.Prepare("INSERT INTO t (v) VALUES (?)"));
  stmt.BindAll(v);
  return stmt.Run();
}

// Rows of t whose v is `v`, or all rows when `v` is empty, as `c` sees them.
int64_t CountIn(SqliteConnection& c, const std::string& v) {
  Result<SqliteStatement> stmt =
      v.empty() ? c.Prepare("SELECT COUNT(*) FROM t")
                : c.Prepare("SELECT COUNT(*) FROM t WHERE v = ?");
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  if (!stmt.ok()) return -1;
  if (!v.empty()) stmt->BindAll(v);
  Result<bool> row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row);
  return stmt->Int64(0);
}

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/agentry-gc-XXXXXX";
    const char* made = mkdtemp(tmpl);
    ASSERT_NE(made, nullptr);
    dir_ = made;
    path_ = dir_ + "/gc.db";
  }

  void TearDown() override {
    writer_.reset();
    reader_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Creates the schema and starts a writer folding at most `max_batch` jobs.
  void Start(size_t max_batch) {
    Result<std::unique_ptr<SqliteConnection>> conn =
        SqliteConnection::Open(path_);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    ASSERT_TRUE((*conn)
                    ->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                           "PRAGMA foreign_keys=ON;"
                           "CREATE TABLE t (id INTEGER PRIMARY KEY, "
                           "v TEXT NOT NULL UNIQUE);"
                           "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                           "CREATE TABLE child (id INTEGER PRIMARY KEY, "
                           "parent_id INTEGER NOT NULL REFERENCES parent (id) "
                           "DEFERRABLE INITIALLY DEFERRED);")
                    .ok());
    GroupCommitOptions options;
    options.max_batch = max_batch;
    options.batch_sizes = &batch_sizes_;
    writer_ = std::make_unique<GroupCommitWriter>(std::move(*conn), options);
    Result<std::unique_ptr<SqliteConnection>> reader =
        SqliteConnection::Open(path_);
    ASSERT_TRUE(reader.ok());
    reader_ = std::move(*reader);
  }

  // Rows of t whose v is `v` (all rows when `v` is empty) as seen by the
  // test's own connection, so only committed rows count. Main thread only.
  int64_t Count(const std::string& v = "") { return CountIn(*reader_, v); }

  // Occupies the writer thread until the returned promise is fulfilled, so
  // the jobs submitted meanwhile land together in the next batch.
  std::promise<void> BlockWriter() {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> running = started->get_future();
    writer_->Submit(
        [released, started](SqliteConnection&) {
          started->set_value();
          released.wait();
          return Status::Ok();
        },
        [](Status) {});
    running.wait();
    return release;
  }

  // Returns once the writer waits for work with nothing queued.
  void WaitUntilIdle() {
    for (int i = 0; i < 5000 && !writer_->Idle(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(writer_->Idle());
  }

  uint64_t Batches() const {
    return batch_sizes_.CumulativeCount(batch_sizes_.bounds().size());
  }
  // Committed batches of at most `size` jobs (`size` must be a bound).
  uint64_t BatchesUpTo(double size) const {
    const auto& b = batch_sizes_.bounds();
    for (size_t i = 0; i < b.size(); ++i) {
      if (b[i] == size) return batch_sizes_.CumulativeCount(i);
    }
    ADD_FAILURE() << "no bound " << size;
    return 0;
  }

  std::string dir_;
  std::string path_;
  Histogram batch_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteConnection> reader_;
};

TEST_F(GroupCommitTest, ConcurrentWritesAllCommitInSharedBatches) {
  Start(/*max_batch=*/32);
  constexpr int kThreads = 64;
  constexpr int kWrites = 20;
  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread checks visibility through a connection of its own.
      Result<std::unique_ptr<SqliteConnection>> own =
          SqliteConnection::Open(path_);
      start.arrive_and_wait();
      if (!own.ok()) {
        failures += kWrites;
        return;
      }
      for (int i = 0; i < kWrites; ++i) {
        const std::string v = std::to_string(t) + "-" + std::to_string(i);
        Status st =
            writer_->Write([&v](SqliteConnection& c) { return Insert(c, v); });
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
        } else if (CountIn(**own, v) != 1) {  // ok means committed
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(), kThreads * kWrites);
  // Every job was counted in exactly one committed batch.
  EXPECT_DOUBLE_EQ(batch_sizes_.Sum(), kThreads * kWrites);
  // Group commit really happened: fewer transactions than writes, some
  // batch held more than one write, and none exceeded max_batch.
  EXPECT_LT(Batches(), static_cast<uint64_t>(kThreads * kWrites));
  EXPECT_GT(Batches() - BatchesUpTo(1), 0u);
  EXPECT_EQ(BatchesUpTo(32), Batches());

  std::cout << "[ batches ] " << Batches() << " transactions for "
            << kThreads * kWrites << " writes; by size:";
  const auto& b = batch_sizes_.bounds();
  uint64_t below = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const uint64_t upto = batch_sizes_.CumulativeCount(i);
    std::cout << " <=" << b[i] << ":" << upto - below;
    below = upto;
  }
  std::cout << std::endl;
}

// Many connections reading right after Write returns always see the row:
// ok is only reported after COMMIT.
TEST_F(GroupCommitTest, WriteReturnsAfterCommit) {
  Start(256);
  for (int i = 0; i < 20; ++i) {
    const std::string v = "row" + std::to_string(i);
    ASSERT_TRUE(
        writer_->Write([&](SqliteConnection& c) { return Insert(c, v); }).ok());
    EXPECT_EQ(Count(v), 1);
  }
}

TEST_F(GroupCommitTest, FailingJobChangesNothingWhileBatchMatesCommit) {
  Start(256);
  std::promise<void> release = BlockWriter();

  std::vector<std::future<Status>> results;
  auto submit = [&](GroupCommitWriter::Job job) {
    auto p = std::make_shared<std::promise<Status>>();
    results.push_back(p->get_future());
    writer_->Submit(std::move(job),
                    [p](Status s) { p->set_value(std::move(s)); });
  };
  submit([](SqliteConnection& c) { return Insert(c, "a"); });
  // Writes a row, then hits a UNIQUE violation: its first row must vanish.
  submit([](SqliteConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(Insert(c, "b"));
    return Insert(c, "a");
  });
  // Writes a row, then reports a business error.
  submit([](SqliteConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(Insert(c, "c"));
    return Status::NotFound("no such thing");
  });
  // Writes a row, then throws.
  submit([](SqliteConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(Insert(c, "d"));
    throw std::runtime_error("bug");
  });
  submit([](SqliteConnection& c) { return Insert(c, "e"); });
  release.set_value();

  std::vector<Status> got;
  for (auto& f : results) got.push_back(f.get());
  EXPECT_TRUE(got[0].ok()) << got[0].ToString();
  EXPECT_EQ(got[1].code(), ErrorCode::kConflict) << got[1].ToString();
  EXPECT_EQ(got[2].code(), ErrorCode::kNotFound);
  EXPECT_EQ(got[3].code(), ErrorCode::kInternal);
  EXPECT_NE(got[3].message().find("bug"), std::string::npos);
  EXPECT_TRUE(got[4].ok()) << got[4].ToString();

  EXPECT_EQ(Count("a"), 1);
  EXPECT_EQ(Count("b"), 0);
  EXPECT_EQ(Count("c"), 0);
  EXPECT_EQ(Count("d"), 0);
  EXPECT_EQ(Count("e"), 1);
  EXPECT_EQ(Count(), 2);
  // Two transactions: the blocker alone, then the five jobs together.
  EXPECT_EQ(Batches(), 2u);
  EXPECT_EQ(BatchesUpTo(1), 1u);
  EXPECT_EQ(BatchesUpTo(4), 1u);
  EXPECT_EQ(BatchesUpTo(8), 2u);
}

// A deferred foreign key makes COMMIT itself fail: the whole batch is rolled
// back, its successful jobs report kUnavailable, and the writer carries on.
TEST_F(GroupCommitTest, FailedCommitRollsBackTheWholeBatch) {
  Start(256);
  std::promise<void> release = BlockWriter();
  std::vector<std::future<Status>> results;
  auto submit = [&](GroupCommitWriter::Job job) {
    auto p = std::make_shared<std::promise<Status>>();
    results.push_back(p->get_future());
    writer_->Submit(std::move(job),
                    [p](Status s) { p->set_value(std::move(s)); });
  };
  submit([](SqliteConnection& c) { return Insert(c, "p"); });
  submit([](SqliteConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("INSERT INTO child (parent_id) VALUES (?)"));
    stmt.BindAll(42);  // no such parent; checked only at COMMIT
    return stmt.Run();
  });
  submit([](SqliteConnection& c) { return Insert(c, "q"); });
  release.set_value();

  for (auto& f : results) {
    EXPECT_EQ(f.get().code(), ErrorCode::kUnavailable);
  }
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Batches(), 1u);  // only the blocker's batch committed

  ASSERT_TRUE(
      writer_->Write([](SqliteConnection& c) { return Insert(c, "after"); })
          .ok());
  EXPECT_EQ(Count("after"), 1);
}

TEST_F(GroupCommitTest, SubmitCallbackRunsAfterCommitOnTheWriterThread) {
  Start(256);
  // A connection of its own, used only from the callback.
  Result<std::unique_ptr<SqliteConnection>> observer =
      SqliteConnection::Open(path_);
  ASSERT_TRUE(observer.ok());
  std::promise<std::pair<Status, int64_t>> done;
  std::thread::id callback_thread;
  writer_->Submit([](SqliteConnection& c) { return Insert(c, "s"); },
                  [&](Status st) {
                    callback_thread = std::this_thread::get_id();
                    // The statement is gone before the test thread wakes.
                    const int64_t seen = CountIn(**observer, "s");
                    done.set_value({st, seen});
                  });
  auto [status, seen] = done.get_future().get();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(seen, 1);  // already committed when the callback ran
  EXPECT_NE(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(Batches(), 1u);
}

TEST_F(GroupCommitTest, ShutdownDrainsQueuedJobsThenRefusesNewOnes) {
  Start(4);
  std::promise<void> release = BlockWriter();
  std::atomic<int> ok{0};
  for (int i = 0; i < 10; ++i) {
    writer_->Submit(
        [i](SqliteConnection& c) { return Insert(c, "q" + std::to_string(i)); },
        [&ok](Status st) {
          if (st.ok()) ++ok;
        });
  }
  std::thread stopper([&] { writer_->Shutdown(); });
  // Shutdown waits for the queue; release the writer so it can drain.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  stopper.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(Count(), 10);
  EXPECT_EQ(Batches(), 4u);  // the blocker, then 4 + 4 + 2

  bool ran = false;
  const Status st = writer_->Write([&](SqliteConnection& c) {
    ran = true;
    return Insert(c, "late");
  });
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(ran);
  Status async = Status::Internal("not called");
  writer_->Submit([](SqliteConnection& c) { return Insert(c, "late2"); },
                  [&](Status s) { async = s; });
  EXPECT_EQ(async.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(Count(), 10);
  writer_->Shutdown();  // idempotent
}

TEST_F(GroupCommitTest, WriteFromTheWriterThreadIsRefused) {
  Start(256);
  std::promise<Status> nested;
  writer_->Submit([](SqliteConnection&) { return Status::Ok(); },
                  [&](Status) {
                    nested.set_value(writer_->Write(
                        [](SqliteConnection& c) { return Insert(c, "x"); }));
                  });
  EXPECT_EQ(nested.get_future().get().code(), ErrorCode::kInternal);
  EXPECT_EQ(Count("x"), 0);
}

// Jobs without a savepoint: a failure before their first change is theirs
// alone (SQLite undoes the failing statement); a failure after a change can
// only be undone with the whole batch.
TEST_F(GroupCommitTest, StatementJobsFailAloneUnlessTheyFailHalfDone) {
  Start(256);
  using Isolation = GroupCommitWriter::Isolation;
  auto run_batch = [&](std::vector<GroupCommitWriter::Job> jobs) {
    std::promise<void> release = BlockWriter();
    std::vector<std::future<Status>> results;
    for (auto& job : jobs) {
      auto p = std::make_shared<std::promise<Status>>();
      results.push_back(p->get_future());
      writer_->Submit(
          std::move(job), [p](Status s) { p->set_value(std::move(s)); },
          Isolation::kStatements);
    }
    release.set_value();
    std::vector<Status> got;
    for (auto& f : results) got.push_back(f.get());
    return got;
  };

  // The second job's only statement violates UNIQUE: it undoes itself.
  std::vector<Status> got = run_batch({
      [](SqliteConnection& c) { return Insert(c, "a"); },
      [](SqliteConnection& c) { return Insert(c, "a"); },
      [](SqliteConnection& c) -> Status { return Status::NotFound("none"); },
      [](SqliteConnection& c) { return Insert(c, "b"); },
  });
  EXPECT_TRUE(got[0].ok()) << got[0].ToString();
  EXPECT_EQ(got[1].code(), ErrorCode::kConflict) << got[1].ToString();
  EXPECT_EQ(got[2].code(), ErrorCode::kNotFound);
  EXPECT_TRUE(got[3].ok()) << got[3].ToString();
  EXPECT_EQ(Count("a"), 1);
  EXPECT_EQ(Count("b"), 1);

  // The second job writes a row, then fails: nothing of the batch is kept.
  got = run_batch({
      [](SqliteConnection& c) { return Insert(c, "c"); },
      [](SqliteConnection& c) -> Status {
        AGENTRY_RETURN_IF_ERROR(Insert(c, "d"));
        return Insert(c, "a");  // taken
      },
      [](SqliteConnection& c) { return Insert(c, "e"); },
  });
  EXPECT_EQ(got[0].code(), ErrorCode::kUnavailable) << got[0].ToString();
  EXPECT_EQ(got[1].code(), ErrorCode::kConflict) << got[1].ToString();
  EXPECT_EQ(got[2].code(), ErrorCode::kUnavailable) << got[2].ToString();
  EXPECT_EQ(Count("c") + Count("d") + Count("e"), 0);
  EXPECT_EQ(Count(), 2);

  // The writer carries on.
  got = run_batch({[](SqliteConnection& c) { return Insert(c, "f"); }});
  EXPECT_TRUE(got[0].ok());
  EXPECT_EQ(Count("f"), 1);
}

// On a thread inside an EventRound, Submit wakes the writer at the end of
// the round: the round's jobs commit together. Write never waits for it.
TEST_F(GroupCommitTest, JobsOfOneEventRoundShareOneBatch) {
  Start(256);
  // A job queued before the writer is back in its wait is taken at once (as
  // designed): start each round with the writer waiting. (Without this the
  // test failed under ASan, where the writer thread starts late.)
  WaitUntilIdle();
  std::vector<std::future<Status>> results;
  {
    EventRound round;
    for (const char* v : {"r1", "r2", "r3", "r4"}) {
      auto p = std::make_shared<std::promise<Status>>();
      results.push_back(p->get_future());
      writer_->Submit(
          [v = std::string(v)](SqliteConnection& c) { return Insert(c, v); },
          [p](Status s) { p->set_value(std::move(s)); });
    }
    EXPECT_TRUE(round.Pending());
    // A blocking write from the same thread is woken at once (it would
    // otherwise wait for a round end that cannot come) and takes the
    // queued jobs along.
    ASSERT_TRUE(
        writer_->Write([](SqliteConnection& c) { return Insert(c, "w"); })
            .ok());
    for (auto& f : results) EXPECT_TRUE(f.get().ok());
    EXPECT_EQ(Batches(), 1u);
    EXPECT_EQ(BatchesUpTo(4), 0u);  // all five in one transaction

    results.clear();
    WaitUntilIdle();
    for (const char* v : {"s1", "s2", "s3"}) {
      auto p = std::make_shared<std::promise<Status>>();
      results.push_back(p->get_future());
      writer_->Submit(
          [v = std::string(v)](SqliteConnection& c) { return Insert(c, v); },
          [p](Status s) { p->set_value(std::move(s)); });
    }
    round.End();  // the loop would block for more events now
  }
  for (auto& f : results) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(Count(), 8);
  EXPECT_EQ(Batches(), 2u);
  EXPECT_EQ(BatchesUpTo(2), 0u);  // s1-s3 together
}

}  // namespace
}  // namespace agentry
