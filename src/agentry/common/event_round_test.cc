#include "agentry/common/event_round.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace agentry {
namespace {

void Record(void* arg) { static_cast<std::vector<int>*>(arg)->push_back(1); }

struct Counter {
  int runs = 0;
  static void Wake(void* self) { ++static_cast<Counter*>(self)->runs; }
};

TEST(EventRoundTest, WithoutARoundNothingIsDeferred) {
  Counter c;
  EXPECT_FALSE(EventRound::Defer(&Counter::Wake, &c));
  EXPECT_EQ(c.runs, 0);
}

TEST(EventRoundTest, EachWakeRunsOncePerRoundAtItsEnd) {
  Counter a, b;
  EventRound round;
  EXPECT_FALSE(round.Pending());
  EXPECT_TRUE(EventRound::Defer(&Counter::Wake, &a));
  EXPECT_TRUE(EventRound::Defer(&Counter::Wake, &b));
  EXPECT_TRUE(EventRound::Defer(&Counter::Wake, &a));  // same: once
  EXPECT_TRUE(round.Pending());
  EXPECT_EQ(a.runs, 0);
  round.End();
  EXPECT_EQ(a.runs, 1);
  EXPECT_EQ(b.runs, 1);
  EXPECT_FALSE(round.Pending());
  round.End();  // nothing deferred: nothing runs
  EXPECT_EQ(a.runs, 1);
  EXPECT_TRUE(EventRound::Defer(&Counter::Wake, &a));
  round.End();
  EXPECT_EQ(a.runs, 2);
}

TEST(EventRoundTest, AWakeThatDefersAgainWaitsForTheNextEnd) {
  struct Again {
    EventRound* round;
    int runs = 0;
    static void Wake(void* self) {
      auto* me = static_cast<Again*>(self);
      if (++me->runs == 1) EXPECT_TRUE(EventRound::Defer(&Wake, me));
    }
  };
  EventRound round;
  Again again{&round};
  EventRound::Defer(&Again::Wake, &again);
  round.End();
  EXPECT_EQ(again.runs, 1);
  EXPECT_TRUE(round.Pending());
  round.End();
  EXPECT_EQ(again.runs, 2);
}

TEST(EventRoundTest, TheRoundEndsWhenDestroyedAndIsPerThread) {
  std::vector<int> ran;
  {
    EventRound round;
    EventRound::Defer(&Record, &ran);
    bool other_thread_defers = true;
    std::thread([&] {
      other_thread_defers = EventRound::Defer(&Record, &ran);
    }).join();
    EXPECT_FALSE(other_thread_defers);  // that thread has no round
    EXPECT_TRUE(ran.empty());
  }
  EXPECT_EQ(ran.size(), 1u);
  Counter c;
  EXPECT_FALSE(EventRound::Defer(&Counter::Wake, &c));  // unmarked again
}

TEST(EventRoundTest, TheLoopHearsOfTheFirstDeferralOfEachRound) {
  Counter started, a, b;
  EventRound round(&Counter::Wake, &started);
  EXPECT_EQ(round.deferrals(), 0u);
  EventRound::Defer(&Counter::Wake, &a);
  EXPECT_EQ(started.runs, 1);
  EventRound::Defer(&Counter::Wake, &b);
  EventRound::Defer(&Counter::Wake, &a);
  EXPECT_EQ(started.runs, 1);  // the round had already started
  EXPECT_EQ(round.deferrals(), 3u);
  round.End();
  EventRound::Defer(&Counter::Wake, &b);
  EXPECT_EQ(started.runs, 2);  // a new round
  round.End();
  EXPECT_EQ(a.runs, 1);
  EXPECT_EQ(b.runs, 2);
}

}  // namespace
}  // namespace agentry
