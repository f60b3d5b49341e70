#include "agentry/common/ids.h"

#include <sodium.h>

#include <mutex>

#include "agentry/common/crypto.h"

namespace agentry {

namespace {

// Monotonic state: within one millisecond the 12-bit rand_a field counts up
// from a random start, so ids sort in creation order.
std::mutex g_mu;
int64_t g_last_ms = -1;
uint16_t g_seq = 0;

// The 8-4-4-4-12 lowercase form of 16 bytes, with the RFC 9562 variant.
std::string FormatUuid(unsigned char b[16]) {
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string NewUuidV7(int64_t epoch_ms) {
  uint16_t seq;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (epoch_ms <= g_last_ms) {
      epoch_ms = g_last_ms;
      if (++g_seq > 0x0fff) {  // overflow: borrow the next millisecond
        ++epoch_ms;
        g_seq = static_cast<uint16_t>(randombytes_uniform(0x400));
      }
    } else {
      g_seq = static_cast<uint16_t>(randombytes_uniform(0x400));
    }
    g_last_ms = epoch_ms;
    seq = g_seq;
  }
  unsigned char b[16];
  const uint64_t ms = static_cast<uint64_t>(epoch_ms);
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | ((seq >> 8) & 0x0f));
  b[7] = static_cast<unsigned char>(seq & 0xff);
  randombytes_buf(b + 8, 8);
  return FormatUuid(b);
}

std::string NameBasedUuid(std::string_view name) {
  static constexpr unsigned char kDomain[] = "agentry name-based uuid v1";
  unsigned char b[16];
  crypto_generichash(b, sizeof b,
                     reinterpret_cast<const unsigned char*>(name.data()),
                     name.size(), kDomain, sizeof kDomain - 1);
  b[6] = static_cast<unsigned char>(0x80 | (b[6] & 0x0f));  // version 8
  return FormatUuid(b);
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string LowercaseUuid(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string NewPrefixedId(std::string_view prefix, size_t n) {
  return std::string(prefix) + RandomAlnum(n);
}

bool IsPrefixedId(std::string_view s, std::string_view prefix) {
  if (!s.starts_with(prefix) || s.size() == prefix.size()) return false;
  for (const char c : s.substr(prefix.size())) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace agentry
