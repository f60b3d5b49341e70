#include "agentry/common/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <vector>

namespace agentry {
namespace {

using std::chrono::milliseconds;

TEST(TimerQueueTest, RunsInDeadlineOrder) {
  TimerQueue q;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  const auto now = TimerQueue::Clock::now();
  q.Schedule(now + milliseconds(60), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(3);
    done.set_value();
  });
  q.Schedule(now + milliseconds(20), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(1);
  });
  q.Schedule(now + milliseconds(40), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(2);
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueTest, NotBeforeItsTime) {
  TimerQueue q;
  std::promise<TimerQueue::Clock::time_point> ran;
  const auto start = TimerQueue::Clock::now();
  q.ScheduleIn(50, [&] { ran.set_value(TimerQueue::Clock::now()); });
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_GE(f.get() - start, milliseconds(50));
}

TEST(TimerQueueTest, CancelledNeverRuns) {
  TimerQueue q;
  std::atomic<int> runs{0};
  const auto id = q.ScheduleIn(30, [&] { ++runs; });
  EXPECT_TRUE(q.Cancel(id));
  EXPECT_FALSE(q.Cancel(id));
  std::promise<void> later;
  q.ScheduleIn(60, [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  EXPECT_EQ(runs.load(), 0);
}

TEST(TimerQueueTest, CallbacksMayScheduleAndShutdownDropsPending) {
  std::atomic<int> runs{0};
  std::promise<void> second;
  {
    TimerQueue q;
    q.ScheduleIn(0, [&] {
      ++runs;
      q.ScheduleIn(0, [&] {
        ++runs;
        second.set_value();
      });
    });
    ASSERT_EQ(second.get_future().wait_for(std::chrono::seconds(5)),
              std::future_status::ready);
    q.ScheduleIn(60000, [&] { ++runs; });  // dropped by the destructor
  }
  EXPECT_EQ(runs.load(), 2);
  TimerQueue stopped;
  stopped.Shutdown();
  EXPECT_EQ(stopped.ScheduleIn(0, [] {}), 0u);
}

}  // namespace
}  // namespace agentry
