#include "agentry/domain/profile.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentry/common/crypto.h"
#include "agentry/common/json.h"
#include "agentry/domain/test_util.h"

namespace agentry {
namespace {

namespace bj = boost::json;

using testing_util::ArrayOf;
using testing_util::Keys;
using testing_util::Parse;
using testing_util::Repeat;

// Normalizes `text`, which must be valid; returns the canonical document.
bj::object Normalize(std::string_view text) {
  return testing_util::NormalizeWith(NormalizeProfileConfig, text);
}

std::string Canonical(std::string_view text) {
  return json::Serialize(Normalize(text));
}

// Expects `status` to be kInvalidRequest naming `field`.
void ExpectInvalid(const Status& status, std::string_view field,
                   std::string_view context) {
  EXPECT_EQ(status.code(), ErrorCode::kInvalidRequest)
      << status.ToString() << " for " << context;
  EXPECT_EQ(status.field(), field) << status.ToString() << " for " << context;
}

// `text` must be refused with kInvalidRequest naming `field`; returns the
// message.
std::string Refused(std::string_view text, std::string_view field) {
  Result<bj::object> r = NormalizeProfileConfig(Parse(text));
  if (r.ok()) {
    ADD_FAILURE() << "accepted " << text << " as " << json::Serialize(*r);
    return "";
  }
  ExpectInvalid(r.status(), field, text);
  return r.status().message();
}

std::string PoolRefused(std::string_view text, std::string_view field) {
  Result<bj::object> r = NormalizePoolConfig(Parse(text));
  if (r.ok()) {
    ADD_FAILURE() << "accepted " << text << " as " << json::Serialize(*r);
    return "";
  }
  ExpectInvalid(r.status(), field, text);
  return r.status().message();
}

SecretBox TestBox() {
  static const std::string key = [] {
    EXPECT_TRUE(InitCrypto());
    return RandomBytes(SecretBox::kKeyBytes);
  }();
  return *SecretBox::FromKey(key);
}

// ---------------------------------------------------------------- profiles

TEST(ProfileConfigTest, DefaultsInCanonicalOrder) {
  const bj::object c = Normalize(R"({"name":"Account 1"})");
  EXPECT_EQ(Keys(c), (std::vector<std::string>{
                         "name", "description", "proxy", "sticky_ip",
                         "captcha_solver_active", "credentials", "cookies",
                         "metadata", "enabled"}));
  EXPECT_EQ(json::Serialize(c),
            R"({"name":"Account 1","description":"",)"
            R"("proxy":{"type":"basic","country":null},"sticky_ip":false,)"
            R"("captcha_solver_active":false,"credentials":[],"cookies":[],)"
            R"("metadata":{},"enabled":true})");
  std::vector<std::string> fields(std::begin(kProfileConfigFields),
                                  std::end(kProfileConfigFields));
  EXPECT_EQ(Keys(c), fields);
}

TEST(ProfileConfigTest, FullDocumentIsReorderedAndDefaultsFilled) {
  const std::string c = Canonical(R"({
    "enabled": false,
    "metadata": {"team": "growth", "tier": 2, "vip": true},
    "cookies": [{"http_only": true, "value": "abc", "name": "sid"}],
    "credentials": [{"data": "pw1", "name": "login"}],
    "captcha_solver_active": true,
    "sticky_ip": true,
    "proxy": {"country": "DE", "type": "residential"},
    "description": "line one\nline two",
    "name": "Shop account"
  })");
  EXPECT_EQ(c,
            R"({"name":"Shop account","description":"line one\nline two",)"
            R"("proxy":{"type":"residential","country":"DE"},)"
            R"("sticky_ip":true,"captcha_solver_active":true,)"
            R"("credentials":[{"name":"login","data":"pw1"}],)"
            R"("cookies":[{"name":"sid","value":"abc","domain":"","path":"/",)"
            R"("expires_at":null,"secure":false,"http_only":true}],)"
            R"("metadata":{"team":"growth","tier":2,"vip":true},)"
            R"("enabled":false})");
}

TEST(ProfileConfigTest, CanonicalIsAFixedPoint) {
  const bj::object once = Normalize(R"({
    "name": "x", "proxy": {"type": "mobile"},
    "credentials": [{"name": "a", "data": ""}],
    "cookies": [{"name": "c", "value": "v", "domain": ".example.com",
                 "path": "/app", "expires_at": "2030-01-02T05:04:05.5+02:00",
                 "secure": true}],
    "metadata": {"k": 1.5}
  })");
  Result<bj::object> twice = NormalizeProfileConfig(once);
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  EXPECT_EQ(json::Serialize(*twice), json::Serialize(once));
}

TEST(ProfileConfigTest, NullMeansDefault) {
  EXPECT_EQ(Canonical(R"({"name":"x","description":null,"proxy":null,)"
                      R"("sticky_ip":null,"captcha_solver_active":null,)"
                      R"("credentials":null,"cookies":null,"metadata":null,)"
                      R"("enabled":null})"),
            Canonical(R"({"name":"x"})"));
  EXPECT_EQ(Normalize(R"({"name":"x","proxy":{"type":null,"country":null}})")
                .at("proxy"),
            (bj::object{{"type", "basic"}, {"country", nullptr}}));
}

TEST(ProfileConfigTest, Name) {
  Refused(R"({})", "name");
  Refused(R"({"name":null})", "name");
  Refused(R"({"name":""})", "name");
  Refused(R"({"name":7})", "name");
  Refused(R"({"name":"a\nb"})", "name");
  Refused(R"({"name":"a\tb"})", "name");
  Refused(R"({"name":"a\u0000b"})", "name");
  EXPECT_EQ(Normalize(R"({"name":")" + Repeat("é", 255) + R"("})")
                .at("name")
                .get_string()
                .size(),
            510u);
  Refused(R"({"name":")" + Repeat("a", 256) + R"("})", "name");
}

TEST(ProfileConfigTest, Description) {
  EXPECT_EQ(
      Normalize(R"({"name":"x","description":")" + Repeat("d", 1024) + R"("})")
          .at("description")
          .get_string()
          .size(),
      1024u);
  Refused(R"({"name":"x","description":")" + Repeat("d", 1025) + R"("})",
          "description");
  Refused(R"({"name":"x","description":false})", "description");
  Refused(R"({"name":"x","description":"bell\u0007"})", "description");
}

TEST(ProfileConfigTest, Proxy) {
  for (const char* type : {"basic", "residential", "mobile"}) {
    EXPECT_EQ(Normalize(R"({"name":"x","proxy":{"type":")" + std::string(type) +
                        R"("}})")
                  .at("proxy")
                  .at("type"),
              type);
  }
  EXPECT_EQ(Normalize(R"({"name":"x","proxy":{"country":"US"}})").at("proxy"),
            (bj::object{{"type", "basic"}, {"country", "US"}}));
  EXPECT_EQ(Normalize(R"({"name":"x","proxy":{}})").at("proxy"),
            (bj::object{{"type", "basic"}, {"country", nullptr}}));

  Refused(R"({"name":"x","proxy":"basic"})", "proxy");
  Refused(R"({"name":"x","proxy":[]})", "proxy");
  const std::string type_message =
      Refused(R"({"name":"x","proxy":{"type":"datacenter"}})", "proxy.type");
  EXPECT_NE(type_message.find("\"residential\""), std::string::npos)
      << type_message;
  Refused(R"({"name":"x","proxy":{"type":"BASIC"}})", "proxy.type");
  Refused(R"({"name":"x","proxy":{"type":1}})", "proxy.type");
  Refused(R"({"name":"x","proxy":{"port":8080}})", "proxy.port");

  const std::string lower =
      Refused(R"({"name":"x","proxy":{"country":"us"}})", "proxy.country");
  EXPECT_NE(lower.find("upper case"), std::string::npos) << lower;
  EXPECT_NE(lower.find("\"US\""), std::string::npos) << lower;
  Refused(R"({"name":"x","proxy":{"country":"De"}})", "proxy.country");
  for (const char* bad : {R"("USA")", R"("U")", R"("")", R"("U1")", R"("Ü")",
                          R"(" US")", "1", "true", "{}"}) {
    Refused(R"({"name":"x","proxy":{"country":)" + std::string(bad) + "}}",
            "proxy.country");
  }
}

TEST(ProfileConfigTest, Booleans) {
  for (const char* name : {"sticky_ip", "captcha_solver_active", "enabled"}) {
    Refused(R"({"name":"x",")" + std::string(name) + R"(":"true"})", name);
    Refused(R"({"name":"x",")" + std::string(name) + R"(":1})", name);
    const bj::object c =
        Normalize(R"({"name":"x",")" + std::string(name) + R"(":true})");
    EXPECT_EQ(c.at(name), true) << name;
  }
}

TEST(ProfileConfigTest, Credentials) {
  Refused(R"({"name":"x","credentials":{}})", "credentials");
  Refused(R"({"name":"x","credentials":["a"]})", "credentials[0]");
  Refused(R"({"name":"x","credentials":[{"data":"d"}]})",
          "credentials[0].name");
  Refused(R"({"name":"x","credentials":[{"name":"","data":"d"}]})",
          "credentials[0].name");
  Refused(R"({"name":"x","credentials":[{"name":"a\nb","data":"d"}]})",
          "credentials[0].name");
  Refused(R"({"name":"x","credentials":[{"name":")" + Repeat("n", 256) +
              R"(","data":"d"}]})",
          "credentials[0].name");
  Refused(R"({"name":"x","credentials":[{"name":"a","data":"d"},)"
          R"({"name":"b"}]})",
          "credentials[1].data");
  Refused(R"({"name":"x","credentials":[{"name":"a","data":null}]})",
          "credentials[0].data");
  Refused(R"({"name":"x","credentials":[{"name":"a","data":{"k":"v"}}]})",
          "credentials[0].data");
  Refused(R"({"name":"x","credentials":[{"name":"a","data":"d",)"
          R"("kind":"password"}]})",
          "credentials[0].kind");
  Refused(R"({"name":"x","credentials":[{"name":"a","data":"d\u0001"}]})",
          "credentials[0].data");
  // Data is free text up to 16384 characters.
  const bj::object ok = Normalize(R"({"name":"x","credentials":[{"name":"a",)"
                                  R"("data":")" +
                                  Repeat("p", 16384) +
                                  R"("},)"
                                  R"({"name":"b","data":"l1\nl2\tx"}]})");
  EXPECT_EQ(ok.at("credentials").get_array().size(), 2u);
  Refused(R"({"name":"x","credentials":[{"name":"a","data":")" +
              Repeat("p", 16385) + R"("}]})",
          "credentials[0].data");

  // At most 64.
  auto credential = [](size_t i) {
    return R"({"name":"c)" + std::to_string(i) + R"(","data":"d"})";
  };
  EXPECT_EQ(
      Normalize(R"({"name":"x","credentials":)" + ArrayOf(64, credential) + "}")
          .at("credentials")
          .get_array()
          .size(),
      64u);
  Refused(R"({"name":"x","credentials":)" + ArrayOf(65, credential) + "}",
          "credentials");
}

TEST(ProfileConfigTest, DuplicateCredentialNames) {
  const std::string message =
      Refused(R"({"name":"x","credentials":[{"name":"a","data":"1"},)"
              R"({"name":"b","data":"2"},{"name":"a","data":"3"}]})",
              "credentials[2].name");
  EXPECT_NE(message.find("credentials[0].name"), std::string::npos) << message;
  // Names are compared exactly.
  EXPECT_EQ(Normalize(R"({"name":"x","credentials":[{"name":"a","data":"1"},)"
                      R"({"name":"A","data":"2"}]})")
                .at("credentials")
                .get_array()
                .size(),
            2u);
}

TEST(ProfileConfigTest, Cookies) {
  Refused(R"({"name":"x","cookies":"sid=1"})", "cookies");
  Refused(R"({"name":"x","cookies":[null]})", "cookies[0]");
  Refused(R"({"name":"x","cookies":[{"value":"v"}]})", "cookies[0].name");
  Refused(R"({"name":"x","cookies":[{"name":"","value":"v"}]})",
          "cookies[0].name");
  Refused(R"({"name":"x","cookies":[{"name":"s"}]})", "cookies[0].value");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":1}]})",
          "cookies[0].value");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"a\nb"}]})",
          "cookies[0].value");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":")" +
              Repeat("v", 16385) + R"("}]})",
          "cookies[0].value");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"v","domain":")" +
              Repeat("d", 256) + R"("}]})",
          "cookies[0].domain");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"v","path":")" +
              Repeat("p", 1025) + R"("}]})",
          "cookies[0].path");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"v","secure":"yes"}]})",
          "cookies[0].secure");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"v","http_only":0}]})",
          "cookies[0].http_only");
  Refused(R"({"name":"x","cookies":[{"name":"s","value":"v","max_age":60}]})",
          "cookies[0].max_age");

  const bj::object c =
      Normalize(R"({"name":"x","cookies":[{"name":"s","value":"",)"
                R"("domain":".example.com","path":"/a","secure":true,)"
                R"("http_only":true,"expires_at":null}]})");
  EXPECT_EQ(json::Serialize(c.at("cookies")),
            R"([{"name":"s","value":"","domain":".example.com","path":"/a",)"
            R"("expires_at":null,"secure":true,"http_only":true}])");

  auto cookie = [](size_t i) {
    return R"({"name":"c)" + std::to_string(i) + R"(","value":"v"})";
  };
  EXPECT_EQ(Normalize(R"({"name":"x","cookies":)" + ArrayOf(256, cookie) + "}")
                .at("cookies")
                .get_array()
                .size(),
            256u);
  Refused(R"({"name":"x","cookies":)" + ArrayOf(257, cookie) + "}", "cookies");
}

std::string ExpiresAt(std::string_view text) {
  const bj::object c = Normalize(
      R"({"name":"x","cookies":[{"name":"s","value":"v","expires_at":)" +
      std::string(text) + "}]}");
  return json::Serialize(c.at("cookies").at(0).at("expires_at"));
}

TEST(ProfileConfigTest, CookieExpiresAtIsNormalizedToUtcMilliseconds) {
  EXPECT_EQ(ExpiresAt(R"("2030-01-02T03:04:05Z")"),
            R"("2030-01-02T03:04:05.000Z")");
  EXPECT_EQ(ExpiresAt(R"("2030-01-02T03:04:05.123456789z")"),
            R"("2030-01-02T03:04:05.123Z")");
  EXPECT_EQ(ExpiresAt(R"("2030-01-02t05:34:05.5+02:30")"),
            R"("2030-01-02T03:04:05.500Z")");
  EXPECT_EQ(ExpiresAt(R"("2029-12-31T23:00:00-05:00")"),
            R"("2030-01-01T04:00:00.000Z")");
  EXPECT_EQ(ExpiresAt(R"("1969-12-31T23:59:59Z")"),
            R"("1969-12-31T23:59:59.000Z")");
  EXPECT_EQ(ExpiresAt("null"), "null");

  for (const char* bad :
       {R"("2030-01-02")", R"("2030-01-02 03:04:05Z")",
        R"("2030-01-02T03:04:05")", R"("2030-02-30T00:00:00Z")",
        R"("2030-13-01T00:00:00Z")", R"("2030-01-02T03:04:05+2:00")",
        R"("tomorrow")", R"("")", "1893553445", "true",
        // An offset pushing the time out of years 0000–9999.
        R"("0000-01-01T00:30:00+01:00")", R"("9999-12-31T23:30:00-01:00")"}) {
    Refused(R"({"name":"x","cookies":[{"name":"s","value":"v",)"
            R"("expires_at":)" +
                std::string(bad) + "}]}",
            "cookies[0].expires_at");
  }
}

TEST(ProfileConfigTest, Metadata) {
  EXPECT_EQ(json::Serialize(
                Normalize(R"({"name":"x","metadata":{"a":"s","b":1,"c":2.5,)"
                          R"("d":false}})")
                    .at("metadata")),
            R"({"a":"s","b":1,"c":2.5,"d":false})");
  Refused(R"({"name":"x","metadata":[]})", "metadata");
  Refused(R"({"name":"x","metadata":"k=v"})", "metadata");
  Refused(R"({"name":"x","metadata":{"a":null}})", "metadata.a");
  Refused(R"({"name":"x","metadata":{"a":[]}})", "metadata.a");
  Refused(R"({"name":"x","metadata":{"a":{"b":1}}})", "metadata.a");
  Refused(R"({"name":"x","metadata":{"a":")" + Repeat("v", 1025) + R"("}})",
          "metadata.a");
  Refused(R"({"name":"x","metadata":{"":1}})", "metadata");
  Refused(R"({"name":"x","metadata":{")" + Repeat("k", 65) + R"(":1}})",
          "metadata");
  auto member = [](size_t i) {
    return "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  };
  std::string members64;
  std::string members65;
  for (size_t i = 0; i < 65; ++i) {
    if (i > 0) members65 += ',';
    members65 += member(i);
    if (i < 64) members64 = members65;
  }
  EXPECT_EQ(Normalize(R"({"name":"x","metadata":{)" + members64 + "}}")
                .at("metadata")
                .get_object()
                .size(),
            64u);
  Refused(R"({"name":"x","metadata":{)" + members65 + "}}", "metadata");
}

TEST(ProfileConfigTest, UnknownAndReadOnlyMembers) {
  Refused(R"({"name":"x","password":"p"})", "password");
  Refused(R"({"name":"x","Name":"y"})", "Name");
  for (const char* ro : {"id", "created_at", "updated_at"}) {
    const std::string message =
        Refused(R"({"name":"x",")" + std::string(ro) + R"(":"v"})", ro);
    EXPECT_NE(message.find("read-only"), std::string::npos) << message;
  }
}

TEST(ProfileConfigTest, ErrorsNeverEchoSecrets) {
  // A refusal elsewhere in the document must not show the secrets.
  Result<bj::object> r = NormalizeProfileConfig(Parse(
      R"({"name":"x","credentials":[{"name":"a","data":"s3cret-data"}],)"
      R"("cookies":[{"name":"c","value":"s3cret-cookie","expires_at":"no"}]})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("s3cret"), std::string::npos)
      << r.status().message();
}

// ---------------------------------------------------------------- secrets

constexpr std::string_view kSecretProfile = R"({
  "name": "Shop account",
  "credentials": [{"name": "password", "data": "pw-VERY-SECRET-1"},
                  {"name": "totp", "data": "totp-VERY-SECRET-2"}],
  "cookies": [{"name": "sid", "value": "cookie-VERY-SECRET-3",
               "domain": ".shop.example", "secure": true},
              {"name": "pref", "value": "cookie-VERY-SECRET-4"}]
})";

TEST(ProfileSecretsTest, RedactionRemovesEverySecret) {
  const bj::object canonical = Normalize(kSecretProfile);
  const bj::object redacted = RedactProfileSecrets(canonical);
  const std::string text = json::Serialize(redacted);
  EXPECT_EQ(text.find("VERY-SECRET"), std::string::npos) << text;
  EXPECT_EQ(json::Serialize(redacted.at("credentials")),
            R"([{"name":"password"},{"name":"totp"}])");
  EXPECT_EQ(json::Serialize(redacted.at("cookies")),
            R"([{"name":"sid","domain":".shop.example","path":"/",)"
            R"("expires_at":null,"secure":true,"http_only":false},)"
            R"({"name":"pref","domain":"","path":"/","expires_at":null,)"
            R"("secure":false,"http_only":false}])");
  // Everything else is as it was, in order.
  EXPECT_EQ(Keys(redacted), Keys(canonical));
  EXPECT_EQ(redacted.at("name"), canonical.at("name"));
  // The sealed form redacts the same way.
  const bj::object sealed =
      SealProfileSecrets(canonical, TestBox(), "org/prof");
  EXPECT_EQ(json::Serialize(RedactProfileSecrets(sealed)), text);
  // Nothing to redact is fine.
  const bj::object plain = Normalize(R"({"name":"x"})");
  EXPECT_EQ(RedactProfileSecrets(plain), plain);
}

TEST(ProfileSecretsTest, SealOpenRoundTrip) {
  const SecretBox box = TestBox();
  const bj::object canonical = Normalize(kSecretProfile);
  const bj::object sealed = SealProfileSecrets(canonical, box, "org-1/prof-1");
  const std::string text = json::Serialize(sealed);
  for (const char* secret :
       {"pw-VERY-SECRET-1", "totp-VERY-SECRET-2", "cookie-VERY-SECRET-3",
        "cookie-VERY-SECRET-4", "VERY-SECRET"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  }
  // Only the secrets change; they become sealed texts.
  EXPECT_EQ(Keys(sealed), Keys(canonical));
  EXPECT_EQ(json::Serialize(RedactProfileSecrets(sealed)),
            json::Serialize(RedactProfileSecrets(canonical)));
  for (const bj::value& c : sealed.at("credentials").get_array()) {
    EXPECT_TRUE(LooksSealed(json::View(c.at("data").get_string())));
  }
  for (const bj::value& c : sealed.at("cookies").get_array()) {
    EXPECT_TRUE(LooksSealed(json::View(c.at("value").get_string())));
  }
  // A fresh nonce each time.
  EXPECT_NE(json::Serialize(SealProfileSecrets(canonical, box, "org-1/prof-1")),
            text);

  Result<bj::object> opened = OpenProfileSecrets(sealed, box, "org-1/prof-1");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(json::Serialize(*opened), json::Serialize(canonical));
  EXPECT_EQ(*opened, canonical);
}

TEST(ProfileSecretsTest, EmptySecretsAndNoSecrets) {
  const SecretBox box = TestBox();
  const bj::object canonical =
      Normalize(R"({"name":"x","credentials":[{"name":"a","data":""}],)"
                R"("cookies":[{"name":"c","value":""}]})");
  const bj::object sealed = SealProfileSecrets(canonical, box, "ad");
  EXPECT_NE(sealed, canonical);
  EXPECT_EQ(*OpenProfileSecrets(sealed, box, "ad"), canonical);

  const bj::object none = Normalize(R"({"name":"x"})");
  EXPECT_EQ(SealProfileSecrets(none, box, "ad"), none);
  EXPECT_EQ(*OpenProfileSecrets(none, box, "ad"), none);
}

void ExpectOpenRefused(const Result<bj::object>& r, std::string_view field) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal) << r.status().ToString();
  EXPECT_NE(r.status().message().find(field), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("VERY-SECRET"), std::string::npos);
}

TEST(ProfileSecretsTest, OpenRefusesAnotherAdOrKey) {
  const SecretBox box = TestBox();
  const bj::object sealed =
      SealProfileSecrets(Normalize(kSecretProfile), box, "org-1/prof-1");
  ExpectOpenRefused(OpenProfileSecrets(sealed, box, "org-1/prof-2"),
                    "credentials[0].data");
  ExpectOpenRefused(OpenProfileSecrets(sealed, box, "org-2/prof-1"),
                    "credentials[0].data");
  const SecretBox other = *SecretBox::FromKey(RandomBytes(32));
  ExpectOpenRefused(OpenProfileSecrets(sealed, other, "org-1/prof-1"),
                    "credentials[0].data");
}

TEST(ProfileSecretsTest, OpenRefusesPlaintextOrTamperedValues) {
  const SecretBox box = TestBox();
  const bj::object canonical = Normalize(kSecretProfile);
  // Never sealed.
  ExpectOpenRefused(OpenProfileSecrets(canonical, box, "ad"),
                    "credentials[0].data");

  bj::object sealed = SealProfileSecrets(canonical, box, "ad");
  // One cookie value swapped for plaintext: named precisely.
  bj::object one_plain = sealed;
  one_plain["cookies"].as_array()[1].as_object()["value"] = "VERY-SECRET";
  ExpectOpenRefused(OpenProfileSecrets(one_plain, box, "ad"),
                    "cookies[1].value");
  // A secret missing or of another type.
  bj::object missing = sealed;
  missing["credentials"].as_array()[1].as_object().erase("data");
  ExpectOpenRefused(OpenProfileSecrets(missing, box, "ad"),
                    "credentials[1].data");
  bj::object number = sealed;
  number["cookies"].as_array()[0].as_object()["value"] = 7;
  ExpectOpenRefused(OpenProfileSecrets(number, box, "ad"), "cookies[0].value");
  // A sealed value copied from another profile (another ad) does not open.
  const bj::object elsewhere = SealProfileSecrets(canonical, box, "other");
  bj::object transplanted = sealed;
  transplanted["credentials"].as_array()[0].as_object()["data"] =
      elsewhere.at("credentials").at(0).at("data");
  ExpectOpenRefused(OpenProfileSecrets(transplanted, box, "ad"),
                    "credentials[0].data");
}

// ---------------------------------------------------------------- pools

bj::object NormalizePool(std::string_view text) {
  Result<bj::object> r = NormalizePoolConfig(Parse(text));
  EXPECT_TRUE(r.ok()) << r.status().ToString() << " for " << text;
  return r.ok() ? *r : bj::object();
}

TEST(PoolConfigTest, DefaultsInCanonicalOrder) {
  const bj::object c = NormalizePool(R"({"name":"main"})");
  EXPECT_EQ(json::Serialize(c),
            R"({"name":"main","selection_strategy":"least_recently_used",)"
            R"("allow_concurrent_use":false,"default_lease_ttl_seconds":300})");
  EXPECT_EQ(StrategyOf(c), SelectionStrategy::kLeastRecentlyUsed);
  std::vector<std::string> fields(std::begin(kPoolConfigFields),
                                  std::end(kPoolConfigFields));
  EXPECT_EQ(Keys(c), fields);
  EXPECT_EQ(json::Serialize(
                NormalizePool(R"({"name":"main","selection_strategy":null,)"
                              R"("allow_concurrent_use":null,)"
                              R"("default_lease_ttl_seconds":null})")),
            json::Serialize(c));
}

TEST(PoolConfigTest, AllMembers) {
  const bj::object c = NormalizePool(
      R"({"default_lease_ttl_seconds":86400.0,"allow_concurrent_use":true,)"
      R"("selection_strategy":"most_recently_used","name":"shared"})");
  EXPECT_EQ(
      json::Serialize(c),
      R"({"name":"shared","selection_strategy":"most_recently_used",)"
      R"("allow_concurrent_use":true,"default_lease_ttl_seconds":86400})");
  EXPECT_EQ(StrategyOf(c), SelectionStrategy::kMostRecentlyUsed);
  Result<bj::object> again = NormalizePoolConfig(c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(json::Serialize(*again), json::Serialize(c));
  EXPECT_EQ(NormalizePool(R"({"name":"p","default_lease_ttl_seconds":1})")
                .at("default_lease_ttl_seconds"),
            1);
}

TEST(PoolConfigTest, Refusals) {
  PoolRefused(R"({})", "name");
  PoolRefused(R"({"name":""})", "name");
  PoolRefused(R"({"name":"a\nb"})", "name");
  PoolRefused(R"({"name":")" + Repeat("p", 256) + R"("})", "name");
  EXPECT_EQ(NormalizePool(R"({"name":")" + Repeat("p", 255) + R"("})")
                .at("name")
                .get_string()
                .size(),
            255u);
  for (const char* bad :
       {R"("lru")", R"("LEAST_RECENTLY_USED")", R"("random")", "1", "true"}) {
    PoolRefused(R"({"name":"p","selection_strategy":)" + std::string(bad) + "}",
                "selection_strategy");
  }
  PoolRefused(R"({"name":"p","allow_concurrent_use":"yes"})",
              "allow_concurrent_use");
  for (const char* bad :
       {"0", "-1", "86401", "1.5", R"("300")", "true", "1e20", "[]"}) {
    PoolRefused(
        R"({"name":"p","default_lease_ttl_seconds":)" + std::string(bad) + "}",
        "default_lease_ttl_seconds");
  }
  PoolRefused(R"({"name":"p","max_leases":3})", "max_leases");
  for (const char* ro :
       {"id", "organization_id", "profile_count", "created_at", "updated_at"}) {
    const std::string message =
        PoolRefused(R"({"name":"p",")" + std::string(ro) + R"(":1})", ro);
    EXPECT_NE(message.find("read-only"), std::string::npos) << message;
  }
}

TEST(PoolConfigTest, StrategyOfNonCanonicalInput) {
  EXPECT_EQ(StrategyOf(bj::object()), SelectionStrategy::kLeastRecentlyUsed);
  EXPECT_EQ(StrategyOf(bj::object{{"selection_strategy", 3}}),
            SelectionStrategy::kLeastRecentlyUsed);
}

// ---------------------------------------------------------------- leases

TEST(LeaseRequestTest, AcquireDefaults) {
  Result<AcquireRequest> r = ParseAcquireRequest(bj::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->holder, std::nullopt);
  EXPECT_EQ(r->ttl_seconds, std::nullopt);
  EXPECT_EQ(r->wait_seconds, 0);

  r = ParseAcquireRequest(
      Parse(R"({"holder":null,"ttl_seconds":null,"wait_seconds":null})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->holder, std::nullopt);
  EXPECT_EQ(r->ttl_seconds, std::nullopt);
  EXPECT_EQ(r->wait_seconds, 0);
}

TEST(LeaseRequestTest, AcquireAllMembers) {
  Result<AcquireRequest> r = ParseAcquireRequest(
      Parse(R"({"holder":"worker-7","ttl_seconds":86400,"wait_seconds":60})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->holder, "worker-7");
  EXPECT_EQ(r->ttl_seconds, 86400);
  EXPECT_EQ(r->wait_seconds, 60);

  r = ParseAcquireRequest(
      Parse(R"({"ttl_seconds":1,"wait_seconds":0,"holder":""})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ttl_seconds, 1);
  EXPECT_EQ(r->wait_seconds, 0);
  EXPECT_EQ(r->holder, "");

  r = ParseAcquireRequest(Parse(R"({"ttl_seconds":30.0,"wait_seconds":5.0})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ttl_seconds, 30);
  EXPECT_EQ(r->wait_seconds, 5);
}

void ExpectAcquireRefused(std::string_view text, std::string_view field) {
  Result<AcquireRequest> r = ParseAcquireRequest(Parse(text));
  ASSERT_FALSE(r.ok()) << "accepted " << text;
  ExpectInvalid(r.status(), field, text);
}

TEST(LeaseRequestTest, AcquireRefusals) {
  for (const char* bad : {"0", "-1", "86401", "1.5", R"("60")", "true",
                          "9223372036854775808", "1e300", "[]"}) {
    ExpectAcquireRefused(R"({"ttl_seconds":)" + std::string(bad) + "}",
                         "ttl_seconds");
  }
  for (const char* bad : {"-1", "61", "0.5", R"("5")", "false", "{}"}) {
    ExpectAcquireRefused(R"({"wait_seconds":)" + std::string(bad) + "}",
                         "wait_seconds");
  }
  ExpectAcquireRefused(R"({"holder":7})", "holder");
  ExpectAcquireRefused(R"({"holder":"a\nb"})", "holder");
  ExpectAcquireRefused(R"({"holder":")" + Repeat("h", 256) + R"("})", "holder");
  ExpectAcquireRefused(R"({"pool_id":"p"})", "pool_id");
  ExpectAcquireRefused(R"({"ttl":60})", "ttl");
  ExpectAcquireRefused(R"({"holder":"h","exclusive":true})", "exclusive");
}

TEST(LeaseRequestTest, Renew) {
  Result<RenewRequest> r = ParseRenewRequest(Parse(R"({"fencing_token":1})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->fencing_token, 1);
  EXPECT_EQ(r->ttl_seconds, std::nullopt);

  r = ParseRenewRequest(
      Parse(R"({"ttl_seconds":86400,"fencing_token":9007199254740993})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->fencing_token, 9007199254740993);
  EXPECT_EQ(r->ttl_seconds, 86400);

  r = ParseRenewRequest(Parse(R"({"fencing_token":9223372036854775807})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->fencing_token, 9223372036854775807);
}

void ExpectRenewRefused(std::string_view text, std::string_view field) {
  Result<RenewRequest> r = ParseRenewRequest(Parse(text));
  ASSERT_FALSE(r.ok()) << "accepted " << text;
  ExpectInvalid(r.status(), field, text);
}

TEST(LeaseRequestTest, RenewRefusals) {
  const std::string missing = [] {
    Result<RenewRequest> r = ParseRenewRequest(bj::object());
    EXPECT_FALSE(r.ok());
    ExpectInvalid(r.status(), "fencing_token", "{}");
    return r.status().message();
  }();
  EXPECT_NE(missing.find("required"), std::string::npos) << missing;
  ExpectRenewRefused(R"({"fencing_token":null})", "fencing_token");
  ExpectRenewRefused(R"({"ttl_seconds":60})", "fencing_token");
  for (const char* bad :
       {"0", "-1", "1.5", R"("3")", "true", "9223372036854775808", "[]"}) {
    ExpectRenewRefused(R"({"fencing_token":)" + std::string(bad) + "}",
                       "fencing_token");
  }
  for (const char* bad : {"0", "-5", "86401", "2.5", R"("60")"}) {
    ExpectRenewRefused(
        R"({"fencing_token":3,"ttl_seconds":)" + std::string(bad) + "}",
        "ttl_seconds");
  }
  ExpectRenewRefused(R"({"fencing_token":3,"holder":"h"})", "holder");
  ExpectRenewRefused(R"({"fencing_token":3,"wait_seconds":1})", "wait_seconds");
}

}  // namespace
}  // namespace agentry
