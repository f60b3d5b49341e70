// The server's connection timeouts, over real sockets on 127.0.0.1: an idle
// keep-alive connection, a request stalled half-way, and an answer the
// client never reads are each given up about when they are due — and a
// connection kept busy within its timeouts is not.
#include "agentry/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace agentry::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kIdle{300};
constexpr milliseconds kRequest{400};

class ServerTimeoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RouteOptions open;
    open.auth = false;
    open.inline_first = true;
    router_.Add(Method::kGet, "/ping", open,
                [](Request&) -> std::optional<Response> {
                  Response r;
                  r.content_type = "text/plain";
                  r.body = "pong";
                  return r;
                });
    // More than the socket buffers of both ends hold.
    router_.Add(Method::kGet, "/big", open,
                [](Request&) -> std::optional<Response> {
                  Response r;
                  r.content_type = "text/plain";
                  r.body.assign(64 << 20, 'x');
                  return r;
                });
    ServerOptions opts;
    opts.port = 0;
    opts.worker_threads = 1;
    opts.idle_timeout = kIdle;
    opts.request_timeout = kRequest;
    opts.shutdown_grace = milliseconds(500);
    opts.access_log = false;
    server_ = std::make_unique<Server>(opts, router_, std::vector<Middleware>{},
                                       metrics_);
    ASSERT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    server_->Shutdown();
    thread_.join();
  }

  int Connect() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0);
    return fd;
  }

  static void Send(int fd, std::string_view data) {
    ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }

  // Reads until the server closes the connection or `limit` passes; the
  // time until the close (or `limit`) and what was read.
  static std::pair<milliseconds, std::string> UntilClosed(int fd,
                                                          milliseconds limit) {
    const auto start = Clock::now();
    std::string got;
    for (;;) {
      const auto left = limit - std::chrono::duration_cast<milliseconds>(
                                    Clock::now() - start);
      if (left.count() <= 0) return {limit, got};
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return {std::chrono::duration_cast<milliseconds>(Clock::now() - start),
                got};
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }

  // The server's agentry_http_open_connections gauge.
  int OpenConnections() const {
    const std::string text = metrics_.Render();
    const std::string name = "agentry_http_open_connections ";
    const size_t at = text.find("\n" + name);
    if (at == std::string::npos) return -1;
    return std::stoi(text.substr(at + 1 + name.size()));
  }

  Router router_;
  MetricsRegistry metrics_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

constexpr std::string_view kPing = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(ServerTimeoutTest, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  const int fd = Connect();
  auto [took, got] = UntilClosed(fd, milliseconds(3000));
  ::close(fd);
  EXPECT_EQ(got, "");
  EXPECT_GE(took, kIdle - milliseconds(20));
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(ServerTimeoutTest, AKeptAliveConnectionIsClosedOnceIdle) {
  const int fd = Connect();
  Send(fd, kPing);
  auto [took, got] = UntilClosed(fd, milliseconds(3000));
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("pong"), std::string::npos) << got;
  EXPECT_GE(took, kIdle - milliseconds(20));
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(ServerTimeoutTest, ARequestStalledHalfWayIsGivenUp) {
  const int fd = Connect();
  // Bytes keep coming, but the request is not complete within its timeout
  // (the idle timeout alone would not end it).
  const auto start = Clock::now();
  Send(fd, "GET /ping HTTP/1.1\r\n");
  bool closed = false;
  while (Clock::now() - start < milliseconds(3000) && !closed) {
    std::this_thread::sleep_for(milliseconds(100));
    closed = ::send(fd, "X-A: b\r\n", 8, MSG_NOSIGNAL) < 0;
    pollfd p{fd, POLLIN, 0};
    if (!closed && ::poll(&p, 1, 0) > 0) {
      char buf[256];
      closed = ::recv(fd, buf, sizeof(buf), 0) <= 0;
    }
  }
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_GE(took, kRequest - milliseconds(20));
  EXPECT_LT(took, milliseconds(2000));
}

TEST_F(ServerTimeoutTest, AnAnswerNeverReadIsGivenUp) {
  const int fd = Connect();
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const auto start = Clock::now();
  Send(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  // Never read: the server's write stalls with the socket buffers full,
  // is given up after the request timeout and the connection closed.
  // (What the kernel already holds may trickle out long after, so the
  // close is watched on the server's gauge of open connections, once the
  // answer has begun to arrive.)
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_EQ(OpenConnections(), 1);
  while (OpenConnections() != 0 && Clock::now() - start < milliseconds(3000)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ::close(fd);
  EXPECT_EQ(OpenConnections(), 0);
  EXPECT_GE(took, kRequest - milliseconds(20));
  EXPECT_LT(took, milliseconds(2000));
}

TEST_F(ServerTimeoutTest, AConnectionKeptBusyWithinItsTimeoutsStaysOpen) {
  const int fd = Connect();
  // Longer than both timeouts in all, but never idle for one.
  size_t answers = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < milliseconds(1500)) {
    Send(fd, kPing);
    std::string got;
    while (got.find("pong") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 2000), 0);
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      ASSERT_GT(n, 0) << "closed after " << answers << " answers";
      got.append(buf, static_cast<size_t>(n));
    }
    ++answers;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ::close(fd);
  EXPECT_GE(answers, 8u);
}

}  // namespace
}  // namespace agentry::http
