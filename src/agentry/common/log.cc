#include "agentry/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "agentry/common/clock.h"

namespace agentry::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    // Lines are buffered and flushed every second, and at once for warnings
    // and errors: an access-log line must not cost a system call.
    std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("agentry", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::warn);
    spdlog::register_logger(l);
    spdlog::flush_every(std::chrono::seconds(1));
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum SpdLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    default:
      return spdlog::level::err;
  }
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error",
                                            "off"};

}  // namespace

bool ParseLevel(std::string_view text, Level* out) {
  for (int i = 0; i < 5; ++i) {
    if (text == kLevelNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void Init(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  Logger();
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed) &&
         level != Level::kOff;
}

void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
      }
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else {
      // Copy a valid UTF-8 sequence; replace an invalid byte with U+FFFD.
      size_t len = (c >> 5) == 0x6    ? 2
                   : (c >> 4) == 0xe  ? 3
                   : (c >> 3) == 0x1e ? 4
                                      : 0;
      bool valid = len != 0 && i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (valid) {
        out.append(s.substr(i, len));
        i += len;
      } else {
        out += "\\ufffd";
        ++i;
      }
    }
  }
}

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  line += FormatRfc3339Ms(SystemClock().NowMs());
  line += "\",\"level\":\"";
  line += kLevelNames[static_cast<int>(level)];
  line += "\",\"msg\":\"";
  AppendJsonEscaped(line, msg);
  line.push_back('"');
  for (const Field& f : fields) {
    line += ",\"";
    AppendJsonEscaped(line, f.key);
    line += "\":";
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      line.push_back('"');
      AppendJsonEscaped(line, *s);
      line.push_back('"');
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      line += std::to_string(*i);
    } else if (auto* d = std::get_if<double>(&f.value)) {
      if (std::isfinite(*d)) {
        line += fmt::format("{:.6g}", *d);
      } else {
        line += "null";
      }
    } else {
      line += std::get<bool>(f.value) ? "true" : "false";
    }
  }
  line.push_back('}');
  Logger().log(SpdLevel(level), line);
}

void Flush() { Logger().flush(); }

void Shutdown() {
  Logger().flush();
  spdlog::shutdown();
}

}  // namespace agentry::log
