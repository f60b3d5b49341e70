#include "agentry/common/crypto.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace agentry {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

std::string AllBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

TEST_F(CryptoTest, InitCryptoIsIdempotent) {
  EXPECT_TRUE(InitCrypto());
  EXPECT_TRUE(InitCrypto());
}

TEST_F(CryptoTest, RandomBytes) {
  EXPECT_EQ(RandomBytes(0), "");
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure
}

TEST_F(CryptoTest, RandomAlnumLengthAndAlphabet) {
  EXPECT_EQ(RandomAlnum(0), "");
  EXPECT_EQ(RandomAlnum(1).size(), 1u);
  std::set<char> seen;
  for (int round = 0; round < 50; ++round) {
    const std::string s = RandomAlnum(100);
    ASSERT_EQ(s.size(), 100u);
    for (char c : s) {
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z'))
          << static_cast<int>(c);
      seen.insert(c);
    }
  }
  // 5,000 draws from 62 characters cover the alphabet (the chance that one
  // is missing is about 62 * (61/62)^5000, negligible).
  EXPECT_EQ(seen.size(), 62u);
  EXPECT_NE(RandomAlnum(32), RandomAlnum(32));
}

TEST_F(CryptoTest, HashSecretHexKnownVectors) {
  // BLAKE2b with a 32-byte digest, no key.
  EXPECT_EQ(HashSecretHex("abc"),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(HashSecretHex(""),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(HashSecretHex("The quick brown fox jumps over the lazy dog"),
            "01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9");
}

TEST_F(CryptoTest, HashSecretHexShapeAndBinaryInput) {
  const std::string h = HashSecretHex(std::string("a\0b", 3));
  ASSERT_EQ(h.size(), 64u);
  for (char c : h) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  // The NUL byte and what follows are hashed too.
  EXPECT_NE(h, HashSecretHex("a"));
  EXPECT_EQ(h, HashSecretHex(std::string("a\0b", 3)));
}

TEST_F(CryptoTest, HashSecretIntoIsTheRawDigestTheHexSpells) {
  for (std::string_view secret :
       {"", "abc", "a key of forty characters, near enough"}) {
    unsigned char raw[32];
    HashSecretInto(secret, raw);
    const std::string bytes(reinterpret_cast<const char*>(raw), sizeof(raw));
    EXPECT_EQ(HexDecode(HashSecretHex(secret)), bytes) << secret;
  }
}

TEST_F(CryptoTest, HexDecode) {
  EXPECT_EQ(HexDecode(""), "");
  EXPECT_EQ(HexDecode("00ff7A"), std::string("\x00\xff\x7a", 3));
  EXPECT_EQ(HexDecode("0"), std::nullopt);     // odd length
  EXPECT_EQ(HexDecode("0g"), std::nullopt);    // not hex
  EXPECT_EQ(HexDecode("00 1"), std::nullopt);  // a space
  EXPECT_EQ(HexDecode("zz00"), std::nullopt);
}

TEST_F(CryptoTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_TRUE(ConstantTimeEqual("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "Secret"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "secrets"));
  EXPECT_FALSE(ConstantTimeEqual("", "x"));
  EXPECT_FALSE(ConstantTimeEqual("x", ""));
  EXPECT_TRUE(
      ConstantTimeEqual(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(
      ConstantTimeEqual(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST_F(CryptoTest, Base64KnownVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("\xfb\xff\xfe"), "+//+");
  EXPECT_EQ(Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode(""), "");
}

TEST_F(CryptoTest, Base64UrlKnownVectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xfe"), "-__-");
  EXPECT_EQ(Base64UrlDecode("-__-"), "\xfb\xff\xfe");
  EXPECT_EQ(Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(Base64UrlDecode(""), "");
}

TEST_F(CryptoTest, Base64RoundTrips) {
  const std::string all = AllBytes();
  for (size_t n = 0; n <= all.size(); n += 7) {
    const std::string in = all.substr(0, n);
    EXPECT_EQ(Base64Decode(Base64Encode(in)), in) << n;
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(in)), in) << n;
  }
  for (int i = 0; i < 20; ++i) {
    const std::string key = RandomBytes(32);
    const std::string text = Base64Encode(key);
    EXPECT_EQ(text.size(), 44u);
    EXPECT_EQ(Base64Decode(text), key);
    const std::string url = Base64UrlEncode(key);
    EXPECT_EQ(url.size(), 43u);
    EXPECT_EQ(url.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(url), key);
  }
}

TEST_F(CryptoTest, Base64RefusesInvalidInput) {
  EXPECT_EQ(Base64Decode("Zg"), std::nullopt);         // padding missing
  EXPECT_EQ(Base64Decode("Zg="), std::nullopt);        // padding short
  EXPECT_EQ(Base64Decode("Z"), std::nullopt);          // truncated
  EXPECT_EQ(Base64Decode("Zm9v!"), std::nullopt);      // not in the alphabet
  EXPECT_EQ(Base64Decode("Zm9v YmFy"), std::nullopt);  // whitespace
  EXPECT_EQ(Base64Decode("-__-"), std::nullopt);       // URL alphabet
  EXPECT_EQ(Base64Decode("Zg==Zg=="), std::nullopt);   // data after padding
  EXPECT_EQ(Base64Decode("Zm9vYmFy\n"), std::nullopt);
}

TEST_F(CryptoTest, Base64UrlRefusesInvalidInput) {
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);  // padding not allowed
  EXPECT_EQ(Base64UrlDecode("+//+"), std::nullopt);  // standard alphabet
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);     // truncated
  EXPECT_EQ(Base64UrlDecode("Zm9v!"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm 9v"), std::nullopt);
}

// ---------------------------------------------------------------- SecretBox

SecretBox Box(const std::string& key) {
  Result<SecretBox> box = SecretBox::FromKey(key);
  EXPECT_TRUE(box.ok()) << box.status().ToString();
  return std::move(box).value();
}

TEST_F(CryptoTest, SecretBoxNeedsA32ByteKey) {
  EXPECT_TRUE(SecretBox::FromKey(RandomBytes(32)).ok());
  for (size_t n : {0, 1, 16, 31, 33, 64}) {
    const std::string key = RandomBytes(n);
    Result<SecretBox> box = SecretBox::FromKey(key);
    ASSERT_FALSE(box.ok()) << n;
    EXPECT_EQ(box.status().code(), ErrorCode::kInvalidRequest);
    if (n >= 16) {  // the message never shows the key
      EXPECT_EQ(box.status().message().find(key), std::string::npos);
    }
  }
}

TEST_F(CryptoTest, SecretBoxRoundTrip) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string sealed = box.Seal("hunter2", "org/profile");
  EXPECT_TRUE(sealed.starts_with("v1.")) << sealed;
  EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
  // base64url only, so it sits in JSON and SQL text unescaped.
  for (char c : sealed.substr(3)) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
        << c;
  }
  Result<std::string> opened = box.Open(sealed, "org/profile");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "hunter2");
  EXPECT_TRUE(LooksSealed(sealed));
}

TEST_F(CryptoTest, SecretBoxBinaryPlaintextAndEmptyAd) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string all = AllBytes();
  Result<std::string> opened = box.Open(box.Seal(all, ""), "");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, all);
}

TEST_F(CryptoTest, SecretBoxUsesARandomNonce) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string a = box.Seal("same", "ad");
  const std::string b = box.Seal("same", "ad");
  EXPECT_NE(a, b);
  // Different nonces, so the first 24 bytes differ too.
  EXPECT_NE(Base64UrlDecode(a.substr(3))->substr(0, 24),
            Base64UrlDecode(b.substr(3))->substr(0, 24));
  EXPECT_EQ(*box.Open(a, "ad"), "same");
  EXPECT_EQ(*box.Open(b, "ad"), "same");
}

TEST_F(CryptoTest, SecretBoxEmptyPlaintext) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string sealed = box.Seal("", "ad");
  // Nonce and tag only: 40 bytes, 54 base64url characters.
  EXPECT_EQ(sealed.size(), 3u + 54u);
  EXPECT_TRUE(LooksSealed(sealed));
  Result<std::string> opened = box.Open(sealed, "ad");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "");
}

TEST_F(CryptoTest, SecretBoxLargePlaintext) {
  const SecretBox box = Box(RandomBytes(32));
  std::string big = RandomBytes(16 * 1024);
  const std::string sealed = box.Seal(big, "ad");
  EXPECT_EQ(Base64UrlDecode(sealed.substr(3))->size(), 24 + big.size() + 16);
  Result<std::string> opened = box.Open(sealed, "ad");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, big);
}

void ExpectRefused(const Result<std::string>& r, std::string_view secret) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
  EXPECT_EQ(r.status().message().find(secret), std::string::npos)
      << r.status().message();
}

TEST_F(CryptoTest, SecretBoxRefusesAnotherKey) {
  const std::string key = RandomBytes(32);
  const SecretBox box = Box(key);
  std::string other_key = key;
  other_key[31] ^= 1;
  const SecretBox other = Box(other_key);
  const std::string sealed = box.Seal("top secret", "ad");
  ExpectRefused(other.Open(sealed, "ad"), "top secret");
  ExpectRefused(Box(RandomBytes(32)).Open(sealed, "ad"), "top secret");
}

TEST_F(CryptoTest, SecretBoxRefusesAnotherAd) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string sealed = box.Seal("top secret", "org-a/prof-1");
  ExpectRefused(box.Open(sealed, "org-a/prof-2"), "top secret");
  ExpectRefused(box.Open(sealed, "org-b/prof-1"), "top secret");
  ExpectRefused(box.Open(sealed, ""), "top secret");
  EXPECT_TRUE(box.Open(sealed, "org-a/prof-1").ok());
}

TEST_F(CryptoTest, SecretBoxRefusesEveryFlippedByte) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string sealed = box.Seal("top secret", "ad");
  const std::string raw = *Base64UrlDecode(sealed.substr(3));
  // Nonce, ciphertext and tag: every byte is authenticated.
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] ^= 0x01;
    ExpectRefused(box.Open("v1." + Base64UrlEncode(tampered), "ad"),
                  "top secret");
  }
  // Truncated or extended.
  ExpectRefused(
      box.Open("v1." + Base64UrlEncode(raw.substr(0, raw.size() - 1)), "ad"),
      "top secret");
  ExpectRefused(box.Open("v1." + Base64UrlEncode(raw + "x"), "ad"),
                "top secret");
}

TEST_F(CryptoTest, SecretBoxRefusesMalformedText) {
  const SecretBox box = Box(RandomBytes(32));
  const std::string sealed = box.Seal("top secret", "ad");
  const std::string body = sealed.substr(3);
  const std::string short_body = Base64UrlEncode(std::string(39, 'x'));
  for (const std::string& bad : {
           std::string(""), std::string("v1."), std::string("v1"),
           std::string("top secret"),
           "v2." + body,         // unknown version
           "V1." + body,         // prefix is case-sensitive
           body,                 // no prefix
           "v1." + body + "=",   // padding
           "v1." + body + "\n",  // trailing newline
           "v1. " + body,        // whitespace
           "v1." + Base64Encode(*Base64UrlDecode(body)) + "+/",  // alphabet
           "v1." + short_body,  // shorter than a nonce and a tag
       }) {
    EXPECT_FALSE(LooksSealed(bad)) << bad;
    ExpectRefused(box.Open(bad, "ad"), "top secret");
  }
}

TEST_F(CryptoTest, SecretBoxCopiesAndMovesKeepTheKey) {
  const std::string key = RandomBytes(32);
  SecretBox box = Box(key);
  const std::string sealed = box.Seal("value", "ad");
  SecretBox copy = box;
  EXPECT_EQ(*copy.Open(sealed, "ad"), "value");
  SecretBox moved = std::move(copy);
  EXPECT_EQ(*moved.Open(sealed, "ad"), "value");
  SecretBox assigned = Box(RandomBytes(32));
  assigned = box;
  EXPECT_EQ(*assigned.Open(sealed, "ad"), "value");
  // Another box from the same key bytes opens it too (a restart).
  EXPECT_EQ(*Box(key).Open(sealed, "ad"), "value");
}

}  // namespace
}  // namespace agentry
