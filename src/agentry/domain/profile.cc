#include "agentry/domain/profile.h"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "agentry/common/clock.h"
#include "agentry/common/json.h"
#include "agentry/domain/agent.h"

namespace agentry {

namespace bj = boost::json;

namespace {

using json::FreeText;
using json::ObjectReader;
using json::OneOf;
using json::OptObject;
using json::RefuseReadOnly;
using json::RefuseUnknown;
using json::Strict;
using json::StringRules;

// The longest lease (and wait) a request may ask for.
constexpr int64_t kMaxTtlSeconds = 86400;
constexpr int64_t kMaxWaitSeconds = 60;

constexpr std::string_view kProxyFields[] = {"type", "country"};
constexpr std::string_view kProxyTypes[] = {"basic", "residential", "mobile"};
constexpr std::string_view kCredentialFields[] = {"name", "data"};
constexpr std::string_view kCookieFields[] = {
    "name", "value", "domain", "path", "expires_at", "secure", "http_only"};
constexpr std::string_view kStrategies[] = {"least_recently_used",
                                            "most_recently_used"};

// Member `name` as an array of at most `max_items` objects; nullptr when
// absent or null.
Result<const bj::array*> OptObjectArray(ObjectReader& r, std::string_view name,
                                        size_t max_items) {
  const bj::value* v = r.Raw(name);
  if (v == nullptr || v->is_null()) return nullptr;
  const std::string field = r.FieldPath(name);
  if (!v->is_array()) return json::FieldError(field, " must be an array");
  const bj::array& a = v->get_array();
  if (a.size() > max_items) {
    return json::FieldError(
        field, " must have at most " + std::to_string(max_items) + " items");
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_object()) {
      return json::FieldError(json::Index(field, i), " must be an object");
    }
  }
  return &a;
}

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

Result<bj::object> NormalizeProxy(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::object* in, OptObject(top, "proxy"));
  bj::object out;
  if (in == nullptr) {
    out.emplace("type", "basic");
    out.emplace("country", nullptr);
    return out;
  }
  ObjectReader r(*in, top.FieldPath("proxy"));
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kProxyFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string type,
                           OneOf(r, "type", kProxyTypes, "basic"));
  out.emplace("type", std::move(type));
  const bj::value* country = r.Raw("country");
  if (country == nullptr || country->is_null()) {
    out.emplace("country", nullptr);
    return out;
  }
  const std::string field = r.FieldPath("country");
  const std::string_view code =
      country->is_string() ? json::View(country->get_string()) : "";
  if (code.size() == 2 && IsUpper(code[0]) && IsUpper(code[1])) {
    out.emplace("country", code);
    return out;
  }
  if (code.size() == 2 && (IsUpper(code[0]) || IsLower(code[0])) &&
      (IsUpper(code[1]) || IsLower(code[1]))) {
    std::string upper(code);
    for (char& c : upper) {
      if (IsLower(c)) c = static_cast<char>(c - 'a' + 'A');
    }
    return json::FieldError(
        field,
        " must be an ISO 3166-1 alpha-2 code in upper case: \"" + upper + "\"");
  }
  return json::FieldError(
      field, " must be null or an ISO 3166-1 alpha-2 code such as \"US\"");
}

Result<bj::array> NormalizeCredentials(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::array* in,
                           OptObjectArray(top, "credentials", 64));
  bj::array out;
  if (in == nullptr) return out;
  const std::string field = top.FieldPath("credentials");
  std::unordered_map<std::string, size_t> seen;  // name → first index
  out.reserve(in->size());
  for (size_t i = 0; i < in->size(); ++i) {
    const std::string path = json::Index(field, i);
    ObjectReader r((*in)[i].get_object(), path);
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kCredentialFields));
    AGENTRY_ASSIGN_OR_RETURN(std::string name,
                             r.String("name", Strict(1, 255)));
    AGENTRY_ASSIGN_OR_RETURN(std::string data,
                             r.String("data", FreeText(16384)));
    auto [it, inserted] = seen.emplace(name, i);
    if (!inserted) {
      const std::string name_field = r.FieldPath("name");
      return Status::InvalidRequest(
          name_field + " duplicates " +
              json::Join(json::Index(field, it->second), "name"),
          name_field);
    }
    bj::object c;
    c.emplace("name", std::move(name));
    c.emplace("data", std::move(data));
    out.emplace_back(std::move(c));
  }
  return out;
}

// An RFC 3339 time as UTC with milliseconds; null when absent or null.
Result<bj::value> NormalizeExpiresAt(ObjectReader& r) {
  AGENTRY_ASSIGN_OR_RETURN(auto text, r.OptString("expires_at", Strict(0, 64)));
  if (!text) return bj::value(nullptr);
  const std::optional<int64_t> ms = ParseRfc3339(*text);
  if (!ms) {
    return json::FieldError(
        r.FieldPath("expires_at"),
        " must be an RFC 3339 time such as \"2030-01-02T03:04:05Z\"");
  }
  std::string utc = FormatRfc3339Ms(*ms);
  // Only years 0000–9999 survive the round trip (an offset can move a time
  // just outside them).
  if (ParseRfc3339(utc) != ms) {
    return json::FieldError(r.FieldPath("expires_at"),
                            " must lie between the years 0000 and 9999");
  }
  return bj::value(std::move(utc));
}

Result<bj::array> NormalizeCookies(ObjectReader& top) {
  AGENTRY_ASSIGN_OR_RETURN(const bj::array* in,
                           OptObjectArray(top, "cookies", 256));
  bj::array out;
  if (in == nullptr) return out;
  const std::string field = top.FieldPath("cookies");
  out.reserve(in->size());
  for (size_t i = 0; i < in->size(); ++i) {
    ObjectReader r((*in)[i].get_object(), json::Index(field, i));
    AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kCookieFields));
    bj::object c;
    AGENTRY_ASSIGN_OR_RETURN(std::string name,
                             r.String("name", Strict(1, 255)));
    c.emplace("name", std::move(name));
    AGENTRY_ASSIGN_OR_RETURN(std::string value,
                             r.String("value", Strict(0, 16384)));
    c.emplace("value", std::move(value));
    AGENTRY_ASSIGN_OR_RETURN(auto domain,
                             r.OptString("domain", Strict(0, 255)));
    c.emplace("domain", domain.value_or(""));
    AGENTRY_ASSIGN_OR_RETURN(auto path, r.OptString("path", Strict(0, 1024)));
    c.emplace("path", path.value_or("/"));
    AGENTRY_ASSIGN_OR_RETURN(bj::value expires_at, NormalizeExpiresAt(r));
    c.emplace("expires_at", std::move(expires_at));
    AGENTRY_ASSIGN_OR_RETURN(auto secure, r.OptBool("secure"));
    c.emplace("secure", secure.value_or(false));
    AGENTRY_ASSIGN_OR_RETURN(auto http_only, r.OptBool("http_only"));
    c.emplace("http_only", http_only.value_or(false));
    out.emplace_back(std::move(c));
  }
  return out;
}

// The mutable array member `name` of `config`; nullptr when it is not one.
bj::array* ArrayMember(bj::object& config, std::string_view name) {
  bj::value* v = config.if_contains(name);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

// The secret members: credentials[].data and cookies[].value.
struct SecretMember {
  std::string_view array;
  std::string_view member;
};
constexpr SecretMember kSecretMembers[] = {{"credentials", "data"},
                                           {"cookies", "value"}};

}  // namespace

// ---------------------------------------------------------------- profiles

Result<bj::object> NormalizeProfileConfig(const bj::object& in) {
  AGENTRY_RETURN_IF_ERROR(RefuseReadOnly(in, kProfileReadOnlyFields));
  ObjectReader r(in);
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kProfileConfigFields));

  bj::object out;
  out.reserve(std::size(kProfileConfigFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string name, r.String("name", Strict(1, 255)));
  out.emplace("name", std::move(name));
  AGENTRY_ASSIGN_OR_RETURN(auto description,
                           r.OptString("description", FreeText(1024)));
  out.emplace("description", description.value_or(""));
  AGENTRY_ASSIGN_OR_RETURN(bj::object proxy, NormalizeProxy(r));
  out.emplace("proxy", std::move(proxy));
  AGENTRY_ASSIGN_OR_RETURN(auto sticky_ip, r.OptBool("sticky_ip"));
  out.emplace("sticky_ip", sticky_ip.value_or(false));
  AGENTRY_ASSIGN_OR_RETURN(auto captcha, r.OptBool("captcha_solver_active"));
  out.emplace("captcha_solver_active", captcha.value_or(false));
  AGENTRY_ASSIGN_OR_RETURN(bj::array credentials, NormalizeCredentials(r));
  out.emplace("credentials", std::move(credentials));
  AGENTRY_ASSIGN_OR_RETURN(bj::array cookies, NormalizeCookies(r));
  out.emplace("cookies", std::move(cookies));
  AGENTRY_ASSIGN_OR_RETURN(
      bj::object metadata,
      NormalizeMetadata(r.Raw("metadata"), r.FieldPath("metadata")));
  out.emplace("metadata", std::move(metadata));
  AGENTRY_ASSIGN_OR_RETURN(auto enabled, r.OptBool("enabled"));
  out.emplace("enabled", enabled.value_or(true));
  return out;
}

bj::object RedactProfileSecrets(const bj::object& canonical) {
  bj::object out = canonical;
  for (const SecretMember& secret : kSecretMembers) {
    bj::array* items = ArrayMember(out, secret.array);
    if (items == nullptr) continue;
    for (bj::value& item : *items) {
      if (!item.is_object()) continue;
      // Rebuilt rather than erased: object::erase moves the last member into
      // the hole, and answers keep the canonical order.
      bj::object kept;
      for (const bj::key_value_pair& m : item.get_object()) {
        if (m.key() != secret.member) kept.emplace(m.key(), m.value());
      }
      item = std::move(kept);
    }
  }
  return out;
}

bj::object SealProfileSecrets(const bj::object& canonical, const SecretBox& box,
                              std::string_view ad) {
  bj::object out = canonical;
  for (const SecretMember& secret : kSecretMembers) {
    bj::array* items = ArrayMember(out, secret.array);
    if (items == nullptr) continue;
    for (bj::value& item : *items) {
      if (!item.is_object()) continue;
      bj::value* v = item.get_object().if_contains(secret.member);
      if (v == nullptr || !v->is_string()) continue;
      *v = box.Seal(json::View(v->get_string()), ad);
    }
  }
  return out;
}

Result<bj::object> OpenProfileSecrets(const bj::object& sealed,
                                      const SecretBox& box,
                                      std::string_view ad) {
  bj::object out = sealed;
  for (const SecretMember& secret : kSecretMembers) {
    bj::array* items = ArrayMember(out, secret.array);
    if (items == nullptr) continue;
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string field =
          json::Join(json::Index(secret.array, i), secret.member);
      bj::value& item = (*items)[i];
      bj::value* v = item.is_object()
                         ? item.get_object().if_contains(secret.member)
                         : nullptr;
      if (v == nullptr || !v->is_string()) {
        return Status::Internal("the stored profile's " + field +
                                " is not a sealed secret");
      }
      Result<std::string> plain = box.Open(json::View(v->get_string()), ad);
      if (!plain.ok()) {
        return Status::Internal("the stored profile's " + field +
                                " does not open under the master key");
      }
      *v = std::move(plain).value();
    }
  }
  return out;
}

// ---------------------------------------------------------------- pools

Result<bj::object> NormalizePoolConfig(const bj::object& in) {
  AGENTRY_RETURN_IF_ERROR(RefuseReadOnly(in, kPoolReadOnlyFields));
  ObjectReader r(in);
  AGENTRY_RETURN_IF_ERROR(RefuseUnknown(r, kPoolConfigFields));

  bj::object out;
  out.reserve(std::size(kPoolConfigFields));
  AGENTRY_ASSIGN_OR_RETURN(std::string name, r.String("name", Strict(1, 255)));
  out.emplace("name", std::move(name));
  AGENTRY_ASSIGN_OR_RETURN(
      std::string strategy,
      OneOf(r, "selection_strategy", kStrategies, "least_recently_used"));
  out.emplace("selection_strategy", std::move(strategy));
  AGENTRY_ASSIGN_OR_RETURN(auto concurrent, r.OptBool("allow_concurrent_use"));
  out.emplace("allow_concurrent_use", concurrent.value_or(false));
  AGENTRY_ASSIGN_OR_RETURN(
      auto ttl, r.OptInt("default_lease_ttl_seconds", 1, kMaxTtlSeconds));
  out.emplace("default_lease_ttl_seconds", ttl.value_or(300));
  return out;
}

SelectionStrategy StrategyOf(const bj::object& canonical_pool) {
  const bj::value* v = canonical_pool.if_contains("selection_strategy");
  if (v != nullptr && v->is_string() &&
      v->get_string() == "most_recently_used") {
    return SelectionStrategy::kMostRecentlyUsed;
  }
  return SelectionStrategy::kLeastRecentlyUsed;
}

// ---------------------------------------------------------------- leases

Result<AcquireRequest> ParseAcquireRequest(const bj::object& in) {
  ObjectReader r(in);
  AcquireRequest out;
  AGENTRY_ASSIGN_OR_RETURN(out.holder, r.OptString("holder", Strict(0, 255)));
  AGENTRY_ASSIGN_OR_RETURN(auto ttl,
                           r.OptInt("ttl_seconds", 1, kMaxTtlSeconds));
  if (ttl) out.ttl_seconds = static_cast<int>(*ttl);
  AGENTRY_ASSIGN_OR_RETURN(auto wait,
                           r.OptInt("wait_seconds", 0, kMaxWaitSeconds));
  out.wait_seconds = static_cast<int>(wait.value_or(0));
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  return out;
}

Result<RenewRequest> ParseRenewRequest(const bj::object& in) {
  ObjectReader r(in);
  RenewRequest out;
  AGENTRY_ASSIGN_OR_RETURN(auto ttl,
                           r.OptInt("ttl_seconds", 1, kMaxTtlSeconds));
  if (ttl) out.ttl_seconds = static_cast<int>(*ttl);
  AGENTRY_ASSIGN_OR_RETURN(
      auto token,
      r.OptInt("fencing_token", 1, std::numeric_limits<int64_t>::max()));
  if (!token) {
    return json::FieldError(r.FieldPath("fencing_token"), " is required");
  }
  out.fencing_token = *token;
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  return out;
}

}  // namespace agentry
