// Callbacks run at given times on one thread of the queue's own: how the
// lease service wakes waiting acquisitions at their deadline or when a
// lease expires, without holding a thread per waiter.
//
// Thread-safe. Callbacks run one at a time on the queue's thread, never
// under the queue's lock (they may Schedule and Cancel). After Shutdown,
// nothing runs any more and Schedule does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace agentry {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = uint64_t;

  TimerQueue();
  // Shutdown().
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` at `at` (or at once when `at` has passed). Returns an id for
  // Cancel (0 after Shutdown).
  Id Schedule(Clock::time_point at, std::function<void()> fn);
  // Runs `fn` after `delay_ms` milliseconds (≤ 0: at once).
  Id ScheduleIn(int64_t delay_ms, std::function<void()> fn) {
    return Schedule(Clock::now() + std::chrono::milliseconds(delay_ms),
                    std::move(fn));
  }
  // True when the callback had not started and never will.
  bool Cancel(Id id);

  // Drops every pending callback, waits for a running one, stops the
  // thread. Idempotent; must not be called from a callback.
  void Shutdown();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  // (when, id) → callback. GUARDED_BY(mu_)
  std::map<std::pair<Clock::time_point, Id>, std::function<void()>> timers_;
  std::map<Id, Clock::time_point> when_;  // GUARDED_BY(mu_)
  Id next_id_ = 1;                        // GUARDED_BY(mu_)
  bool stopping_ = false;                 // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace agentry
