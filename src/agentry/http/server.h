// The HTTP/1.1 server: Boost.Beast + Asio with C++20 coroutines.
//
// `io_threads` threads each run their own io_context; the acceptor spreads
// connections over them. Every connection reads one request at a time with a
// fresh parser (body and header limits), an idle timeout before the first
// byte and a request timeout after it, and keeps the connection alive when
// the client allows. Matched requests pass the middleware chain (in order)
// and then their handler: inline routes on the I/O thread, the rest on a
// pool of `worker_threads` (store calls never block an I/O thread).
//
// Shutdown (SIGTERM, SIGINT or Shutdown()): stop accepting, close idle
// connections, let requests in flight finish for up to `shutdown_grace`,
// then stop. Run() returns when everything has stopped.
//
// Thread-safety: Start/Run from one thread; Shutdown from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agentry/common/metrics.h"
#include "agentry/common/status.h"
#include "agentry/http/router.h"

namespace agentry::http {

// Inspects a matched request before its handler runs; a non-ok Status ends
// the request with that error. Runs on an I/O thread: must not block.
using Middleware = std::function<Status(Request&, const Route&)>;

struct ServerOptions {
  // Address to bind ("127.0.0.1", "::1", "0.0.0.0").
  std::string host = "127.0.0.1";
  // Port to bind; 0 picks a free one (see Server::port()).
  uint16_t port = 8080;
  // I/O threads, each with its own io_context.
  size_t io_threads = 1;
  // Worker threads for handlers that block on the store.
  size_t worker_threads = 32;
  // Largest request body accepted (413 above).
  size_t max_body_bytes = 1 << 20;
  // Largest header section accepted (431 above).
  size_t max_header_bytes = 16 << 10;
  // An idle keep-alive connection is closed after this long.
  std::chrono::milliseconds idle_timeout{60'000};
  // A request must arrive completely within this long of its first byte.
  std::chrono::milliseconds request_timeout{30'000};
  // Requests in flight get this long to finish at shutdown.
  std::chrono::milliseconds shutdown_grace{10'000};
  // Connections beyond this are closed at once.
  size_t max_connections = 10'000;
  // Browser origins allowed to call the API: they get CORS answers
  // (preflights and Access-Control-Allow-Origin). A preflight from any other
  // origin gets 403 without CORS headers; the OriginCheck middleware refuses
  // their other requests.
  std::vector<std::string> allowed_origins;
  // Write one access-log line per request (info level).
  bool access_log = true;
  // Called once when shutdown begins, on an I/O thread, so that requests
  // waiting for an event (a lease acquisition with wait_seconds) can be
  // answered at once instead of holding up the grace period. May be null.
  std::function<void()> on_shutdown;
};

class Server {
 public:
  // `router` must outlive the server; `metrics` receives the request
  // counters and latency histograms.
  Server(ServerOptions options, const Router& router,
         std::vector<Middleware> middleware, MetricsRegistry& metrics);
  ~Server();

  // Binds and listens. kUnavailable when the address cannot be bound.
  Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Serves until shutdown has completed. Handles SIGTERM and SIGINT.
  void Run();
  // Begins a graceful shutdown. Thread-safe, idempotent.
  void Shutdown();

  // Prometheus text of the per-route request counters and latencies.
  std::string RenderRequestMetrics() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentry::http
