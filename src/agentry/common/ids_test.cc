#include "agentry/common/ids.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/crypto.h"

namespace agentry {
namespace {

class IdsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }

  // NewUuidV7 keeps process-wide monotonic state, so a test that checks the
  // embedded timestamp uses a millisecond later than any used before.
  static int64_t FreshMs() {
    static std::mutex mu;
    static int64_t next = 1'800'000'000'000;  // 2027
    std::lock_guard<std::mutex> lock(mu);
    next += 1'000'000;
    return next;
  }

  static int64_t TimestampOf(const std::string& uuid) {
    const std::string hex = uuid.substr(0, 8) + uuid.substr(9, 4);
    return static_cast<int64_t>(std::stoull(hex, nullptr, 16));
  }
};

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

TEST_F(IdsTest, UuidV7Format) {
  const std::string id = NewUuidV7(FreshMs());
  ASSERT_EQ(id.size(), 36u);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE(IsLowerHex(id[i])) << id << " at " << i;
    }
  }
  EXPECT_TRUE(IsUuid(id));
}

TEST_F(IdsTest, UuidV7VersionAndVariant) {
  for (int i = 0; i < 200; ++i) {
    const std::string id = NewUuidV7(FreshMs());
    EXPECT_EQ(id[14], '7') << id;  // version nibble
    const char v = id[19];         // variant: top bits 10
    EXPECT_TRUE(v == '8' || v == '9' || v == 'a' || v == 'b') << id;
  }
}

TEST_F(IdsTest, UuidV7EmbedsTheTimestamp) {
  const int64_t ms = FreshMs();
  const std::string id = NewUuidV7(ms);
  EXPECT_EQ(TimestampOf(id), ms);
  char prefix[16];
  std::snprintf(prefix, sizeof(prefix), "%012llx",
                static_cast<unsigned long long>(ms));
  EXPECT_EQ(id.substr(0, 8) + id.substr(9, 4), prefix);
}

TEST_F(IdsTest, UuidV7StrictlyIncreasingWithinOneMillisecond) {
  const int64_t ms = FreshMs();
  std::string prev = NewUuidV7(ms);
  EXPECT_EQ(TimestampOf(prev), ms);
  std::set<std::string> seen = {prev};
  for (int i = 1; i < 10000; ++i) {
    const std::string id = NewUuidV7(ms);
    ASSERT_GT(id, prev) << "call " << i;
    // The 12-bit counter overflows a few times over 10,000 calls and
    // borrows the following milliseconds.
    ASSERT_GE(TimestampOf(id), ms);
    ASSERT_LE(TimestampOf(id), ms + 10);
    EXPECT_EQ(id[14], '7');
    seen.insert(id);
    prev = id;
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST_F(IdsTest, UuidV7IncreasingWhenTheClockGoesBack) {
  const int64_t ms = FreshMs();
  const std::string first = NewUuidV7(ms);
  const std::string second = NewUuidV7(ms - 5000);
  EXPECT_GT(second, first);
  EXPECT_EQ(TimestampOf(second), ms);
}

TEST_F(IdsTest, UuidV7IncreasingAcrossMilliseconds) {
  const int64_t ms = FreshMs();
  std::string prev = NewUuidV7(ms);
  for (int i = 1; i <= 100; ++i) {
    const std::string id = NewUuidV7(ms + i);
    ASSERT_GT(id, prev);
    EXPECT_EQ(TimestampOf(id), ms + i);
    prev = id;
  }
}

TEST_F(IdsTest, UuidV7UniqueAcrossThreads) {
  const int64_t ms = FreshMs();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewUuidV7(ms));
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& list : ids) {
    for (size_t i = 1; i < list.size(); ++i) {
      ASSERT_GT(list[i], list[i - 1]);  // increasing within each thread
    }
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(NameBasedUuidTest, StableDistinctAndVersion8) {
  const std::string a = NameBasedUuid("agent-1/versions/1");
  EXPECT_EQ(a, NameBasedUuid("agent-1/versions/1"));
  EXPECT_NE(a, NameBasedUuid("agent-1/versions/2"));
  EXPECT_NE(a, NameBasedUuid(""));
  EXPECT_TRUE(IsUuid(a));
  EXPECT_EQ(a[14], '8');  // version
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

TEST(LowercaseUuidTest, LowersHexOnly) {
  EXPECT_EQ(LowercaseUuid("0193ABCD-EF01-7ABC-8DEF-0123456789AB"),
            "0193abcd-ef01-7abc-8def-0123456789ab");
  EXPECT_EQ(LowercaseUuid("GZ-az"), "GZ-az");
}

TEST(IsUuidTest, Accepts) {
  EXPECT_TRUE(IsUuid("01890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_TRUE(IsUuid("01890A5D-AC96-774B-BCCE-B302099A8057"));
  EXPECT_TRUE(IsUuid("01890a5d-AC96-774b-BCCE-b302099a8057"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(IsUuid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));  // v4
}

TEST(IsUuidTest, Refuses) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("01890a5d-ac96-774b-bcce-b302099a805"));    // 35
  EXPECT_FALSE(IsUuid("01890a5d-ac96-774b-bcce-b302099a80570"));  // 37
  EXPECT_FALSE(IsUuid("01890a5dac96774bbccEb302099a8057"));       // no dashes
  EXPECT_FALSE(IsUuid("01890a5d-ac96-774b-bcceb-302099a8057"));   // dash moved
  EXPECT_FALSE(IsUuid("01890a5d_ac96_774b_bcce_b302099a8057"));
  EXPECT_FALSE(IsUuid("01890a5g-ac96-774b-bcce-b302099a8057"));  // 'g'
  EXPECT_FALSE(IsUuid("01890a5d-ac96-774b-bcce-b302099a805 "));
  EXPECT_FALSE(IsUuid("{1890a5d-ac96-774b-bcce-b302099a805}"));
  EXPECT_FALSE(IsUuid("urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057"));
  EXPECT_FALSE(IsUuid("agt_01890a5dac96774bbcceb302099a80"));
}

TEST_F(IdsTest, NewPrefixedId) {
  const std::string id = NewPrefixedId("agt_", 24);
  ASSERT_EQ(id.size(), 28u);
  EXPECT_EQ(id.substr(0, 4), "agt_");
  for (char c : id.substr(4)) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                (c >= 'A' && c <= 'Z'))
        << id;
  }
  EXPECT_NE(NewPrefixedId("agt_", 24), NewPrefixedId("agt_", 24));
  EXPECT_EQ(NewPrefixedId("", 10).size(), 10u);
  EXPECT_EQ(NewPrefixedId("key_", 0), "key_");
}

}  // namespace
}  // namespace agentry
