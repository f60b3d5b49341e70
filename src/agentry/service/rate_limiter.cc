#include "agentry/service/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "agentry/common/metrics.h"

namespace agentry {

namespace {

int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int CeilSeconds(double seconds) {
  return static_cast<int>(std::clamp(std::ceil(seconds), 0.0, 86400.0));
}

}  // namespace

RateLimiter::RateLimiter(RateLimiterOptions options)
    : options_(std::move(options)) {
  if (!options_.now_us) options_.now_us = SteadyNowUs;
}

RateDecision RateLimiter::Take(Table& table, std::string_view name,
                               const RateLimit& limit, double cost) {
  const double rate = std::max(limit.per_second, 1e-9);
  const double burst = static_cast<double>(std::max<int64_t>(limit.burst, 1));
  const int64_t now = options_.now_us();
  Shard& shard = table[StringHash()(name) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(name);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kMaxBucketsPerShard) {
      // Full buckets carry no state: forget them.
      for (auto b = shard.buckets.begin(); b != shard.buckets.end();) {
        const double elapsed = static_cast<double>(now - b->second.at_us) / 1e6;
        if (b->second.tokens + elapsed * rate >= burst) {
          b = shard.buckets.erase(b);
        } else {
          ++b;
        }
      }
    }
    it = shard.buckets.emplace(std::string(name), Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed =
      static_cast<double>(std::max<int64_t>(now - b.at_us, 0)) / 1e6;
  b.tokens = std::min(burst, b.tokens + elapsed * rate);
  b.at_us = now;
  RateDecision d;
  d.limit = static_cast<int64_t>(burst);
  if (b.tokens >= cost) {
    b.tokens -= cost;
  } else if (cost > 0) {
    d.allowed = false;
    d.retry_after_s = std::max(1, CeilSeconds((cost - b.tokens) / rate));
  }
  d.remaining = static_cast<int64_t>(std::floor(b.tokens));
  d.reset_s = CeilSeconds((burst - b.tokens) / rate);
  return d;
}

RateDecision RateLimiter::TakeForKey(std::string_view key_id,
                                     const std::optional<RateLimit>& limit) {
  const RateLimit& l = limit ? *limit : options_.default_limit;
  if (options_.shared != nullptr) {
    const double rate = std::max(l.per_second, 1e-9);
    const int64_t burst = std::max<int64_t>(l.burst, 1);
    if (std::optional<SharedTake> t =
            options_.shared->Take(key_id, rate, burst)) {
      RateDecision d;
      d.allowed = t->allowed;
      d.limit = burst;
      d.remaining = static_cast<int64_t>(std::floor(t->tokens));
      d.reset_s = CeilSeconds((static_cast<double>(burst) - t->tokens) / rate);
      if (!d.allowed) {
        d.retry_after_s = std::max(1, CeilSeconds((1.0 - t->tokens) / rate));
      }
      return d;
    }
    if (options_.local_fallbacks != nullptr) options_.local_fallbacks->Add();
  }
  return Take(keys_, key_id, l, 1.0);
}

RateDecision RateLimiter::MayAuthenticate(std::string_view address) {
  // Takes nothing: looks at what is left.
  RateDecision d = Take(addresses_, address, options_.failed_auth_limit, 0.0);
  if (d.remaining < 1) {
    d.allowed = false;
    d.retry_after_s = std::max(
        1, CeilSeconds(1.0 /
                       std::max(options_.failed_auth_limit.per_second, 1e-9)));
  }
  return d;
}

void RateLimiter::FailedAuthentication(std::string_view address) {
  Take(addresses_, address, options_.failed_auth_limit, 1.0);
}

}  // namespace agentry
