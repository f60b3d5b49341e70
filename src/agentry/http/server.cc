#include "agentry/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "agentry/common/crypto.h"
#include "agentry/common/event_round.h"
#include "agentry/common/log.h"
#include "agentry/http/error_mapping.h"

namespace agentry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
// Coroutines, sockets and completions on each I/O thread's io_context
// executor itself: Asio's default, the type-erased any_io_executor, was
// copied, compared and dispatched through on every operation (~2,000
// instructions per request).
using Executor = asio::io_context::executor_type;
template <typename T>
using awaitable = asio::awaitable<T, Executor>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
constexpr asio::use_awaitable_t<Executor> use_awaitable;
using Clock = std::chrono::steady_clock;
using RawRequest = bhttp::request<bhttp::string_body>;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr size_t kStatusSlots = 600;
// Most bytes read and thrown away after refusing a request, so the client
// gets to read the refusal instead of a connection reset.
constexpr size_t kDrainBytes = 16 << 20;
constexpr std::chrono::seconds kDrainTime{2};

std::string_view LookupHeader(const void* raw, std::string_view name) {
  const auto& msg = *static_cast<const RawRequest*>(raw);
  auto it = msg.find(beast::string_view(name.data(), name.size()));
  if (it == msg.end()) return {};
  return {it->value().data(), it->value().size()};
}

bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

Dialect DialectForPath(const std::vector<std::string>& segs) {
  if (segs.size() >= 2 && segs[0] == "agents" && segs[1] == "v2") {
    return Dialect::kAsteroid;
  }
  if ((segs.size() >= 2 && segs[0] == "agent" && segs[1] == "v1") ||
      (segs.size() >= 4 && segs[0] == "api" && segs[1] == "public" &&
       segs[2] == "agent" && segs[3] == "v1")) {
    return Dialect::kOdeus;
  }
  if (!segs.empty() && segs[0] == "v2") return Dialect::kVectara;
  return Dialect::kNative;
}

// The dialect of a raw request target ("/agent/v1/get?agentId=…"), for
// answers made before routing. Prefixes are plain ASCII: no decoding.
Dialect DialectForTarget(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  std::vector<std::string> segs;
  size_t at = 0;
  while (segs.size() < 4 && at < target.size()) {
    if (target[at] == '/') {
      ++at;
      continue;
    }
    const size_t end = std::min(target.find('/', at), target.size());
    segs.emplace_back(target.substr(at, end - at));
    at = end;
  }
  return DialectForPath(segs);
}

// What a request head must satisfy beyond what Beast's parser checks:
//  - a Transfer-Encoding other than exactly "chunked" is refused (RFC 9112
//    §6.3: a request whose final coding is not chunked has no knowable
//    length; Beast would read it as bodiless and take what follows for the
//    next request — request smuggling); codings we do not decode are
//    refused too;
//  - the header section must fit max_header_bytes in all (Beast's limit
//    counts only what one read buffered).
std::optional<Status> CheckHeadWith(const RawRequest& msg, bool chunked,
                                    size_t max_header_bytes) {
  size_t bytes = msg.method_string().size() + msg.target().size() + 12;
  size_t encodings = 0;
  for (const auto& field : msg) {
    bytes += field.name_string().size() + field.value().size() + 4;
    if (field.name() == bhttp::field::transfer_encoding) {
      ++encodings;
      std::string_view v(field.value().data(), field.value().size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
      }
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
      }
      if (!beast::iequals(v, "chunked")) {
        return Status::InvalidRequest(
            "Transfer-Encoding must be \"chunked\" (no other coding is "
            "accepted)",
            "Transfer-Encoding");
      }
    }
  }
  if (encodings > 1 || (encodings == 1 && !chunked)) {
    return Status::InvalidRequest("Transfer-Encoding must be given once",
                                  "Transfer-Encoding");
  }
  if (bytes > max_header_bytes) {
    return Status::HeadersTooLarge("request headers exceed " +
                                   std::to_string(max_header_bytes) + " bytes");
  }
  return std::nullopt;
}

struct RouteStats {
  RouteStats() : by_status(new std::atomic<uint64_t>[kStatusSlots]) {
    for (size_t i = 0; i < kStatusSlots; ++i) by_status[i] = 0;
  }
  std::unique_ptr<std::atomic<uint64_t>[]> by_status;
  Histogram* latency = nullptr;
  std::string label;  // route="…",method="…"
};

constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

struct Conn {
  Conn(Socket s, std::atomic<size_t>* open)
      : socket(std::move(s)), open_count(open) {}
  ~Conn() { open_count->fetch_sub(1, std::memory_order_relaxed); }
  Socket socket;
  std::atomic<size_t>* open_count;
  // When the read or write under way is given up (its I/O thread's sweep
  // cancels it then); kNoDeadline for none. Touched only on that thread.
  Clock::time_point deadline = kNoDeadline;
  // A complete request is being handled (touched only on the connection's
  // thread). Connections not handling one are closed at shutdown.
  bool handling = false;
  std::string remote;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router,
       std::vector<Middleware> middleware, MetricsRegistry& metrics)
      : opts_(std::move(options)),
        router_(router),
        middleware_(std::move(middleware)),
        workers_(std::max<size_t>(1, opts_.worker_threads)) {
    const size_t n = std::max<size_t>(1, opts_.io_threads);
    for (size_t i = 0; i < n; ++i) {
      ios_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*ios_.back()));
      sweeps_.push_back(std::make_unique<Sweep>(*ios_.back()));
    }
    acceptor_ = std::make_unique<tcp::acceptor>(*ios_[0]);
    signals_ = std::make_unique<asio::signal_set>(*ios_[0], SIGTERM, SIGINT);
    stop_timer_ = std::make_unique<asio::steady_timer>(*ios_[0]);
    const std::vector<double> bounds = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    for (const auto& r : router_.routes()) {
      auto s = std::make_unique<RouteStats>();
      s->label = "route=\"" + MetricsRegistry::EscapeLabel(r->pattern) +
                 "\",method=\"" + std::string(MethodName(r->method)) + "\"";
      s->latency = metrics.AddHistogram(
          "agentry_http_request_duration_seconds",
          "Time from a complete request to its answer written.", s->label,
          bounds);
      stats_.push_back(std::move(s));
    }
    auto unmatched = std::make_unique<RouteStats>();
    unmatched->label = "route=\"unmatched\",method=\"any\"";
    unmatched->latency = metrics.AddHistogram(
        "agentry_http_request_duration_seconds",
        "Time from a complete request to its answer written.", unmatched->label,
        bounds);
    stats_.push_back(std::move(unmatched));
    request_id_prefix_ = RandomAlnum(6);
    metrics.AddGauge(
        "agentry_http_open_connections", "Connections currently open.", "",
        [this] {
          return static_cast<double>(open_.load(std::memory_order_relaxed));
        });
  }

  ~Impl() {
    // Workers may still reference requests owned by coroutine frames that
    // the io_contexts destroy below: stop them first.
    workers_.join();
  }

  Status Start() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opts_.host, ec);
    if (ec) {
      return Status::InvalidRequest(
          "cannot parse listen host \"" + opts_.host + "\"", "listen");
    }
    tcp::endpoint ep(addr, opts_.port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on " + opts_.host + ":" +
                                 std::to_string(opts_.port) + ": " +
                                 ec.message());
    }
    port_ = acceptor_->local_endpoint().port();
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  // Read and write timeouts without a timer per operation: a connection
  // notes when its read or write under way is due (Conn::deadline), and
  // each I/O thread sweeps its connections every SweepEvery() and cancels
  // the overdue ones (the operation ends with operation_aborted and the
  // session closes the connection). A timer armed and cancelled around
  // every read and write cost ~3,000 instructions per request.
  struct Sweep {
    explicit Sweep(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::unordered_set<Conn*> conns;  // this thread's; touched only on it
  };

  // A timeout is enforced at most this late: an eighth of the shorter one,
  // within [5 ms, 250 ms].
  std::chrono::milliseconds SweepEvery() const {
    return std::clamp(std::min(opts_.idle_timeout, opts_.request_timeout) / 8,
                      std::chrono::milliseconds(5),
                      std::chrono::milliseconds(250));
  }

  void ArmSweep(Sweep& sweep) {
    sweep.timer.expires_after(SweepEvery());
    sweep.timer.async_wait([this, &sweep](const boost::system::error_code& ec) {
      if (ec) return;
      const auto now = Clock::now();
      for (Conn* c : sweep.conns) {
        if (c->deadline > now) continue;
        c->deadline = kNoDeadline;
        boost::system::error_code ignored;
        c->socket.cancel(ignored);
      }
      ArmSweep(sweep);
    });
  }

  // An I/O thread's loop: io.run() in rounds (common/event_round.h). When
  // a handler defers a wake-up (a lease handed to the group-commit writer),
  // a handler queued behind the ready ones ends the round — or queues
  // itself again while the handlers before it kept deferring (more of the
  // round's leases arriving), for at most kRoundBudget, so a loop that
  // never runs dry cannot hold a commit back for longer. (A lease operation
  // is ~10 handlers; 32 of them take ~0.5 ms here.)
  struct IoLoop {
    static constexpr auto kRoundBudget = std::chrono::microseconds(1000);
    static constexpr int kQuietPasses = 2;
    explicit IoLoop(asio::io_context& io) : io(io), round(&Start, this) {}

    static void Start(void* self) {
      auto* loop = static_cast<IoLoop*>(self);
      loop->until = std::chrono::steady_clock::now() + kRoundBudget;
      loop->seen = loop->round.deferrals();
      loop->quiet = 0;
      asio::post(loop->io, [loop] { loop->Continue(); });
    }
    void Continue() {
      quiet = round.deferrals() == seen ? quiet + 1 : 0;
      if (quiet < kQuietPasses && std::chrono::steady_clock::now() < until) {
        seen = round.deferrals();
        asio::post(io, [this] { Continue(); });
        return;
      }
      round.End();
    }

    asio::io_context& io;
    EventRound round;
    std::chrono::steady_clock::time_point until;
    uint64_t seen = 0;
    int quiet = 0;
  };

  static void RunLoop(asio::io_context& io) {
    IoLoop loop(io);
    io.run();
  }

  void Run() {
    signals_->async_wait([this](const boost::system::error_code& ec, int sig) {
      if (!ec) {
        log::Info("shutdown requested", {{"signal", sig}});
        Shutdown();
      }
    });
    asio::co_spawn(*ios_[0], AcceptLoop(), asio::detached);
    for (auto& sweep : sweeps_) ArmSweep(*sweep);
    std::vector<std::thread> threads;
    for (size_t i = 1; i < ios_.size(); ++i) {
      threads.emplace_back([this, i] { RunLoop(*ios_[i]); });
    }
    RunLoop(*ios_[0]);
    for (auto& t : threads) t.join();
    workers_.join();
  }

  void Shutdown() {
    bool expected = false;
    if (!stopping_.compare_exchange_strong(expected, true)) return;
    asio::post(*ios_[0], [this] {
      if (opts_.on_shutdown) opts_.on_shutdown();
      boost::system::error_code ec;
      acceptor_->close(ec);
      signals_->cancel(ec);
      {
        std::lock_guard<std::mutex> lock(conns_mu_);
        for (auto& [ptr, weak] : conns_) {
          if (auto c = weak.lock()) {
            asio::post(c->socket.get_executor(), [c] {
              if (!c->handling) {
                boost::system::error_code ignored;
                c->socket.shutdown(tcp::socket::shutdown_both, ignored);
                c->socket.close(ignored);
              }
            });
          }
        }
      }
      deadline_ = Clock::now() + opts_.shutdown_grace;
      ArmStopTimer();
    });
  }

  std::string RenderRequestMetrics() const {
    std::string out =
        "# HELP agentry_http_requests_total Requests answered, by route, "
        "method and status.\n# TYPE agentry_http_requests_total counter\n";
    for (const auto& s : stats_) {
      for (size_t code = 100; code < kStatusSlots; ++code) {
        const uint64_t n = s->by_status[code].load(std::memory_order_relaxed);
        if (n == 0) continue;
        out += "agentry_http_requests_total{" + s->label + ",status=\"" +
               std::to_string(code) + "\"} " + std::to_string(n) + "\n";
      }
    }
    return out;
  }

 private:
  void ArmStopTimer() {
    stop_timer_->expires_after(std::chrono::milliseconds(20));
    stop_timer_->async_wait([this](const boost::system::error_code&) {
      if (open_.load() == 0 || Clock::now() >= deadline_) {
        if (open_.load() != 0) {
          log::Warn("shutdown grace expired",
                    {{"open_connections", open_.load()}});
        }
        for (auto& g : guards_) g.reset();
        for (auto& io : ios_) io->stop();
        return;
      }
      ArmStopTimer();
    });
  }

  // "r" + 6 random characters + a base-36 counter: unique per process run,
  // and short enough (≤ 15 characters) to need no allocation.
  std::string NewRequestId() {
    uint64_t n = next_request_.fetch_add(1, std::memory_order_relaxed);
    char buf[24];
    size_t len = 0;
    buf[len++] = 'r';
    for (char c : request_id_prefix_) buf[len++] = c;
    char digits[16];
    size_t d = 0;
    do {
      digits[d++] = "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36];
      n /= 36;
    } while (n != 0 && d < sizeof(digits));
    while (d > 0) buf[len++] = digits[--d];
    return std::string(buf, len);
  }

  awaitable<void> AcceptLoop() {
    size_t next = 0;
    while (!stopping_) {
      const size_t thread = next++ % ios_.size();
      auto& io = *ios_[thread];
      auto [ec, socket] = co_await acceptor_->async_accept(io, kTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        log::Warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer t(*ios_[0], std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      if (open_.load(std::memory_order_relaxed) >= opts_.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      socket.non_blocking(true, ignored);  // see Write
      open_.fetch_add(1, std::memory_order_relaxed);
      auto conn = std::make_shared<Conn>(std::move(socket), &open_);
      auto ep = conn->socket.remote_endpoint(ignored);
      if (!ignored) conn->remote = ep.address().to_string();
      {
        std::lock_guard<std::mutex> lock(conns_mu_);
        conns_[conn.get()] = conn;
      }
      asio::co_spawn(io, Session(conn, *sweeps_[thread]), asio::detached);
    }
  }

  std::optional<Status> CheckHead(const RawRequest& msg, bool chunked) const {
    return CheckHeadWith(msg, chunked, opts_.max_header_bytes);
  }

  using Parser = bhttp::request_parser<bhttp::string_body>;

  // Parses what `buffer` holds into `parser`, reading more only when it
  // must, until the header (whole = false) or the whole message is in: what
  // bhttp::async_read_header and bhttp::async_read do, with their errors
  // (end_of_stream before any byte, partial_message for a message cut
  // short), but with no composed operation and no post through the
  // scheduler when the request is already buffered — the common case.
  awaitable<boost::system::error_code> ReadRequest(Conn& conn,
                                                   beast::flat_buffer& buffer,
                                                   Parser& parser, bool whole) {
    if (whole) parser.eager(true);
    boost::system::error_code ec;
    for (;;) {
      if (whole ? parser.is_done() : parser.is_header_done()) co_return ec;
      if (buffer.size() != 0) {
        const size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec && ec != bhttp::error::need_more) co_return ec;
        const bool need_more = ec || used == 0;
        ec = {};
        if (!need_more) continue;
      }
      const size_t room =
          std::clamp<size_t>(buffer.capacity() - buffer.size(), 512, 65536);
      auto [rec, n] =
          co_await conn.socket.async_read_some(buffer.prepare(room), kTuple);
      buffer.commit(n);
      if (rec == asio::error::eof) {
        if (!parser.got_some()) co_return bhttp::error::end_of_stream;
        parser.put_eof(ec);  // partial_message: the message was cut short
        co_return ec;
      }
      if (rec) co_return rec;
    }
  }

  awaitable<void> Session(std::shared_ptr<Conn> conn, Sweep& sweep) {
    sweep.conns.insert(conn.get());
    beast::flat_buffer buffer;
    std::string head;  // response head buffer, reused
    Request req;       // reused: its vectors keep their capacity
    for (;;) {
      conn->handling = false;
      if (stopping_) break;
      if (buffer.size() == 0) {
        conn->deadline = Clock::now() + opts_.idle_timeout;
        auto [ec, n] =
            co_await conn->socket.async_read_some(buffer.prepare(8192), kTuple);
        if (ec || n == 0) break;
        buffer.commit(n);
      }
      Parser parser;
      parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
      parser.body_limit(opts_.max_body_bytes);
      conn->deadline = Clock::now() + opts_.request_timeout;
      auto ec = co_await ReadRequest(*conn, buffer, parser, /*whole=*/false);
      // Refusals the parser does not make (each closes the connection, so
      // nothing after this request on it is ever read as a request):
      std::optional<Status> refused;
      if (!ec) refused = CheckHead(parser.get(), parser.chunked());
      if (!ec && !refused && !parser.is_done()) {
        // A client that sent "Expect: 100-continue" waits for this before
        // sending the body.
        auto& head = parser.get();
        auto expect = head.find(bhttp::field::expect);
        if (expect != head.end() &&
            beast::iequals(expect->value(), "100-continue")) {
          static constexpr std::string_view kContinue =
              "HTTP/1.1 100 Continue\r\n\r\n";
          auto [wec, wn] = co_await asio::async_write(
              conn->socket, asio::buffer(kContinue.data(), kContinue.size()),
              kTuple);
          if (wec) break;
        }
        ec = co_await ReadRequest(*conn, buffer, parser, /*whole=*/true);
      }
      const auto start = Clock::now();
      if (ec || refused) {
        if (refused) {
          // Answered below like a parse error.
        } else if (ec == asio::error::operation_aborted ||  // timed out
                   ec == bhttp::error::end_of_stream) {
          break;
        }
        Status st;
        if (refused) {
          st = *refused;
        } else if (ec == bhttp::error::body_limit) {
          st = Status::PayloadTooLarge("request body exceeds " +
                                       std::to_string(opts_.max_body_bytes) +
                                       " bytes");
        } else if (ec == bhttp::error::header_limit) {
          st = Status::HeadersTooLarge("request headers exceed " +
                                       std::to_string(opts_.max_header_bytes) +
                                       " bytes");
        } else if (ec == bhttp::error::partial_message ||
                   ec == asio::error::eof ||
                   ec == asio::error::connection_reset) {
          break;
        } else {
          st =
              Status::InvalidRequest("malformed HTTP request: " + ec.message());
        }
        const std::string id = NewRequestId();
        // In the shape of the surface the request was for, when its start
        // line was read (an empty target is native).
        // (The start line is parsed first: a body too large for its
        // declared length is refused once the target is known.)
        const Dialect dialect = DialectForTarget(std::string_view(
            parser.get().target().data(), parser.get().target().size()));
        Response resp = ErrorResponse(st, id, dialect);
        // No body after a HEAD (when its start line was read): the client
        // would take the body for the next answer.
        const bool head_only =
            parser.get().method() == boost::beast::http::verb::head;
        co_await Write(*conn, head, resp, id, /*keep_alive=*/false, head_only);
        Record(nullptr, "-", resp.status, start, id, conn->remote);
        co_await DrainAndClose(*conn);
        break;
      }
      conn->handling = true;
      conn->deadline = kNoDeadline;  // the handler may take its time
      RawRequest& msg = parser.get();
      req.query.clear();
      req.params.clear();
      req.principal.reset();
      req.on_io_thread = false;
      req.response_headers.clear();
      req.method = ParseMethod(std::string_view(msg.method_string().data(),
                                                msg.method_string().size()));
      req.target = std::string_view(msg.target().data(), msg.target().size());
      req.body = msg.body();
      req.remote_address = conn->remote;
      req.SetHeaderSource(&msg, &LookupHeader);
      std::string_view incoming_id = req.Header("X-Request-Id");
      req.request_id = SaneRequestId(incoming_id) ? std::string(incoming_id)
                                                  : NewRequestId();
      const Route* route = nullptr;
      Response resp;
      const std::string_view origin = req.Header("Origin");
      const bool origin_allowed =
          !origin.empty() &&
          std::find(opts_.allowed_origins.begin(), opts_.allowed_origins.end(),
                    origin) != opts_.allowed_origins.end();
      if (req.method == Method::kOptions && !origin.empty()) {
        resp = Preflight(req, origin_allowed);
      } else {
        std::optional<Response> ready = Dispatch(req, &route);
        if (ready) {
          resp = std::move(*ready);
        } else if (route->async_handler) {
          resp = co_await OnAsync(*route, req);
        } else {
          resp = co_await OnWorker(*route, req);
        }
      }
      for (auto& h : req.response_headers) resp.headers.push_back(std::move(h));
      if (origin_allowed) {
        resp.headers.emplace_back("Access-Control-Allow-Origin",
                                  std::string(origin));
        resp.headers.emplace_back("Vary", "Origin");
        resp.headers.emplace_back(
            "Access-Control-Expose-Headers",
            "X-Request-Id, ETag, Retry-After, RateLimit-Limit, "
            "RateLimit-Remaining, RateLimit-Reset");
      }
      const bool keep_alive = msg.keep_alive() && !stopping_;
      const bool ok = co_await Write(*conn, head, resp, req.request_id,
                                     keep_alive, req.method == Method::kHead);
      Record(route, MethodName(req.method), resp.status, start, req.request_id,
             conn->remote);
      if (!ok) break;
      if (!keep_alive) {
        boost::system::error_code ignored;
        conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(conns_mu_);
      conns_.erase(conn.get());
    }
    sweep.conns.erase(conn.get());
    boost::system::error_code ignored;
    conn->socket.close(ignored);
  }

  // Routes and runs the middleware chain and, for inline routes, the
  // handler. Returns the answer, or nullopt when the matched route's handler
  // must run on a worker (*matched is then set).
  std::optional<Response> Dispatch(Request& req, const Route** matched) {
    if (!SplitTarget(req.target, req.segments, req.query)) {
      return ErrorResponse(
          Status::InvalidRequest("invalid request target", "path"),
          req.request_id);
    }
    Router::Match m = router_.Find(req.method, req.segments);
    if (!m.route) {
      const Dialect d = DialectForPath(req.segments);
      if (!m.allow.empty()) {
        Response r = ErrorResponse(
            Status::MethodNotAllowed(std::string(MethodName(req.method)) +
                                     " is not allowed here"),
            req.request_id, d);
        r.headers.emplace_back("Allow", m.allow);
        return r;
      }
      return ErrorResponse(Status::NotFound("no such route"), req.request_id,
                           d);
    }
    *matched = m.route;
    const Route& route = *m.route;
    req.params = std::move(m.params);
    for (const Middleware& mw : middleware_) {
      Status st = mw(req, route);
      if (!st.ok()) {
        return ErrorResponse(st, req.request_id, route.options.dialect);
      }
    }
    if (route.options.inline_first) {
      req.on_io_thread = true;
      std::optional<Response> r = Call(route, req);
      if (r) return r;
    }
    req.on_io_thread = false;
    return std::nullopt;
  }

  // A CORS preflight: allowed origins get the methods and headers they may
  // use; any other origin is refused with no CORS headers (DESIGN §6).
  Response Preflight(Request& req, bool allowed) {
    if (!allowed) {
      std::vector<std::string> segments;
      std::vector<std::pair<std::string, std::string>> query;
      if (!SplitTarget(req.target, segments, query)) segments.clear();
      return ErrorResponse(
          Status::Forbidden("browser-origin requests are refused; call this "
                            "API from a server"),
          req.request_id, DialectForPath(segments));
    }
    Response r = NoContent();
    r.headers = {
        {"Access-Control-Allow-Methods", "GET, HEAD, POST, PATCH, DELETE"},
        {"Access-Control-Allow-Headers",
         "Authorization, Content-Type, X-Api-Key, X-Asteroid-Agents-Api-Key, "
         "If-Match, If-None-Match, X-Request-Id"},
        {"Access-Control-Max-Age", "600"}};
    return r;
  }

  std::optional<Response> Call(const Route& route, Request& req) {
    try {
      return route.handler(req);
    } catch (const std::exception& e) {
      log::Error("handler threw", {{"route", route.pattern},
                                   {"request_id", req.request_id},
                                   {"error", e.what()}});
      return ErrorResponse(Status::Internal("internal error"), req.request_id,
                           route.options.dialect);
    }
  }

  // Runs the handler on the worker pool and resumes on this connection's
  // I/O thread with its answer.
  awaitable<Response> OnWorker(const Route& route, Request& req) {
    return asio::async_initiate<decltype(use_awaitable), void(Response)>(
        [this, &route, &req](auto handler) {
          asio::post(workers_, [this, &route, &req,
                                handler = std::move(handler)]() mutable {
            std::optional<Response> r = Call(route, req);
            if (!r) {
              r = ErrorResponse(Status::Internal("handler gave no answer"),
                                req.request_id, route.options.dialect);
            }
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [handler = std::move(handler),
                            resp = std::move(*r)]() mutable {
              std::move(handler)(std::move(resp));
            });
          });
        },
        use_awaitable);
  }

  // Runs an asynchronous handler here, on the I/O thread (it never blocks),
  // and resumes on this connection's I/O thread with the answer it gives,
  // whenever and from whichever thread it gives it.
  awaitable<Response> OnAsync(const Route& route, Request& req) {
    return asio::async_initiate<decltype(use_awaitable), void(Response)>(
        [&route, &req](auto handler) {
          using H = decltype(handler);
          auto slot = std::make_shared<std::optional<H>>(std::move(handler));
          auto answered = std::make_shared<std::atomic<bool>>(false);
          Respond respond = [slot, answered](Response resp) {
            if (answered->exchange(true)) return;  // exactly once
            auto ex = asio::get_associated_executor(**slot);
            asio::post(ex, [slot, resp = std::move(resp)]() mutable {
              std::move (**slot)(std::move(resp));
            });
          };
          req.on_io_thread = true;
          try {
            route.async_handler(req, respond);
          } catch (const std::exception& e) {
            log::Error("handler threw", {{"route", route.pattern},
                                         {"request_id", req.request_id},
                                         {"error", e.what()}});
            respond(ErrorResponse(Status::Internal("internal error"),
                                  req.request_id, route.options.dialect));
          }
        },
        use_awaitable);
  }

  // The status line and headers of `resp`, into `h` (reused per connection).
  void BuildHead(std::string& h, const Response& resp,
                 std::string_view request_id, bool keep_alive) {
    h.clear();
    h += "HTTP/1.1 ";
    char num[24];
    auto r = std::to_chars(num, num + sizeof(num), resp.status);
    h.append(num, r.ptr);
    h += ' ';
    h += ReasonPhrase(resp.status);
    h += "\r\n";
    if (!resp.content_type.empty()) {
      h += "Content-Type: ";
      h += resp.content_type;
      h += "\r\n";
    }
    if (resp.status != 204 && resp.status != 304) {
      h += "Content-Length: ";
      r = std::to_chars(num, num + sizeof(num), resp.BodyView().size());
      h.append(num, r.ptr);
      h += "\r\n";
    }
    h += "X-Request-Id: ";
    h += request_id;
    h += "\r\n";
    for (const auto& [k, v] : resp.headers) {
      h += k;
      h += ": ";
      h += v;
      h += "\r\n";
    }
    if (!keep_alive) h += "Connection: close\r\n";
    h += "\r\n";
  }

  // Writes `resp` (no body for HEAD, 204 and 304). False when the
  // connection failed.
  awaitable<bool> Write(Conn& conn, std::string& head, const Response& resp,
                        std::string_view request_id, bool keep_alive,
                        bool head_only) {
    BuildHead(head, resp, request_id, keep_alive);
    const std::string_view body = resp.BodyView();
    const bool no_body = head_only || resp.status == 204 || resp.status == 304;
    std::array<asio::const_buffer, 2> bufs = {
        asio::buffer(head),
        asio::buffer(body.data(), no_body ? 0 : body.size())};
    // As much as the socket takes now (it is non-blocking) — all of it,
    // nearly always — and only the rest through an asynchronous write.
    boost::system::error_code ec;
    const size_t sent = conn.socket.write_some(bufs, ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      co_return false;
    }
    if (sent == head.size() + bufs[1].size()) co_return true;
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(bufs);
    rest.consume(sent);
    conn.deadline = Clock::now() + opts_.request_timeout;
    auto [wec, n] = co_await asio::async_write(conn.socket, rest, kTuple);
    co_return !wec;
  }

  awaitable<void> DrainAndClose(Conn& conn) {
    boost::system::error_code ignored;
    conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
    conn.deadline = Clock::now() + kDrainTime;
    std::array<char, 16384> sink;
    size_t total = 0;
    while (total < kDrainBytes) {
      auto [ec, n] =
          co_await conn.socket.async_read_some(asio::buffer(sink), kTuple);
      if (ec) break;
      total += n;
    }
  }

  void Record(const Route* route, std::string_view method, int status,
              Clock::time_point start, std::string_view request_id,
              const std::string& remote) {
    RouteStats& s = route ? *stats_[route->index] : *stats_.back();
    if (status >= 100 && status < static_cast<int>(kStatusSlots)) {
      s.by_status[status].fetch_add(1, std::memory_order_relaxed);
    }
    const double secs =
        std::chrono::duration<double>(Clock::now() - start).count();
    s.latency->Observe(secs);
    if (opts_.access_log && log::Enabled(log::Level::kInfo)) {
      log::Info("request", {{"request_id", request_id},
                            {"method", method},
                            {"route", route ? std::string_view(route->pattern)
                                            : std::string_view("unmatched")},
                            {"status", status},
                            {"duration_ms", std::round(secs * 1e6) / 1e3},
                            {"remote", remote}});
    }
  }

  ServerOptions opts_;
  const Router& router_;
  std::vector<Middleware> middleware_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  asio::thread_pool workers_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> stop_timer_;
  // One per I/O thread, beside ios_ (destroyed before them).
  std::vector<std::unique_ptr<Sweep>> sweeps_;
  Clock::time_point deadline_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> next_request_{1};
  std::string request_id_prefix_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<RouteStats>> stats_;
  std::mutex conns_mu_;
  std::unordered_map<Conn*, std::weak_ptr<Conn>> conns_;  // GUARDED_BY
};

Server::Server(ServerOptions options, const Router& router,
               std::vector<Middleware> middleware, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router,
                                   std::move(middleware), metrics)) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Shutdown() { impl_->Shutdown(); }
std::string Server::RenderRequestMetrics() const {
  return impl_->RenderRequestMetrics();
}

}  // namespace agentry::http
