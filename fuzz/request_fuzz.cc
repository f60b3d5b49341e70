// libFuzzer target: whole requests, handled in-process by the real server.
//
// Once per process the target starts the real Application (every route of
// every surface, the middleware — origins, authentication, rate limits — the
// services and a SQLite store in a temporary directory) on 127.0.0.1, port
// 0, and keeps it running. Each input is the raw bytes of one or more
// HTTP/1.1 requests, sent as they are on a fresh loopback connection (every
// "@K" replaced by the bootstrap admin key, so that inputs reach the
// handlers behind authentication), then the connection is half-closed and
// the answers read until the server closes it (or 1 s passes: a lease
// acquisition may wait).
//
// Besides ASan/leak/timeout findings (the server's coroutines are built
// without UBSan, see src/agentry/CMakeLists.txt), the target traps when:
//   - an answer is not "HTTP/1.1 NNN …" with a Content-Length-framed body
//     (none after a HEAD);
//   - any answer is a 5xx (hostile input gets a 4xx or a closed connection,
//     DESIGN §8);
//   - the server then fails to answer GET /healthz with 200.
//
// Run by fuzz/run.sh; seeds in fuzz/corpus/request/, dictionary in
// fuzz/dict/request.dict, crash reproducers kept in fuzz/regressions/request/.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "agentry/app/application.h"
#include "agentry/common/crypto.h"
#include "agentry/common/log.h"

namespace {

constexpr char kAdminKey[] = "fuzzAdminKey0123456789abcdefghijklmnopqrstuv";
constexpr char kMasterKey[] = "YWdlbnRyeS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=";

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "contract broken: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

struct Target {
  std::unique_ptr<agentry::Application> app;
  std::thread runner;
  uint16_t port = 0;
};

const Target& Server() {
  static Target* t = [] {
    if (!agentry::InitCrypto()) Fail("start", "libsodium");
    agentry::log::Init(agentry::log::Level::kOff);
    char dir[] = "/tmp/agentry-request-fuzz-XXXXXX";
    if (::mkdtemp(dir) == nullptr) Fail("start", "mkdtemp");
    agentry::Config config;
    config.listen = "127.0.0.1:0";
    config.store = std::string("sqlite://") + dir + "/agentry.db";
    config.threads = 1;
    config.workers = 4;
    config.log_level = "off";
    config.rate_limit = {1e9, 1'000'000'000};
    config.auth_failure_limit = {1e9, 1'000'000'000};
    agentry::Secrets secrets;
    secrets.bootstrap_admin_key = kAdminKey;
    secrets.master_key = kMasterKey;
    auto* target = new Target;
    target->app = std::make_unique<agentry::Application>(config, secrets);
    const agentry::Status st = target->app->Start();
    if (!st.ok()) Fail("start", st.ToString());
    target->port = target->app->port();
    target->runner = std::thread([app = target->app.get()] { app->Run(); });
    return target;
  }();
  return *t;
}

// A connected socket to the server. Each connection comes from the next
// source address of 127.0.0.2–127.0.0.251: at a thousand inputs a second,
// two connections each, one source address would soon meet its own
// connections of a minute ago still in TIME_WAIT (the server closes first)
// and a connect would fail for that, not for the server. Transient
// failures are retried for up to a second; a server that stopped accepting
// fails for good.
int Connect(int wait_ms) {
  static uint32_t next_source = 0;
  int last_errno = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) Fail("socket", std::strerror(errno));
    timeval tv{wait_ms / 1000, (wait_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(0x7f000002u + next_source++ % 250);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(Server().port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) == 0 &&
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return fd;
    }
    last_errno = errno;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Fail("connect", std::string("the server does not accept connections: ") +
                      std::strerror(last_errno));
}

// Sends `bytes` on a new connection, half-closes it and returns what comes
// back until the server closes it or `wait_ms` passes without a byte.
std::string Exchange(std::string_view bytes, int wait_ms) {
  const int fd = Connect(wait_ms);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. after a 400)
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[16384];
  while (out.size() < (8u << 20)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  // Closed with a reset, not a FIN: no TIME_WAIT left behind, or a long
  // run would exhaust the loopback's ephemeral ports.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
  return out;
}

// Checks every answer in `out`; returns the statuses' count.
int CheckAnswers(std::string_view out, std::string_view request) {
  int answers = 0;
  while (!out.empty()) {
    if (!out.starts_with("HTTP/1.1 ") || out.size() < 12) {
      Fail("not an HTTP/1.1 answer", out.substr(0, 64));
    }
    const int status =
        (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
    if (status < 100 || status > 599) Fail("status", out.substr(0, 16));
    if (status >= 500) {
      std::fprintf(stderr, "request (%zu bytes): %.*s\n", request.size(),
                   static_cast<int>(std::min<size_t>(request.size(), 2000)),
                   request.data());
      Fail("a 5xx answer", out.substr(0, 512));
    }
    const size_t end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      // The head was cut short: only when the read stopped (1 s).
      return answers + 1;
    }
    const std::string_view head = out.substr(0, end);
    size_t length = 0;
    bool framed = false;
    for (size_t at = head.find("\r\n"); at != std::string_view::npos;
         at = head.find("\r\n", at + 2)) {
      const std::string_view line = head.substr(at + 2);
      if (line.size() >= 15 && (line.substr(0, 15) == "Content-Length:" ||
                                line.substr(0, 15) == "content-length:")) {
        length =
            std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
        framed = true;
      }
    }
    if (!framed && status != 204 && status != 304 && status >= 200) {
      Fail("an answer without Content-Length", head.substr(0, 200));
    }
    ++answers;
    // An answer to HEAD has its Content-Length but no body: the next
    // answer follows at once (a JSON body never starts this way).
    if (out.substr(end + 4).starts_with("HTTP/1.1 ")) length = 0;
    const size_t next = end + 4 + length;
    if (next > out.size()) return answers;  // body cut short by the 1 s
    out.remove_prefix(next);
  }
  return answers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string request(reinterpret_cast<const char*>(data), size);
  for (size_t at = request.find("@K"); at != std::string::npos;
       at = request.find("@K", at + sizeof kAdminKey - 1)) {
    request.replace(at, 2, kAdminKey);
  }
  CheckAnswers(Exchange(request, 1000), request);
  // And it keeps serving.
  // (Twice more after a pause before concluding it does not: a loopback
  // connection can be refused for reasons of the machine's.)
  std::string health;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    health = Exchange(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000);
    if (health.starts_with("HTTP/1.1 200")) break;
  }
  if (!health.starts_with("HTTP/1.1 200")) {
    Fail("GET /healthz after the input", health.substr(0, 200));
  }
  return 0;
}
