#include "agentry/service/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace agentry
