// bench/lease_load.cc — load generator for the lease hot path.
//
//   LEASE_LOAD_KEY=$KEY lease_load --target 127.0.0.1:PORT --pool POOL_ID
//       [--connections 32] [--duration 10]
//
// Opens C keep-alive HTTP/1.1 connections and drives them all from one
// thread (epoll, non-blocking sockets, TCP_NODELAY). Each connection loops:
//
//   POST   /v1/agent-profile-pools/{pool}/leases  body {}   expect 201, read
//   "id" DELETE /v1/leases/{id}                                  expect 204
//
// and counts the acquire+release pairs finished within D seconds, with the
// latency of every pair, acquire and release. When the time is up no new
// acquire is sent, but a lease that was granted is still released (uncounted),
// so a run leaves no lease behind for the next one.
//
// Prints "key: value" lines on stdout (pairs/s, acquires/s, p50/p99 of pair,
// acquire and release in ms, non-2xx counts per status) and exits 3 when any
// answer was unexpected (non-2xx, a 2xx other than 201/204, a lease id
// missing, a connection error), 2 on bad usage, 1 when it could not run.
//
// Deliberately small: POSIX sockets and a minimal response parser
// (Content-Length bodies only), no Agentry or Boost libraries.
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Now() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "lease_load: %s\n", msg.c_str());
  std::exit(1);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string pool;
  std::string key;
  int connections = 32;
  double duration = 10;
  // Never sleep in epoll_wait (timeout 0): the generator stays on its
  // core, so the server's answers do not pay for waking it (on this VM an
  // inter-processor interrupt per answer), as with wrk, which a GET load
  // keeps busy. Reported with the results.
  bool spin = false;
};

enum class Phase { kIdle, kAcquire, kRelease, kDone };

struct Conn {
  int fd = -1;
  Phase phase = Phase::kIdle;
  std::string out;
  size_t out_off = 0;
  bool want_write = false;
  std::string in;
  double pair_start = 0;
  double req_start = 0;
  std::string lease_id;
};

struct Stats {
  std::vector<float> pair_ms, acquire_ms, release_ms;
  long pairs = 0, acquires = 0, releases = 0;
  long drained_releases = 0;
  std::map<int, long> unexpected;  // status -> count (non-2xx or wrong 2xx)
  long missing_id = 0;
  long conn_errors = 0;
};

struct Response {
  int status = 0;
  std::string_view body;
  size_t consumed = 0;
  bool close = false;
};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Parses one complete response at the start of `buf`; false when more bytes
// are needed. Dies on what this small parser does not handle.
bool ParseResponse(std::string_view buf, Response& r) {
  size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  std::string_view head = buf.substr(0, head_end);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") Die("bad status line");
  r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  long length = -1;
  r.close = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t start = pos + 2;
    size_t next = head.find("\r\n", start);
    std::string_view line =
        head.substr(start, next == std::string_view::npos ? head.size() - start
                                                          : next - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (IEquals(name, "content-length")) {
        length = std::atol(std::string(value).c_str());
      } else if (IEquals(name, "transfer-encoding")) {
        Die("chunked responses are not supported by this load generator");
      } else if (IEquals(name, "connection") && IEquals(value, "close")) {
        r.close = true;
      }
    }
    pos = next;
  }
  if (length < 0) length = 0;  // 204 and friends
  size_t total = head_end + 4 + static_cast<size_t>(length);
  if (buf.size() < total) return false;
  r.body = buf.substr(head_end + 4, static_cast<size_t>(length));
  r.consumed = total;
  return true;
}

// The lease id: the first "id":"…" of the body (the lease's own id comes
// first).
std::string LeaseId(std::string_view body) {
  size_t p = body.find("\"id\":\"");
  if (p == std::string_view::npos) return {};
  p += 6;
  size_t q = body.find('"', p);
  if (q == std::string_view::npos) return {};
  return std::string(body.substr(p, q - p));
}

class Load {
 public:
  explicit Load(const Options& o) : o_(o) {
    host_header_ = o.host + ":" + std::to_string(o.port);
    acquire_req_ =
        "POST /v1/agent-profile-pools/" + o.pool +
        "/leases HTTP/1.1\r\nHost: " + host_header_ +
        "\r\nAuthorization: Bearer " + o.key +
        "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    ep_ = epoll_create1(0);
    if (ep_ < 0) Die(std::string("epoll_create1: ") + std::strerror(errno));
    std::memset(&addr_, 0, sizeof addr_);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr) != 1)
      Die("--target host must be an IPv4 address");
    conns_.resize(static_cast<size_t>(o.connections));
    s_.pair_ms.reserve(1 << 20);
    s_.acquire_ms.reserve(1 << 20);
    s_.release_ms.reserve(1 << 20);
  }

  Stats Run(double& elapsed) {
    for (size_t i = 0; i < conns_.size(); ++i) Connect(i);
    start_ = Now();
    deadline_ = start_ + o_.duration;
    for (size_t i = 0; i < conns_.size(); ++i) StartPair(i);
    std::vector<epoll_event> events(conns_.size() + 1);
    const double drain_limit = deadline_ + 10;
    while (true) {
      double now = Now();
      if (now >= deadline_ && Active() == 0) break;
      if (now >= drain_limit) {
        std::fprintf(stderr,
                     "lease_load: %zu connection(s) still busy 10 s after the "
                     "end; giving up on them\n",
                     Active());
        s_.conn_errors += static_cast<long>(Active());
        break;
      }
      double until = now < deadline_ ? deadline_ : drain_limit;
      int timeout_ms = std::max(1, static_cast<int>((until - now) * 1000));
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                         o_.spin ? 0 : std::min(timeout_ms, 100));
      if (n < 0) {
        if (errno == EINTR) continue;
        Die(std::string("epoll_wait: ") + std::strerror(errno));
      }
      for (int k = 0; k < n; ++k) {
        size_t i = events[k].data.u64;
        if (events[k].events & EPOLLOUT) Flush(i);
        if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(i);
      }
    }
    elapsed = o_.duration;
    for (Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    return std::move(s_);
  }

 private:
  size_t Active() const {
    size_t n = 0;
    for (const Conn& c : conns_)
      n += (c.phase == Phase::kAcquire || c.phase == Phase::kRelease);
    return n;
  }

  void Connect(size_t i) {
    Conn& c = conns_[i];
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
    }
    c = Conn{};
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) Die(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_),
                sizeof addr_) != 0) {
      Die("connect to " + host_header_ + ": " + std::strerror(errno));
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
      Die(std::string("epoll_ctl: ") + std::strerror(errno));
  }

  void Send(size_t i, const std::string& req) {
    Conn& c = conns_[i];
    c.out = req;
    c.out_off = 0;
    c.req_start = Now();
    Flush(i);
  }

  void Flush(size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < c.out.size()) {
      ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                       MSG_NOSIGNAL);
      if (w > 0) {
        c.out_off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SetWrite(i, true);
        return;
      }
      Fail(i, std::string("send: ") + std::strerror(errno));
      return;
    }
    if (c.want_write) SetWrite(i, false);
  }

  void SetWrite(size_t i, bool on) {
    Conn& c = conns_[i];
    c.want_write = on;
    epoll_event ev{};
    ev.events = on ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void StartPair(size_t i) {
    Conn& c = conns_[i];
    if (Now() >= deadline_) {
      c.phase = Phase::kDone;
      return;
    }
    c.phase = Phase::kAcquire;
    c.pair_start = Now();
    Send(i, acquire_req_);
  }

  void Fail(size_t i, const std::string& why) {
    ++s_.conn_errors;
    if (s_.conn_errors <= 5)
      std::fprintf(stderr, "lease_load: connection %zu: %s\n", i, why.c_str());
    // A lease granted on this connection may be left held until it expires.
    Connect(i);
    StartPair(i);
  }

  void Read(size_t i) {
    Conn& c = conns_[i];
    char buf[16384];
    while (true) {
      ssize_t r = recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.in.append(buf, static_cast<size_t>(r));
        if (static_cast<size_t>(r) < sizeof buf) break;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (c.phase == Phase::kDone) {  // closed while idle at the end
        epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = -1;
        return;
      }
      Fail(i, r == 0 ? "closed by the server"
                     : std::string("recv: ") + std::strerror(errno));
      return;
    }
    Response resp;
    while (ParseResponse(c.in, resp)) {
      bool close_after = resp.close;
      Handle(i, resp);  // may send the next request; never touches c.in
      c.in.erase(0, resp.consumed);
      if (close_after) {
        ++s_.conn_errors;
        Phase keep = c.phase;
        std::string out = c.out;
        double pair_start = c.pair_start;
        std::string id = c.lease_id;
        Connect(i);  // resend whatever was just sent on a fresh connection
        conns_[i].phase = keep;
        conns_[i].pair_start = pair_start;
        conns_[i].lease_id = id;
        if (keep == Phase::kAcquire || keep == Phase::kRelease) Send(i, out);
        return;
      }
    }
  }

  void Handle(size_t i, const Response& resp) {
    Conn& c = conns_[i];
    double now = Now();
    bool in_window = now <= deadline_;
    float ms = static_cast<float>((now - c.req_start) * 1000);
    if (c.phase == Phase::kAcquire) {
      if (resp.status != 201) {
        ++s_.unexpected[resp.status];
        if (s_.unexpected[resp.status] <= 3) {
          std::fprintf(
              stderr, "lease_load: acquire answered %d: %.*s\n", resp.status,
              static_cast<int>(std::min<size_t>(resp.body.size(), 300)),
              resp.body.data());
        }
        StartPair(i);
        return;
      }
      c.lease_id = LeaseId(resp.body);
      if (c.lease_id.empty()) {
        ++s_.missing_id;
        StartPair(i);
        return;
      }
      if (in_window) {
        ++s_.acquires;
        s_.acquire_ms.push_back(ms);
      }
      c.phase = Phase::kRelease;
      Send(i, "DELETE /v1/leases/" + c.lease_id + " HTTP/1.1\r\nHost: " +
                  host_header_ + "\r\nAuthorization: Bearer " + o_.key +
                  "\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (c.phase == Phase::kRelease) {
      if (resp.status != 204) {
        ++s_.unexpected[resp.status];
        if (s_.unexpected[resp.status] <= 3) {
          std::fprintf(
              stderr, "lease_load: release answered %d: %.*s\n", resp.status,
              static_cast<int>(std::min<size_t>(resp.body.size(), 300)),
              resp.body.data());
        }
      } else if (in_window) {
        ++s_.releases;
        ++s_.pairs;
        s_.release_ms.push_back(ms);
        s_.pair_ms.push_back(static_cast<float>((now - c.pair_start) * 1000));
      } else {
        ++s_.drained_releases;
      }
      StartPair(i);
      return;
    }
    ++s_.unexpected[resp.status];  // an answer nobody asked for
  }

  Options o_;
  std::string host_header_, acquire_req_;
  int ep_ = -1;
  sockaddr_in addr_{};
  std::vector<Conn> conns_;
  Stats s_;
  double start_ = 0, deadline_ = 0;
};

double Percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void Usage() {
  std::fprintf(
      stderr,
      "usage: LEASE_LOAD_KEY=KEY lease_load --target HOST:PORT --pool POOL_ID\n"
      "                  [--connections N (32)] [--duration SECONDS (10)] "
      "[--key KEY] [--spin]\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* k = std::getenv("LEASE_LOAD_KEY")) o.key = k;
  static const option long_opts[] = {
      {"target", required_argument, nullptr, 't'},
      {"pool", required_argument, nullptr, 'p'},
      {"connections", required_argument, nullptr, 'c'},
      {"duration", required_argument, nullptr, 'd'},
      {"key", required_argument, nullptr, 'k'},
      {"spin", no_argument, nullptr, 's'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "t:p:c:d:k:sh", long_opts, nullptr)) !=
         -1) {
    switch (ch) {
      case 't': {
        std::string t = optarg;
        size_t colon = t.rfind(':');
        if (colon == std::string::npos) {
          Usage();
          return 2;
        }
        o.host = t.substr(0, colon);
        o.port = std::atoi(t.c_str() + colon + 1);
        break;
      }
      case 'p':
        o.pool = optarg;
        break;
      case 'c':
        o.connections = std::atoi(optarg);
        break;
      case 'd':
        o.duration = std::atof(optarg);
        break;
      case 'k':
        o.key = optarg;
        break;
      case 's':
        o.spin = true;
        break;
      default:
        Usage();
        return ch == 'h' ? 0 : 2;
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.pool.empty() || o.key.empty() ||
      o.connections < 1 || o.connections > 10000 ||
      !(o.duration > 0 && o.duration <= 3600)) {
    Usage();
    return 2;
  }

  Load load(o);
  double elapsed = 0;
  Stats s = load.Run(elapsed);

  long unexpected = 0;
  for (auto& [status, n] : s.unexpected) unexpected += n;
  std::printf("connections: %d\n", o.connections);
  std::printf("seconds: %.3f\n", elapsed);
  std::printf("pairs: %ld\n", s.pairs);
  std::printf("pairs/s: %.1f\n", static_cast<double>(s.pairs) / elapsed);
  std::printf("acquires/s: %.1f\n", static_cast<double>(s.acquires) / elapsed);
  std::printf("lease_ops/s: %.1f\n",
              static_cast<double>(s.acquires + s.releases) / elapsed);
  std::printf("pair_p50_ms: %.3f\n", Percentile(s.pair_ms, 0.50));
  std::printf("pair_p99_ms: %.3f\n", Percentile(s.pair_ms, 0.99));
  std::printf("acquire_p50_ms: %.3f\n", Percentile(s.acquire_ms, 0.50));
  std::printf("acquire_p99_ms: %.3f\n", Percentile(s.acquire_ms, 0.99));
  std::printf("release_p50_ms: %.3f\n", Percentile(s.release_ms, 0.50));
  std::printf("release_p99_ms: %.3f\n", Percentile(s.release_ms, 0.99));
  std::printf("drained_after_end: %ld\n", s.drained_releases);
  std::printf("non2xx: %ld\n", unexpected);
  for (auto& [status, n] : s.unexpected)
    std::printf("status_%d: %ld\n", status, n);
  std::printf("missing_lease_id: %ld\n", s.missing_id);
  std::printf("connection_errors: %ld\n", s.conn_errors);
  return (unexpected || s.missing_id || s.conn_errors || s.pairs == 0) ? 3 : 0;
}
