// Token buckets shared by every node (DESIGN §7: `--redis` makes rate
// limits global, one bucket per key across nodes). The rate limiter
// (service/rate_limiter.h) asks this first and falls back to its own local
// bucket when the shared store cannot be reached.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace agentry {

// The state of a shared bucket after one take.
struct SharedTake {
  bool allowed = false;
  double tokens = 0;  // left after the take (0 ≤ tokens ≤ burst)
};

class SharedRateBuckets {
 public:
  virtual ~SharedRateBuckets() = default;

  // Takes one token from bucket `name` (refilling at `per_second` up to
  // `burst`), atomically across every node. nullopt when the shared store
  // cannot be reached in time: the caller decides with a local bucket.
  // Thread-safe; blocks for at most the store's command timeout.
  virtual std::optional<SharedTake> Take(std::string_view name,
                                         double per_second, int64_t burst) = 0;

  // Whether the last attempt reached the shared store.
  virtual bool reachable() const = 0;
};

}  // namespace agentry
