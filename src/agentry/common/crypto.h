// Thin wrappers over libsodium: randomness, key hashing, constant-time
// comparison, base64 and authenticated encryption (SecretBox). Call
// InitCrypto() once before any other function (Application does);
// afterwards everything here is thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

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

// The same 64 hex digits written into `out` (no allocation).
void HashSecretHexInto(std::string_view secret, char (&out)[64]);

// The same digest, its 32 bytes raw (the hot path: no hex to write).
void HashSecretInto(std::string_view secret, unsigned char (&out)[32]);

// The bytes a hex string spells (either case); nullopt when it is not hex.
std::optional<std::string> HexDecode(std::string_view hex);

// Compares in time that depends only on the lengths, never on the contents.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// URL-safe base64 without padding, and its inverse (nullopt when invalid).
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Standard base64 with padding, and its inverse (nullopt when invalid).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Authenticated encryption of short secrets at rest: XChaCha20-Poly1305
// (libsodium crypto_aead_xchacha20poly1305_ietf) under one 32-byte key, with
// a fresh random 192-bit nonce per message (safe to seal any number of
// values under one key). A const SecretBox is thread-safe; copies and moves
// are cheap, and every copy wipes its key when destroyed.
class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // kInvalidRequest unless `key` is exactly kKeyBytes raw bytes. The
  // message never includes the key.
  static Result<SecretBox> FromKey(std::string_view key);

  SecretBox(const SecretBox&) = default;
  SecretBox(SecretBox&&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  SecretBox& operator=(SecretBox&&) = default;
  ~SecretBox();

  // "v1." + base64url(24-byte random nonce || ciphertext || 16-byte tag),
  // ASCII without padding. `ad` (associated data, e.g. the owner's id) is
  // authenticated but not stored: Open needs the same `ad`. Two seals of one
  // plaintext differ.
  std::string Seal(std::string_view plaintext, std::string_view ad) const;

  // The plaintext of Seal's output. kInternal when `sealed` is malformed,
  // was sealed under another key or another `ad`, or was altered; the
  // message never includes the plaintext, the key or the sealed text.
  Result<std::string> Open(std::string_view sealed, std::string_view ad) const;

 private:
  SecretBox() = default;

  std::array<unsigned char, kKeyBytes> key_{};
};

// True when `text` has the shape of SecretBox::Seal's output: "v1." then
// base64url long enough for a nonce and a tag. Says nothing about which key
// sealed it.
bool LooksSealed(std::string_view text);

// Overwrites the bytes of `s` with zeros (not optimised away), e.g. before a
// copy of a secret is freed.
void WipeString(std::string& s);

}  // namespace agentry
