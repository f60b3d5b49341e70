#include "agentry/common/crypto.h"

#include <sodium.h>

#include <algorithm>
#include <string>

namespace agentry {

bool InitCrypto() { return sodium_init() >= 0; }

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::string RandomAlnum(size_t n) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = kAlphabet[randombytes_uniform(62)];  // unbiased
  }
  return out;
}

void HashSecretInto(std::string_view secret, unsigned char (&out)[32]) {
  crypto_generichash(out, sizeof(out),
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      end != hex.data() + hex.size() || len != out.size()) {
    return std::nullopt;
  }
  return out;
}

void HashSecretHexInto(std::string_view secret, char (&out)[64]) {
  unsigned char digest[32];
  HashSecretInto(secret, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(digest); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
}

std::string HashSecretHex(std::string_view secret) {
  char hex[64];
  HashSecretHexInto(secret, hex);
  return std::string(hex, sizeof(hex));
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

std::string Encode(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

std::optional<std::string> Decode(std::string_view text, int variant) {
  std::string out(text.size(), '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &len,
                        &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  return Encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::string> Base64UrlDecode(std::string_view text) {
  return Decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::string Base64Encode(std::string_view bytes) {
  return Encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}
std::optional<std::string> Base64Decode(std::string_view text) {
  return Decode(text, sodium_base64_VARIANT_ORIGINAL);
}

// ---------------------------------------------------------------- SecretBox

namespace {

constexpr std::string_view kSealedPrefix = "v1.";
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(SecretBox::kKeyBytes ==
              crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The nonce || ciphertext || tag of a sealed text; nullopt when `sealed` is
// not one.
std::optional<std::string> SealedPayload(std::string_view sealed) {
  if (!sealed.starts_with(kSealedPrefix)) return std::nullopt;
  std::optional<std::string> raw =
      Base64UrlDecode(sealed.substr(kSealedPrefix.size()));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  return raw;
}

}  // namespace

Result<SecretBox> SecretBox::FromKey(std::string_view key) {
  if (key.size() != kKeyBytes) {
    return Status::InvalidRequest("an encryption key must be exactly " +
                                  std::to_string(kKeyBytes) + " bytes, not " +
                                  std::to_string(key.size()));
  }
  SecretBox box;
  std::copy(key.begin(), key.end(), box.key_.begin());
  return box;
}

void WipeString(std::string& s) { sodium_memzero(s.data(), s.size()); }

SecretBox::~SecretBox() { sodium_memzero(key_.data(), key_.size()); }

std::string SecretBox::Seal(std::string_view plaintext,
                            std::string_view ad) const {
  std::string raw(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(raw.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &written, Bytes(plaintext), plaintext.size(),
      Bytes(ad), ad.size(), nullptr, nonce, key_.data());
  raw.resize(kNonceBytes + written);
  std::string out(kSealedPrefix);
  out += Base64UrlEncode(raw);
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed,
                                    std::string_view ad) const {
  std::optional<std::string> raw = SealedPayload(sealed);
  if (!raw) return Status::Internal("a sealed secret is malformed");
  const auto* nonce = Bytes(*raw);
  const size_t cipher_bytes = raw->size() - kNonceBytes;
  std::string plain(cipher_bytes - kTagBytes, '\0');
  unsigned long long read = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &read, nullptr,
          nonce + kNonceBytes, cipher_bytes, Bytes(ad), ad.size(), nonce,
          key_.data()) != 0) {
    return Status::Internal(
        "a sealed secret does not open: another key or owner sealed it, or "
        "it was altered");
  }
  plain.resize(read);
  return plain;
}

bool LooksSealed(std::string_view text) {
  return SealedPayload(text).has_value();
}

}  // namespace agentry
