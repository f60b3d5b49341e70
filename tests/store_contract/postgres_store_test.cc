// PostgreSQL specifics, beside the typed contract suites (which run on both
// backends): the schema and its migrations, configurations kept byte for
// byte, the audit trail, recovery from dropped connections, several stores
// (nodes) sharing one database, and PgWriter's batching, isolation, retries
// and order. Runs against the server tests/pg/with_postgres.sh starts.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/crypto.h"
#include "agentry/common/ids.h"
#include "agentry/common/metrics.h"
#include "agentry/store/migration.h"
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/postgres/pg_listener.h"
#include "agentry/store/postgres/pg_writer.h"
#include "agentry/store/store.h"
#include "backends.h"

namespace agentry {
namespace {

using store_contract::kT0;
using store_contract::MakeKey;
using store_contract::MakeOrg;
using store_contract::PostgresBackend;

// A connection of its own to `url`, for looking inside.
std::unique_ptr<PgConnection> Connect(const std::string& url) {
  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Open(url);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  return conn.ok() ? std::move(*conn) : nullptr;
}

std::unique_ptr<Store> MustOpen(const std::string& url) {
  Result<std::unique_ptr<Store>> store = OpenStore(url);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

// The single value of a one-row, one-column query.
std::string One(PgConnection& c, const std::string& sql) {
  PgResult r = c.Exec(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.rows(), 1) << sql;
  return r.ok() && r.rows() == 1 ? r.Text(0, 0) : "";
}

AgentRecord MakeAgent(const std::string& organization_id,
                      const std::string& key) {
  AgentRecord a;
  a.created_at_ms = a.updated_at_ms = kT0;
  a.id = NewUuidV7(kT0);
  a.organization_id = organization_id;
  a.key = key;
  a.draft = boost::json::object{{"name", key}, {"enabled", true}};
  a.current_name = key;
  return a;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
  PostgresBackend backend_;
};

// ---- schema ----

TEST_F(PostgresStoreTest, MigrationsAreRecordedOnce) {
  for (int i = 0; i < 2; ++i) ASSERT_NE(MustOpen(backend_.url()), nullptr);
  std::unique_ptr<PgConnection> c = Connect(backend_.url());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(One(*c, "SELECT count(*) FROM schema_migrations"),
            std::to_string(kPostgresMigrationsCount));
  EXPECT_EQ(One(*c, "SELECT max(version) FROM schema_migrations"),
            std::to_string(
                kPostgresMigrations[kPostgresMigrationsCount - 1].version));
  // The migration lock is not left behind.
  EXPECT_EQ(One(*c,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())"),
            "0");
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerBinary) {
  ASSERT_NE(MustOpen(backend_.url()), nullptr);
  {
    std::unique_ptr<PgConnection> c = Connect(backend_.url());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Exec("INSERT INTO schema_migrations (version, name, "
                        "applied_at) VALUES ($1, $2, $3)",
                        9999, "9999_from_the_future", kT0)
                    .ok());
  }
  Result<std::unique_ptr<Store>> store = OpenStore(backend_.url());
  EXPECT_EQ(store.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos)
      << store.status().message();
}

TEST_F(PostgresStoreTest, NodesStartingAtOnceMigrateOnce) {
  constexpr int kNodes = 6;
  std::vector<Result<std::unique_ptr<Store>>> stores;
  for (int i = 0; i < kNodes; ++i) stores.emplace_back(Status::Internal("x"));
  std::latch start(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      stores[i] = OpenStore(backend_.url());
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& store : stores) {
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  std::unique_ptr<PgConnection> c = Connect(backend_.url());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(One(*c, "SELECT count(*) FROM schema_migrations"),
            std::to_string(kPostgresMigrationsCount));
}

TEST_F(PostgresStoreTest, ConfigurationsAreStoredByteForByte) {
  std::unique_ptr<Store> store = MustOpen(backend_.url());
  ASSERT_NE(store, nullptr);
  const Organization org = MakeOrg("bytes");
  ASSERT_TRUE(store->organizations().Create(org, MakeKey(org.id, "a")).ok());
  // Members out of alphabetical order, nested, with text jsonb would
  // rewrite (escapes, number spellings).
  Tool tool;
  tool.organization_id = org.id;
  tool.id = "tol_order";
  tool.created_at_ms = tool.updated_at_ms = kT0;
  tool.config = boost::json::object{
      {"zeta", 1},
      {"alpha", boost::json::object{{"y", "\u00e9\t\"q\""}, {"b", 1.5e-7}}},
      {"mid", boost::json::array{3, "two", nullptr, false}},
      {"big", int64_t{9007199254740993}}};
  ASSERT_TRUE(store->tools().Create(tool).ok());

  std::unique_ptr<PgConnection> c = Connect(backend_.url());
  ASSERT_NE(c, nullptr);
  PgResult raw = c->Exec("SELECT config FROM tools WHERE id = $1", tool.id);
  ASSERT_TRUE(raw.ok() && raw.rows() == 1) << raw.status().ToString();
  EXPECT_EQ(raw.Text(0, 0), boost::json::serialize(tool.config));
  Result<Tool> got = store->tools().Get(org.id, tool.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(boost::json::serialize(got->config),
            boost::json::serialize(tool.config));
}

TEST_F(PostgresStoreTest, PublishAndActivateAreRecorded) {
  std::unique_ptr<Store> store = MustOpen(backend_.url());
  ASSERT_NE(store, nullptr);
  const Organization org = MakeOrg("audit-org");
  ASSERT_TRUE(store->organizations().Create(org, MakeKey(org.id, "a")).ok());
  const AgentRecord a = MakeAgent(org.id, "agt_audit");
  AgentStore& agents = store->agents();
  ASSERT_TRUE(agents.Create(a, std::nullopt).ok());
  ASSERT_TRUE(
      agents.Publish(org.id, a.id, std::nullopt, a.draft, "", "key-p1", kT0 + 1)
          .ok());
  ASSERT_TRUE(
      agents.Publish(org.id, a.id, std::nullopt, a.draft, "", "key-p2", kT0 + 2)
          .ok());
  ASSERT_TRUE(
      agents.Activate(org.id, a.id, 1, std::nullopt, "key-act", kT0 + 3).ok());

  std::unique_ptr<PgConnection> c = Connect(backend_.url());
  ASSERT_NE(c, nullptr);
  PgResult r = c->Exec(
      "SELECT kind, version, key_id, at - $2 FROM agent_events "
      "WHERE agent_id = $1 ORDER BY seq",
      a.id, kT0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> rows;
  for (int i = 0; i < r.rows(); ++i) {
    rows.push_back(r.Text(i, 0) + "/" + r.Text(i, 1) + "/" + r.Text(i, 2) +
                   "/" + r.Text(i, 3));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"publish/1/key-p1/1",
                                            "publish/2/key-p2/2",
                                            "activate/1/key-act/3"}));
  // Deleting the agent takes its versions (ON DELETE CASCADE), not its
  // audit trail.
  ASSERT_TRUE(agents.Delete(org.id, a.id, std::nullopt).ok());
  EXPECT_EQ(One(*c, "SELECT count(*) FROM agent_versions"), "0");
  EXPECT_EQ(One(*c, "SELECT count(*) FROM agent_events"), "3");
}

// ---- connections ----

TEST_F(PostgresStoreTest, RecoversWhenTheServerDropsItsConnections) {
  std::unique_ptr<Store> store = MustOpen(backend_.url());
  ASSERT_NE(store, nullptr);
  const Organization org = MakeOrg("dropped");
  ASSERT_TRUE(store->organizations().Create(org, MakeKey(org.id, "a")).ok());

  // Terminate every session of the test database (the store's writer and
  // readers), and wait until they are gone.
  std::unique_ptr<PgConnection> admin = Connect(backend_.admin_url);
  ASSERT_NE(admin, nullptr);
  PgResult killed = admin->Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = $1",
      backend_.name);
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_GE(killed.Int64(0, 0), 2);
  for (int i = 0; i < 500; ++i) {
    PgResult left =
        admin->Exec("SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                    backend_.name);
    ASSERT_TRUE(left.ok());
    if (left.Int64(0, 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // Reads and writes reconnect by themselves.
  EXPECT_TRUE(store->Ping().ok());
  Result<Organization> got = store->organizations().Get(org.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "dropped");
  const ApiKey key = MakeKey(org.id, "after");
  const Status created = store->api_keys().Create(key);
  ASSERT_TRUE(created.ok()) << created.ToString();
  EXPECT_TRUE(store->api_keys().Get(org.id, key.id).ok());
}

// ---- several nodes on one database ----

TEST_F(PostgresStoreTest, TwoNodesBootstrapExactlyOnce) {
  std::unique_ptr<Store> nodes[] = {MustOpen(backend_.url()),
                                    MustOpen(backend_.url())};
  ASSERT_NE(nodes[0], nullptr);
  ASSERT_NE(nodes[1], nullptr);
  constexpr int kThreads = 8;
  std::vector<Organization> orgs;
  std::vector<ApiKey> keys;
  for (int i = 0; i < kThreads; ++i) {
    // Different names: only the advisory lock can keep a second one out.
    orgs.push_back(MakeOrg("default-" + std::to_string(i)));
    keys.push_back(MakeKey(orgs.back().id, "bootstrap admin"));
  }
  std::vector<Result<bool>> results(kThreads, Status::Internal("not run"));
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = nodes[i % 2]->organizations().Bootstrap(orgs[i], keys[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  int winners = 0;
  for (const Result<bool>& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    winners += *r ? 1 : 0;
  }
  EXPECT_EQ(winners, 1);
  Result<std::vector<ApiKey>> active = nodes[0]->api_keys().ListActive();
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 1u);
}

TEST_F(PostgresStoreTest, TwoNodesLoseNoUpdateAndPublishDistinctVersions) {
  std::unique_ptr<Store> nodes[] = {MustOpen(backend_.url()),
                                    MustOpen(backend_.url())};
  ASSERT_NE(nodes[0], nullptr);
  ASSERT_NE(nodes[1], nullptr);
  const Organization org = MakeOrg("nodes");
  ASSERT_TRUE(nodes[0]->organizations().Create(org, MakeKey(org.id, "a")).ok());
  AgentRecord agent = MakeAgent(org.id, "agt_counter");
  agent.draft["count"] = 0;
  ASSERT_TRUE(nodes[0]->agents().Create(agent, std::nullopt).ok());

  constexpr int kThreads = 8;
  constexpr int kPerThread = 5;
  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      AgentStore& agents = nodes[t % 2]->agents();
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        // Read, modify, write with the revision read: retried on 412.
        while (true) {
          Result<AgentRecord> head = agents.Get(org.id, agent.id);
          if (!head.ok()) {
            ++failures;
            break;
          }
          boost::json::object draft = head->draft;
          draft["count"] = draft["count"].as_int64() + 1;
          Result<AgentRecord> updated = agents.UpdateDraft(
              org.id, agent.id, head->revision, draft, "c", true, kT0);
          if (updated.ok()) break;
          if (updated.status().code() != ErrorCode::kPreconditionFailed) {
            ++failures;
            break;
          }
        }
        // And publish, without a revision check.
        if (!agents
                 .Publish(org.id, agent.id, std::nullopt, agent.draft, "", "k",
                          kT0)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<AgentRecord> head = nodes[1]->agents().Get(org.id, agent.id);
  ASSERT_TRUE(head.ok());
  constexpr int kTotal = kThreads * kPerThread;
  EXPECT_EQ(head->draft.at("count").as_int64(), kTotal);
  EXPECT_EQ(head->latest_version, kTotal);
  EXPECT_EQ(head->revision, 1 + 2 * kTotal);
  Result<Page<AgentVersionSummary>> versions =
      nodes[0]->agents().ListVersions(org.id, agent.id, std::nullopt, 200);
  ASSERT_TRUE(versions.ok());
  std::set<int> numbers;
  for (const AgentVersionSummary& v : versions->items)
    numbers.insert(v.version);
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kTotal));
}

// ---- the writer ----

// A PgWriter on its own table t (id in execution order, v unique).
class PgWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reader_ = Connect(backend_.url());
    ASSERT_NE(reader_, nullptr);
    ASSERT_TRUE(reader_
                    ->Script("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, "
                             "v TEXT NOT NULL UNIQUE)")
                    .ok());
    std::unique_ptr<PgConnection> conn = Connect(backend_.url());
    ASSERT_NE(conn, nullptr);
    PgWriterOptions options;
    options.batch_sizes = &batch_sizes_;
    options.max_attempts = 3;
    writer_ = std::make_unique<PgWriter>(std::move(conn), options);
  }

  void TearDown() override {
    writer_.reset();
    reader_.reset();
  }

  static Status Insert(PgConnection& c, const std::string& v) {
    return c.Exec("INSERT INTO t (v) VALUES ($1)", v).status();
  }

  // The values of t in execution order.
  std::vector<std::string> Values() {
    PgResult r = reader_->Exec("SELECT v FROM t ORDER BY id");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
    return out;
  }

  // Submits a job that blocks the writer until the returned promise is
  // set, and waits until it runs: jobs submitted meanwhile form one batch.
  std::promise<void> Hold() {
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> running = started->get_future();
    writer_->Submit(
        [gate, started](PgConnection&) {
          started->set_value();
          gate.wait();
          return Status::Ok();
        },
        nullptr);
    running.wait();
    return release;
  }

  PostgresBackend backend_;
  Histogram batch_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
  std::unique_ptr<PgConnection> reader_;
  std::unique_ptr<PgWriter> writer_;
};

TEST_F(PgWriterTest, AFailingWriteChangesNothingAndItsBatchMatesCommit) {
  std::promise<void> release = Hold();
  std::vector<std::future<Status>> done;
  const auto submit = [&](PgWriter::Job job) {
    auto promise = std::make_shared<std::promise<Status>>();
    done.push_back(promise->get_future());
    writer_->Submit(std::move(job),
                    [promise](Status st) { promise->set_value(st); });
  };
  submit([](PgConnection& c) { return Insert(c, "one"); });
  submit([](PgConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(Insert(c, "two"));
    return Insert(c, "one");  // a unique violation: "two" must go too
  });
  submit([](PgConnection& c) { return Insert(c, "three"); });
  submit([](PgConnection&) -> Status { throw std::runtime_error("boom"); });
  release.set_value();

  EXPECT_TRUE(done[0].get().ok());
  EXPECT_EQ(done[1].get().code(), ErrorCode::kConflict);
  EXPECT_TRUE(done[2].get().ok());
  EXPECT_EQ(done[3].get().code(), ErrorCode::kInternal);
  EXPECT_EQ(Values(), (std::vector<std::string>{"one", "three"}));
  // The held job alone, then the four in one transaction.
  EXPECT_EQ(batch_sizes_.CumulativeCount(0), 1u);
  EXPECT_EQ(batch_sizes_.CumulativeCount(2) - batch_sizes_.CumulativeCount(1),
            1u);
}

TEST_F(PgWriterTest, ASerializationFailureRunsTheWholeBatchAgain) {
  std::atomic<int> first_runs{0};
  std::atomic<int> second_runs{0};
  std::promise<void> release = Hold();
  std::promise<Status> first_done;
  writer_->Submit(
      [&](PgConnection& c) {
        ++first_runs;
        return Insert(c, "first");
      },
      [&](Status st) { first_done.set_value(st); });
  std::promise<Status> second_done;
  writer_->Submit(
      [&](PgConnection& c) -> Status {
        if (++second_runs == 1) {
          // What another node's concurrent update would cause.
          return c
              .Script(
                  "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = "
                  "'serialization_failure'; END $$")
              .status();
        }
        return Insert(c, "second");
      },
      [&](Status st) { second_done.set_value(st); });
  release.set_value();

  const Status first = first_done.get_future().get();
  const Status second = second_done.get_future().get();
  EXPECT_TRUE(first.ok()) << first.ToString();
  EXPECT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(first_runs.load(), 2);
  EXPECT_EQ(second_runs.load(), 2);
  EXPECT_EQ(Values(), (std::vector<std::string>{"first", "second"}));
}

TEST_F(PgWriterTest, ADeadlockThatKeepsRecurringWritesNothing) {
  std::atomic<int> runs{0};
  std::promise<void> release = Hold();
  std::promise<Status> mate_done;
  writer_->Submit([](PgConnection& c) { return Insert(c, "mate"); },
                  [&](Status st) { mate_done.set_value(st); });
  std::promise<Status> doomed_done;
  writer_->Submit(
      [&](PgConnection& c) -> Status {
        ++runs;
        return c
            .Script(
                "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = "
                "'deadlock_detected'; END $$")
            .status();
      },
      [&](Status st) { doomed_done.set_value(st); });
  release.set_value();

  EXPECT_EQ(mate_done.get_future().get().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(doomed_done.get_future().get().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(runs.load(), 3);  // max_attempts
  EXPECT_TRUE(Values().empty());
  // The writer goes on.
  EXPECT_TRUE(
      writer_->Write([](PgConnection& c) { return Insert(c, "next"); }).ok());
  EXPECT_EQ(Values(), std::vector<std::string>{"next"});
}

TEST_F(PgWriterTest, WritesFromOneThreadCommitInSubmissionOrder) {
  constexpr int kWrites = 300;
  std::mutex mu;
  std::vector<int> completed;
  std::atomic<int> failures{0};
  std::promise<void> all_done;
  for (int i = 0; i < kWrites; ++i) {
    writer_->Submit(
        [i](PgConnection& c) { return Insert(c, std::to_string(i)); },
        [&, i](Status st) {
          if (!st.ok()) ++failures;
          std::lock_guard<std::mutex> lock(mu);
          completed.push_back(i);
          if (completed.size() == kWrites) all_done.set_value();
        });
  }
  all_done.get_future().wait();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> want;
  std::vector<int> order;
  for (int i = 0; i < kWrites; ++i) {
    want.push_back(std::to_string(i));
    order.push_back(i);
  }
  EXPECT_EQ(completed, order);
  EXPECT_EQ(Values(), want);
}

TEST_F(PgWriterTest, RefusesWritesFromItsOwnThreadAndAfterShutdown) {
  std::promise<Status> nested;
  writer_->Submit([](PgConnection&) { return Status::Ok(); },
                  [&](Status) {
                    nested.set_value(writer_->Write(
                        [](PgConnection& c) { return Insert(c, "x"); }));
                  });
  EXPECT_EQ(nested.get_future().get().code(), ErrorCode::kInternal);

  // Queued jobs are drained by Shutdown; later ones are refused.
  std::promise<Status> queued;
  writer_->Submit([](PgConnection& c) { return Insert(c, "queued"); },
                  [&](Status st) { queued.set_value(st); });
  writer_->Shutdown();
  EXPECT_TRUE(queued.get_future().get().ok());
  EXPECT_EQ(
      writer_->Write([](PgConnection& c) { return Insert(c, "late"); }).code(),
      ErrorCode::kUnavailable);
  EXPECT_EQ(Values(), std::vector<std::string>{"queued"});
}

// ---- several nodes: decisions in the database, announcements ----

class PostgresLeaseDecisionTest : public PostgresStoreTest {
 protected:
  void SetUp() override {
    PostgresStoreTest::SetUp();
    for (auto& node : nodes_) {
      node = MustOpen(backend_.url());
      ASSERT_NE(node, nullptr);
    }
    org_ = MakeOrg("leases");
    ASSERT_TRUE(
        nodes_[0]->organizations().Create(org_, MakeKey(org_.id, "a")).ok());
  }

  // A pool of `n` fresh profiles; returns the pool's id.
  std::string MakePool(int n, bool exclusive) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      Profile p;
      p.id = NewUuidV7(kT0);
      p.organization_id = org_.id;
      p.config = boost::json::object{{"name", "p" + std::to_string(i)},
                                     {"enabled", true}};
      p.created_at_ms = p.updated_at_ms = kT0;
      EXPECT_TRUE(nodes_[0]->profiles().Create(p).ok());
      ids.push_back(p.id);
    }
    Pool pool;
    pool.id = NewUuidV7(kT0);
    pool.organization_id = org_.id;
    pool.config = boost::json::object{{"name", "pool " + pool.id},
                                      {"allow_concurrent_use", !exclusive}};
    pool.created_at_ms = pool.updated_at_ms = kT0;
    EXPECT_TRUE(nodes_[0]->pools().Create(pool).ok());
    EXPECT_TRUE(nodes_[0]->pools().AddMembers(org_.id, pool.id, ids, kT0).ok());
    return pool.id;
  }

  LeaseOrder Order(const std::string& pool_id, bool exclusive, int64_t now) {
    LeaseOrder o;
    o.lease_id = NewUuidV7(now);
    o.organization_id = org_.id;
    o.pool_id = pool_id;
    o.exclusive = exclusive;
    o.now_ms = now;
    o.ttl_ms = 60'000;
    return o;
  }

  static Result<DecidedLease> Decide(Store& node, const LeaseOrder& o) {
    std::promise<Result<DecidedLease>> p;
    node.leases().Decide(
        o, [&](Result<DecidedLease> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  static Status Release(Store& node, const std::string& org,
                        const std::string& id, int64_t at) {
    std::promise<Status> p;
    node.leases().ReleaseExisting(org, id, at,
                                  [&](Status st) { p.set_value(st); });
    return p.get_future().get();
  }

  std::unique_ptr<Store> nodes_[3];
  Organization org_;
};

TEST_F(PostgresLeaseDecisionTest, ThreeNodesGrantEachExclusiveProfileOnce) {
  const std::string pool = MakePool(8, true);
  constexpr int kThreads = 12, kPerThread = 4;
  std::mutex mu;
  std::vector<DecidedLease> granted;
  std::atomic<int> none{0}, errors{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        auto r = Decide(*nodes_[(t + i) % 3], Order(pool, true, kT0 + 10));
        if (r.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          granted.push_back(std::move(*r));
        } else if (r.status().code() == ErrorCode::kNoProfileAvailable) {
          ++none;
        } else {
          ++errors;
          ADD_FAILURE() << r.status().ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(granted.size(), 8u);
  EXPECT_EQ(none.load(), kThreads * kPerThread - 8);
  std::set<std::string> profiles;
  for (const DecidedLease& d : granted) {
    profiles.insert(d.lease.profile_id);
    EXPECT_EQ(d.profile.id, d.lease.profile_id);
    EXPECT_EQ(d.lease.fencing_token, 1);
  }
  EXPECT_EQ(profiles.size(), 8u);
  // Nothing free: the earliest expiry is reported.
  auto none_left = Decide(*nodes_[1], Order(pool, true, kT0 + 20));
  ASSERT_EQ(none_left.status().code(), ErrorCode::kNoProfileAvailable);
  EXPECT_EQ(none_left.status().retry_after_s(), 60);
  // A shared order waits for the exclusive leases too.
  EXPECT_EQ(Decide(*nodes_[2], Order(pool, false, kT0 + 20)).status().code(),
            ErrorCode::kNoProfileAvailable);
}

TEST_F(PostgresLeaseDecisionTest, FencingTokensGrowPerProfileAcrossNodes) {
  const std::string pool = MakePool(1, true);
  int64_t now = kT0 + 100;
  for (int i = 1; i <= 12; ++i) {
    auto r = Decide(*nodes_[i % 3], Order(pool, true, ++now));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->lease.fencing_token, i);
    ASSERT_TRUE(
        Release(*nodes_[(i + 1) % 3], org_.id, r->lease.id, ++now).ok());
    // Released twice: still fine; unknown: not found.
    EXPECT_TRUE(Release(*nodes_[i % 3], org_.id, r->lease.id, ++now).ok());
  }
  EXPECT_EQ(Release(*nodes_[0], org_.id, NewUuidV7(now), now).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(Release(*nodes_[0], "another-org", NewUuidV7(now), now).code(),
            ErrorCode::kNotFound);
}

TEST_F(PostgresLeaseDecisionTest, ExpiredLeasesFreeTheirProfile) {
  const std::string pool = MakePool(1, true);
  LeaseOrder first = Order(pool, true, kT0 + 1000);
  first.ttl_ms = 1000;
  auto a = Decide(*nodes_[0], first);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(Decide(*nodes_[1], Order(pool, true, kT0 + 1999)).ok());
  auto b = Decide(*nodes_[1], Order(pool, true, kT0 + 2000));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->lease.fencing_token, 2);
}

TEST_F(PostgresLeaseDecisionTest, SharedLeasesShareAndBlockExclusiveOnes) {
  const std::string pool = MakePool(1, false);
  std::vector<std::string> shared;
  for (int i = 0; i < 3; ++i) {
    auto r = Decide(*nodes_[i], Order(pool, false, kT0 + 10));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->lease.fencing_token, i + 1);
    EXPECT_FALSE(r->lease.exclusive);
    shared.push_back(r->lease.id);
  }
  // The same profile through an exclusive order (another pool's view of
  // it): refused while any shared lease is active, granted after the last
  // one is released; then shared orders wait for it.
  for (const std::string& id : shared) {
    EXPECT_EQ(Decide(*nodes_[0], Order(pool, true, kT0 + 11)).status().code(),
              ErrorCode::kNoProfileAvailable);
    ASSERT_TRUE(Release(*nodes_[1], org_.id, id, kT0 + 12).ok());
  }
  auto exclusive = Decide(*nodes_[2], Order(pool, true, kT0 + 13));
  ASSERT_TRUE(exclusive.ok()) << exclusive.status().ToString();
  EXPECT_EQ(exclusive->lease.fencing_token, 4);
  EXPECT_EQ(Decide(*nodes_[0], Order(pool, false, kT0 + 14)).status().code(),
            ErrorCode::kNoProfileAvailable);
  // Once it has expired (60 s TTL), shared again.
  EXPECT_TRUE(Decide(*nodes_[1], Order(pool, false, kT0 + 13 + 60'000)).ok());
}

TEST_F(PostgresLeaseDecisionTest, RenewLiveChecksTokenStateAndOrganization) {
  const std::string pool = MakePool(1, true);
  auto g = Decide(*nodes_[0], Order(pool, true, kT0));
  ASSERT_TRUE(g.ok());
  auto renew = [&](Store& node, const std::string& org, int64_t token,
                   int64_t now, std::optional<int64_t> ttl) {
    std::promise<Result<DecidedLease>> p;
    node.leases().RenewLive(
        org, g->lease.id, token, now, ttl,
        [&](Result<DecidedLease> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  auto ok = renew(*nodes_[1], org_.id, 1, kT0 + 1000, 120'000);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->lease.expires_at_ms, kT0 + 121'000);
  EXPECT_EQ(ok->profile.id, g->lease.profile_id);
  // Never shortened; the pool's default TTL (300 s) when none is given.
  auto dflt = renew(*nodes_[2], org_.id, 1, kT0 + 2000, std::nullopt);
  ASSERT_TRUE(dflt.ok());
  EXPECT_EQ(dflt->lease.expires_at_ms, kT0 + 302'000);
  EXPECT_EQ(renew(*nodes_[0], org_.id, 2, kT0 + 3000, 1000).status().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(
      renew(*nodes_[0], "another-org", 1, kT0 + 3000, 1000).status().code(),
      ErrorCode::kNotFound);
  ASSERT_TRUE(Release(*nodes_[1], org_.id, g->lease.id, kT0 + 4000).ok());
  EXPECT_EQ(renew(*nodes_[0], org_.id, 1, kT0 + 5000, 1000).status().code(),
            ErrorCode::kConflict);
  // Listing and the live check see the database.
  auto live = nodes_[2]->leases().ListLive(org_.id, pool, kT0 + 5000, {});
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->items.empty());
  auto again = Decide(*nodes_[2], Order(pool, true, kT0 + 6000));
  ASSERT_TRUE(again.ok());
  live = nodes_[0]->leases().ListLive(org_.id, pool, kT0 + 6000, {});
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->items.size(), 1u);
  EXPECT_EQ(live->items[0].id, again->lease.id);
  auto held = nodes_[1]->leases().HasLiveLease(org_.id, again->lease.profile_id,
                                               kT0 + 6000);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(*held);
  auto snapshot = nodes_[1]->leases().LoadOrganization(org_.id, kT0 + 6000);
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->profiles.size(), 1u);
  EXPECT_EQ(snapshot->pools.size(), 1u);
  EXPECT_EQ(snapshot->members.size(), 1u);
  EXPECT_TRUE(
      nodes_[1]->leases().LoadOrganization("nobody", kT0)->pools.empty());
}

TEST_F(PostgresStoreTest, WatchDeliversOtherNodesChangesAndReconnects) {
  std::unique_ptr<Store> node = MustOpen(backend_.url());
  ASSERT_NE(node, nullptr);
  const Organization org = MakeOrg("watched");
  const ApiKey key = MakeKey(org.id, "k");
  ASSERT_TRUE(node->organizations().Create(org, key).ok());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<StoreChange> changes;
  std::vector<bool> resets;
  ChangeHandlers handlers;
  handlers.on_change = [&](const StoreChange& c) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(c);
    cv.notify_all();
  };
  handlers.on_reset = [&](bool listening) {
    std::lock_guard<std::mutex> lock(mu);
    resets.push_back(listening);
    cv.notify_all();
  };
  ASSERT_TRUE(node->Watch(std::move(handlers)).ok());
  EXPECT_TRUE(node->WatchStatus().ok());

  // This process's own change is not delivered; another node's is.
  ASSERT_TRUE(node->api_keys().Revoke(org.id, key.id, kT0 + 5).ok());
  std::unique_ptr<PgConnection> other = Connect(backend_.url());
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(
      other->Exec("SELECT set_config('agentry.node', 'node_other', false)")
          .ok());
  ASSERT_TRUE(
      other->Exec("UPDATE api_keys SET name = 'renamed' WHERE id = $1", key.id)
          .ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                            [&] { return !changes.empty(); }));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind, StoreChange::Kind::kApiKey);
    EXPECT_EQ(changes[0].organization_id, org.id);
    EXPECT_EQ(changes[0].id, key.id);
  }
  // A rolled-back change is never announced.
  ASSERT_TRUE(other->Script("BEGIN").ok());
  ASSERT_TRUE(
      other->Exec("UPDATE api_keys SET name = 'x' WHERE id = $1", key.id).ok());
  ASSERT_TRUE(other->Script("ROLLBACK").ok());

  // The listening connection dropped: reset(false), then reset(true).
  ASSERT_TRUE(other
                  ->Exec("SELECT pg_terminate_backend(pid) FROM "
                         "pg_stat_activity WHERE application_name = $1",
                         std::string("agentry-listener"))
                  .ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10),
                            [&] { return resets.size() >= 2; }));
    EXPECT_EQ(resets, (std::vector<bool>{false, true}));
    EXPECT_EQ(changes.size(), 1u);  // nothing from the rollback
  }
  EXPECT_TRUE(node->WatchStatus().ok());
  // Listening again.
  ASSERT_TRUE(
      other->Exec("UPDATE api_keys SET name = 'again' WHERE id = $1", key.id)
          .ok());
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                          [&] { return changes.size() == 2; }));
  EXPECT_EQ(changes[1].kind, StoreChange::Kind::kApiKey);
  lock.unlock();
  node->StopWatching();
}

TEST(PgListenerTest, ParsesAnnouncements) {
  std::string node;
  StoreChange c;
  ASSERT_TRUE(PgListener::Parse("n1|pool|org|a|b", &node, &c));
  EXPECT_EQ(node, "n1");
  EXPECT_EQ(c.kind, StoreChange::Kind::kPool);
  EXPECT_EQ(c.organization_id, "org");
  EXPECT_EQ(c.id, "a|b");
  EXPECT_FALSE(PgListener::Parse("n1|unknown|org|id", &node, &c));
  EXPECT_FALSE(PgListener::Parse("n1|pool|org", &node, &c));
  EXPECT_FALSE(PgListener::Parse("", &node, &c));
}

}  // namespace
}  // namespace agentry
