// SharedRateBuckets on Redis (hiredis): one hash per bucket, updated by a
// Lua script so that a take is atomic whichever node makes it, timed by the
// Redis server's clock so that nodes' clocks need not agree.
//
// Reachability: a failed command (connection refused, reset, or slower than
// the command timeout) marks Redis unreachable, logs it once and answers
// nullopt; while unreachable, a new attempt is made at most once per
// `retry_interval_ms`, and every other call answers nullopt at once (no
// request waits on a dead Redis). The first success logs that it is back.
// Neither the URL nor a key is ever logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/shared_buckets.h"

struct redisContext;

namespace agentry {

struct RedisTarget {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string password;  // from redis://:PASSWORD@host, may be empty
};

// Parses "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"; kInvalidRequest naming
// "redis" otherwise (the message never repeats the URL).
Result<RedisTarget> ParseRedisUrl(std::string_view url);

struct RedisBucketsOptions {
  int connect_timeout_ms = 200;
  int command_timeout_ms = 100;
  int retry_interval_ms = 1000;
  size_t max_idle_connections = 16;
  // Prefix of every bucket's Redis key.
  std::string key_prefix = "agentry:rate:";
};

class RedisBuckets final : public SharedRateBuckets {
 public:
  // Never fails on an unreachable Redis (the node starts with local
  // buckets and keeps trying); only on a malformed URL.
  static Result<std::unique_ptr<RedisBuckets>> Create(
      std::string_view url, RedisBucketsOptions options = {});
  ~RedisBuckets() override;

  std::optional<SharedTake> Take(std::string_view name, double per_second,
                                 int64_t burst) override;
  bool reachable() const override {
    return up_.load(std::memory_order_relaxed);
  }

 private:
  RedisBuckets(RedisTarget target, RedisBucketsOptions options);

  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;

  Context Connect();  // null on failure
  std::optional<SharedTake> Run(redisContext* c, std::string_view key,
                                double per_second, int64_t burst, bool* broken);
  void MarkDown();
  void MarkUp();

  const RedisTarget target_;
  const RedisBucketsOptions options_;
  std::mutex mu_;
  std::vector<Context> idle_;  // GUARDED_BY(mu_)
  std::atomic<bool> up_{true};
  std::atomic<int64_t> retry_at_ms_{0};
};

}  // namespace agentry
