// Structured logging: one JSON object a line on standard output
// ({"ts":…,"level":…,"msg":…, fields…}), written through spdlog. Lines are
// buffered and flushed every second, at once for warnings and errors, and by
// Flush().
//
// Never pass a key, credential, cookie value or other secret as a field.
// Thread-safe after Init(); before Init() messages go to a default logger at
// level info.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace agentry::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v)
      : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v)
      : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  Field(std::string_view k, unsigned v) : key(k), value(int64_t{v}) {}
  Field(std::string_view k, uint64_t v)
      : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}

  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;
};

// Parses "debug", "info", "warn", "error" or "off".
bool ParseLevel(std::string_view text, Level* out);

// Sets the minimum level written.
void Init(Level level);

bool Enabled(Level level);

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, msg, f);
}

// Appends `s` to `out` as the contents of a JSON string (no quotes),
// escaping quotes, backslashes, control characters and invalid UTF-8 bytes.
void AppendJsonEscaped(std::string& out, std::string_view s);

// Flushes buffered lines.
void Flush();

// Flushes and stops the background flusher (once, before exit).
void Shutdown();

}  // namespace agentry::log
