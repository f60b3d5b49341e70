#include "agentry/common/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace agentry {
namespace {

constexpr int64_t kDayMs = 86400000;

TEST(FormatRfc3339MsTest, Epoch) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(FormatRfc3339Ms(999), "1970-01-01T00:00:00.999Z");
  EXPECT_EQ(FormatRfc3339Ms(kDayMs - 1), "1970-01-01T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(kDayMs), "1970-01-02T00:00:00.000Z");
}

TEST(FormatRfc3339MsTest, KnownInstants) {
  EXPECT_EQ(FormatRfc3339Ms(1795377120123), "2026-11-22T19:52:00.123Z");
  EXPECT_EQ(FormatRfc3339Ms(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(946684800000), "2000-01-01T00:00:00.000Z");
}

TEST(FormatRfc3339MsTest, LeapYears) {
  // 2024 and 2000 are leap years; 2100 and 1900 are not.
  EXPECT_EQ(FormatRfc3339Ms(1709164800000), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1709164800000 + kDayMs),
            "2024-03-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(951827696000), "2000-02-29T12:34:56.000Z");
  EXPECT_EQ(FormatRfc3339Ms(4107542399000), "2100-02-28T23:59:59.000Z");
  EXPECT_EQ(FormatRfc3339Ms(4107542399000 + 1000), "2100-03-01T00:00:00.000Z");
  // 2023 is not a leap year: Feb 28 is followed by Mar 1.
  EXPECT_EQ(FormatRfc3339Ms(1677542400000), "2023-02-28T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1677542400000 + kDayMs),
            "2023-03-01T00:00:00.000Z");
  // Dec 31 of a leap year is day 366.
  EXPECT_EQ(FormatRfc3339Ms(1735603200000), "2024-12-31T00:00:00.000Z");
}

TEST(FormatRfc3339MsTest, AppendsAndHandlesYearsOutsideFourDigits) {
  std::string out = "at ";
  AppendRfc3339Ms(out, 1795377120123);
  EXPECT_EQ(out, "at 2026-11-22T19:52:00.123Z");
  // Before year 0 and after 9999: the slow path, same fields.
  EXPECT_EQ(FormatRfc3339Ms(253402300800000), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(-62167219200001).substr(4), "-12-31T23:59:59.999Z");
}

TEST(ParseRfc3339Test, Utc) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-22T19:52:00.123Z"), 1795377120123);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("2000-02-29T12:34:56Z"), 951827696000);
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59.999Z"), 253402300799999);
}

TEST(ParseRfc3339Test, LowercaseSeparators) {
  EXPECT_EQ(ParseRfc3339("2024-02-29t00:00:00z"), 1709164800000);
}

TEST(ParseRfc3339Test, Offsets) {
  EXPECT_EQ(ParseRfc3339("2024-02-29T05:30:00+05:30"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("2024-02-28T16:00:00-08:00"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00+00:00"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00-00:00"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.250+01:00"), -3600000 + 250);
}

TEST(ParseRfc3339Test, Fractions) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.05Z"), 1050);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.123Z"), 1123);
  // Digits beyond milliseconds are truncated.
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.123999Z"), 1123);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.123456789Z"), 1123);
}

TEST(ParseRfc3339Test, LeapSecondIsClamped) {
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z"),
            ParseRfc3339("2016-12-31T23:59:59Z"));
}

TEST(ParseRfc3339Test, BeforeTheEpoch) {
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.500Z"), -500);
  EXPECT_EQ(ParseRfc3339("1900-03-01T00:00:00Z"), -2203891200000);
}

TEST(ParseRfc3339Test, RoundTrip) {
  const int64_t samples[] = {0,
                             1,
                             999,
                             kDayMs - 1,
                             951782400000,  // 2000-02-29
                             1709164800000,
                             1709164800000 - 1,
                             1795377120123,
                             4107542399999,
                             253402300799999};
  for (int64_t ms : samples) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Ms(ms)), ms) << FormatRfc3339Ms(ms);
  }
  // Every day across several years, at an odd time of day.
  for (int64_t day = 10950; day < 10950 + 4 * 366; ++day) {
    const int64_t ms = day * kDayMs + 45296789;  // 12:34:56.789
    ASSERT_EQ(ParseRfc3339(FormatRfc3339Ms(ms)), ms) << FormatRfc3339Ms(ms);
  }
}

TEST(ParseRfc3339Test, InvalidDates) {
  EXPECT_EQ(ParseRfc3339("2024-02-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("1900-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-04-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-13-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-00-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-00T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-32T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T24:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:60:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:61Z"), std::nullopt);
}

TEST(ParseRfc3339Test, InvalidSyntax) {
  EXPECT_EQ(ParseRfc3339(""), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00"), std::nullopt);  // no zone
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00.123"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01 00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024/01/01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("24-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-1-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00.Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00ZZ"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00Z "), std::nullopt);
  EXPECT_EQ(ParseRfc3339(" 2024-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+0100"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+01"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+01:0"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+24:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+01:60"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00+01:00x"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:00:00UTC"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("abcd-ef-ghTij:kl:mnZ"), std::nullopt);
}

TEST(SystemClockTest, IsNearTheRealTime) {
  SystemClock clock;
  const int64_t before =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  const int64_t now = clock.NowMs();
  const int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
  EXPECT_GT(now, 1700000000000);  // after November 2023
}

}  // namespace
}  // namespace agentry
