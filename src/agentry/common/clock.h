// Wall-clock time in milliseconds since the Unix epoch, and RFC 3339 text.
//
// Clock is an interface so tests can drive time; SystemClock is the real one.
// All functions here are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentry {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since 1970-01-01T00:00:00Z.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// "2026-11-22T19:52:00.123Z" (UTC, always milliseconds).
std::string FormatRfc3339Ms(int64_t epoch_ms);
// The same, appended to `out`.
void AppendRfc3339Ms(std::string& out, int64_t epoch_ms);

// Parses an RFC 3339 timestamp ("…Z" or "…+hh:mm", optional fraction).
// Returns nullopt when the text is not one.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace agentry
