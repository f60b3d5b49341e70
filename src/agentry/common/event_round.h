// Wake-ups deferred to the end of an event loop's round.
//
// An event loop thread (the HTTP server's I/O threads) handles the events
// that are ready, one handler after another, then blocks for more; one such
// pass is a round. A loop that marks its thread with a Round lets code that
// hands work to another thread (the SQLite group-commit writer) defer its
// wake-up of that thread to the end of the round: the work the round
// produces then reaches the other thread as one batch, and that thread is
// not woken once per item only to find the core busy with the rest of the
// round. Off a marked thread nothing is deferred.
//
// Usage (the loop): the Round tells the loop when the first wake-up of a
// round is deferred; the loop then queues a handler behind the ready ones
// that calls End() — or queues itself again while the handlers before it
// kept deferring (deferrals() grew), for a bounded time:
//   EventRound round(&ScheduleEnd, &loop);  // marks this thread
//   io.run();
// Usage (the producer), after queueing work for another thread:
//   if (!EventRound::Defer(&WakeThunk, this)) WakeNow();
//
// A deferred wake-up runs at most once per round however often it was
// deferred, on the loop's thread, at End() or when the Round is destroyed.
// What it refers to must outlive the round. Wake-ups must not block.
// Not copyable; one Round per thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace agentry {

class EventRound {
 public:
  using WakeFn = void (*)(void*);

  // `on_first_defer(arg)`, if given, runs on this thread when a wake-up is
  // deferred while none is pending (the start of a round).
  explicit EventRound(WakeFn on_first_defer = nullptr, void* arg = nullptr);
  ~EventRound();  // End()s, then unmarks the thread
  EventRound(const EventRound&) = delete;
  EventRound& operator=(const EventRound&) = delete;

  // Whether a wake-up waits for End().
  bool Pending() const { return !pending_.empty(); }
  // Runs each deferred wake-up once, in the order first deferred.
  void End();
  // Defer calls so far (each counts, deduplicated or not).
  uint64_t deferrals() const { return deferrals_; }

  // Defers `fn(arg)` to the end of the calling thread's round; false when
  // the thread has no Round (the caller must wake at once).
  static bool Defer(WakeFn fn, void* arg);

 private:
  WakeFn on_first_defer_;
  void* arg_;
  uint64_t deferrals_ = 0;
  std::vector<std::pair<WakeFn, void*>> pending_;
  std::vector<std::pair<WakeFn, void*>> running_;  // End()'s batch, reused
};

}  // namespace agentry
