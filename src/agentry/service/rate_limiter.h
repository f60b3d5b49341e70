// Token buckets (DESIGN §8): one per API key — its own limit, or the
// server's default — and one per client address for failed
// authentications. Key buckets are global when `shared` is given (`--redis`:
// one bucket per key across nodes); when it cannot be reached, each node
// decides with its own local bucket until it can. Failed authentications are
// counted per node.
//
// A bucket holds up to `burst` tokens and refills at `per_second`; each
// request takes one. Thread-safe: buckets are sharded, each shard under its
// own mutex, so a hot read path takes one short lock per request.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentry/common/string_map.h"
#include "agentry/domain/tenancy.h"
#include "agentry/store/shared_buckets.h"

namespace agentry {

class Counter;

struct RateLimiterOptions {
  // A key's bucket when the key has no limit of its own.
  RateLimit default_limit{100, 200};
  // Failed authentications per client address.
  RateLimit failed_auth_limit{5, 50};
  // Microseconds on a monotonic clock (tests substitute their own).
  std::function<int64_t()> now_us;
  // Buckets shared by every node (may be null: local only). Must outlive
  // the limiter.
  SharedRateBuckets* shared = nullptr;
  // Counts key decisions made locally because `shared` could not be
  // reached (may be null).
  Counter* local_fallbacks = nullptr;
};

// What a request learns from its bucket.
struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;      // the bucket's burst (RateLimit-Limit)
  int64_t remaining = 0;  // whole tokens left (RateLimit-Remaining)
  int reset_s = 0;        // seconds until the bucket is full (RateLimit-Reset)
  int retry_after_s = 0;  // when refused: seconds until a token is back
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterOptions options = {});

  // Takes a token from key `key_id`'s bucket (`limit`, or the default).
  RateDecision TakeForKey(std::string_view key_id,
                          const std::optional<RateLimit>& limit);

  // Whether `address` may try to authenticate (it has failure tokens left);
  // does not take one.
  RateDecision MayAuthenticate(std::string_view address);
  // Takes a failure token from `address`.
  void FailedAuthentication(std::string_view address);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_us = 0;
  };
  struct Shard {
    std::mutex mu;
    // GUARDED_BY(mu); looked up by string_view (no allocation per request).
    StringMap<Bucket> buckets;
  };
  static constexpr size_t kShards = 64;
  using Table = std::array<Shard, kShards>;
  // Above this many buckets a shard drops those that are full again.
  static constexpr size_t kMaxBucketsPerShard = 16384;

  RateDecision Take(Table& table, std::string_view name, const RateLimit& limit,
                    double cost);

  RateLimiterOptions options_;
  Table keys_;       // by API key id
  Table addresses_;  // failed authentications, by client address
};

}  // namespace agentry
