// Thin wrappers over libsodium: randomness, key hashing, constant-time
// comparison and base64. Call InitCrypto() once before any other function
// (Application does); afterwards everything here is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentry {

// Initialises libsodium. Returns false when it cannot (start-up failure).
bool InitCrypto();

// `n` cryptographically random bytes.
std::string RandomBytes(size_t n);

// A random string of `n` characters from [0-9A-Za-z].
std::string RandomAlnum(size_t n);

// Hex of BLAKE2b-256 of `secret`. API keys carry 190+ bits of entropy, so a
// fast keyed-free hash is the right tool (no password stretching needed).
std::string HashSecretHex(std::string_view secret);

// The same 64 hex digits written into `out` (no allocation: the hot path).
void HashSecretHexInto(std::string_view secret, char (&out)[64]);

// Compares in time that depends only on the lengths, never on the contents.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// URL-safe base64 without padding, and its inverse (nullopt when invalid).
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Standard base64 with padding, and its inverse (nullopt when invalid).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace agentry
