#include "agentry/service/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/metrics.h"
#include "agentry/store/redis/redis_buckets.h"

namespace agentry {
namespace {

struct FakeClock {
  int64_t us = 1'000'000;
};

RateLimiter Limiter(FakeClock& clock, RateLimit key = {10, 5},
                    RateLimit auth = {1, 3}) {
  RateLimiterOptions o;
  o.default_limit = key;
  o.failed_auth_limit = auth;
  o.now_us = [&clock] { return clock.us; };
  return RateLimiter(o);
}

TEST(RateLimiterTest, ExactlyBurstThenRefusedThenRefilled) {
  FakeClock clock;
  RateLimiter limiter = Limiter(clock);
  for (int i = 0; i < 5; ++i) {
    const RateDecision d = limiter.TakeForKey("k1", std::nullopt);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 4 - i);
  }
  RateDecision refused = limiter.TakeForKey("k1", std::nullopt);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_s, 1);  // 1 token at 10/s: 0.1 s, rounded up
  EXPECT_EQ(refused.reset_s, 1);        // 5 tokens at 10/s: 0.5 s
  // Another key has its own bucket.
  EXPECT_TRUE(limiter.TakeForKey("k2", std::nullopt).allowed);
  clock.us += 100'000;  // 0.1 s: one token back
  EXPECT_TRUE(limiter.TakeForKey("k1", std::nullopt).allowed);
  EXPECT_FALSE(limiter.TakeForKey("k1", std::nullopt).allowed);
  clock.us += 10'000'000;  // long idle: full, never more than burst
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(limiter.TakeForKey("k1", std::nullopt).allowed);
  }
  EXPECT_FALSE(limiter.TakeForKey("k1", std::nullopt).allowed);
}

TEST(RateLimiterTest, AKeysOwnLimitWins) {
  FakeClock clock;
  RateLimiter limiter = Limiter(clock);
  const RateLimit slow{0.5, 2};
  EXPECT_TRUE(limiter.TakeForKey("slow", slow).allowed);
  EXPECT_TRUE(limiter.TakeForKey("slow", slow).allowed);
  const RateDecision d = limiter.TakeForKey("slow", slow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 2);
  EXPECT_EQ(d.retry_after_s, 2);  // one token at 0.5/s
  EXPECT_EQ(d.reset_s, 4);
}

TEST(RateLimiterTest, FailedAuthenticationsPerAddress) {
  FakeClock clock;
  RateLimiter limiter = Limiter(clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.MayAuthenticate("10.0.0.1").allowed);
    limiter.FailedAuthentication("10.0.0.1");
  }
  const RateDecision d = limiter.MayAuthenticate("10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_GE(d.retry_after_s, 1);
  EXPECT_TRUE(limiter.MayAuthenticate("10.0.0.2").allowed);
  // Asking does not use a token up.
  for (int i = 0; i < 10; ++i) limiter.MayAuthenticate("10.0.0.3");
  EXPECT_TRUE(limiter.MayAuthenticate("10.0.0.3").allowed);
  clock.us += 1'000'000;
  EXPECT_TRUE(limiter.MayAuthenticate("10.0.0.1").allowed);
}

TEST(RateLimiterTest, ConcurrentTakesNeverExceedTheBurst) {
  FakeClock clock;  // time stands still: no refill
  RateLimiter limiter = Limiter(clock, {1, 1000});
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.TakeForKey("shared", std::nullopt).allowed) ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 1000);
}

// Shared buckets as a stand-in for Redis: answers what it is told to, and
// records what it was asked.
class ScriptedShared final : public SharedRateBuckets {
 public:
  std::optional<SharedTake> next;
  std::string asked_name;
  double asked_rate = 0;
  int64_t asked_burst = 0;
  std::optional<SharedTake> Take(std::string_view name, double per_second,
                                 int64_t burst) override {
    asked_name = std::string(name);
    asked_rate = per_second;
    asked_burst = burst;
    return next;
  }
  bool reachable() const override { return next.has_value(); }
};

TEST(RateLimiterTest, SharedBucketsDecideWhenReachable) {
  FakeClock clock;
  ScriptedShared shared;
  MetricsRegistry metrics;
  RateLimiterOptions o;
  o.default_limit = {2, 4};
  o.now_us = [&clock] { return clock.us; };
  o.shared = &shared;
  o.local_fallbacks = metrics.AddCounter("fallbacks", "", "");
  RateLimiter limiter(o);

  shared.next = SharedTake{true, 2.5};
  RateDecision d = limiter.TakeForKey("key-1", std::nullopt);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(shared.asked_name, "key-1");
  EXPECT_EQ(shared.asked_rate, 2);
  EXPECT_EQ(shared.asked_burst, 4);
  EXPECT_EQ(d.limit, 4);
  EXPECT_EQ(d.remaining, 2);
  EXPECT_EQ(d.reset_s, 1);  // 1.5 tokens at 2/s

  shared.next = SharedTake{false, 0.25};
  d = limiter.TakeForKey("key-1", RateLimit{0.5, 10});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(shared.asked_burst, 10);
  EXPECT_EQ(d.retry_after_s, 2);  // 0.75 tokens at 0.5/s
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(o.local_fallbacks->Value(), 0u);
}

TEST(RateLimiterTest, LocalBucketsDecideWhenSharedIsUnreachable) {
  FakeClock clock;
  ScriptedShared shared;  // answers nullopt: unreachable
  MetricsRegistry metrics;
  RateLimiterOptions o;
  o.default_limit = {1, 3};
  o.now_us = [&clock] { return clock.us; };
  o.shared = &shared;
  o.local_fallbacks = metrics.AddCounter("fallbacks", "", "");
  RateLimiter limiter(o);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += limiter.TakeForKey("key-2", std::nullopt).allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 3);  // the local burst
  EXPECT_EQ(o.local_fallbacks->Value(), 10u);
  // Back: the shared bucket decides again.
  shared.next = SharedTake{true, 0};
  EXPECT_TRUE(limiter.TakeForKey("key-2", std::nullopt).allowed);
  EXPECT_EQ(o.local_fallbacks->Value(), 10u);
}

TEST(RedisUrlTest, ParsesHostPortDatabaseAndPassword) {
  auto t = ParseRedisUrl("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 2);
  EXPECT_EQ(t->password, "");
  t = ParseRedisUrl("redis://:s3cret@cache.internal");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "cache.internal");
  EXPECT_EQ(t->port, 6379);
  EXPECT_EQ(t->password, "s3cret");
  t = ParseRedisUrl("redis://user:pw@h:1/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->password, "pw");
  EXPECT_EQ(t->db, 0);
}

TEST(RedisUrlTest, RefusesMalformedUrlsWithoutRepeatingThem) {
  for (const char* url :
       {"http://h:1", "redis://", "redis://:pw@", "redis://h:0", "redis://h:x",
        "redis://h:70000", "redis://h/db", "redis://h/-1"}) {
    auto t = ParseRedisUrl(url);
    ASSERT_FALSE(t.ok()) << url;
    EXPECT_EQ(t.status().field(), "redis") << url;
    EXPECT_EQ(t.status().message().find("pw"), std::string::npos) << url;
  }
}

}  // namespace
}  // namespace agentry
