// Delivers the changes other nodes commit to a shared PostgreSQL database
// (DESIGN §7, "coherent caches").
//
// Every change to something a node keeps in memory is announced on the
// channel `agentry` by a trigger in the writing transaction
// (migrations/postgres/0005_cluster.sql), as "NODE|KIND|ORGANIZATION|ID".
// The listener holds one connection of its own that LISTENs there; its
// thread waits on the socket and hands every announcement not made by this
// process (NODE is PgNodeId()) to ChangeHandlers::on_change, in commit order.
//
// When the connection is lost the listener reports on_reset(false) at once
// (whatever was announced meanwhile is lost), reconnects — every 100 ms at
// first, backing off to 2 s — LISTENs again, and reports on_reset(true): the
// caller drops everything it keeps and reloads, since changes made while it
// was away were never announced to it.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "agentry/common/status.h"
#include "agentry/store/store.h"

namespace agentry {

class PgConnection;

class PgListener {
 public:
  // The application_name of the listening connection (an operator can find
  // it in pg_stat_activity).
  static constexpr const char* kApplicationName = "agentry-listener";

  explicit PgListener(std::string url);
  // Stop().
  ~PgListener();

  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // Connects, LISTENs and starts the thread. kUnavailable when PostgreSQL
  // cannot be reached. Call once.
  Status Start(ChangeHandlers handlers);
  // Stops the thread and closes the connection. Idempotent.
  void Stop();

  // Whether the connection is up and listening.
  bool listening() const { return listening_.load(); }

  // Parses an announcement; false when it is not one.
  static bool Parse(std::string_view payload, std::string* node,
                    StoreChange* change);

 private:
  void Loop();
  // Connects and LISTENs; kUnavailable when it cannot.
  Status Connect();

  const std::string url_;
  ChangeHandlers handlers_;
  std::unique_ptr<PgConnection> conn_;  // only the thread, after Start
  int wake_[2] = {-1, -1};              // a pipe: Stop wakes the thread
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

}  // namespace agentry
