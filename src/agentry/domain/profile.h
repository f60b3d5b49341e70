// Credential profiles and the pools they are leased from (DESIGN §5
// "Profiles, pools and leases"): configuration documents, their validation
// and canonical form, the sealing of a profile's secrets, and the bodies of
// lease requests. Plain values, no I/O.
//
// As with agents, configurations are canonical JSON objects: exactly the
// listed members, in the listed order, defaults filled in, so that merge
// patches, ETags and "nothing changed" checks are deterministic.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/crypto.h"
#include "agentry/common/status.h"

namespace agentry {

// ---------------------------------------------------------------- profiles

struct Profile {
  std::string id;               // UUIDv7
  std::string organization_id;  // owner
  // Canonical configuration (NormalizeProfileConfig). In the store and in
  // memory its secrets are sealed (SealProfileSecrets).
  boost::json::object config;
  int64_t revision = 1;  // grows by one with every change (ETag, If-Match)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The members of a canonical profile configuration, in order:
//   name                   string 1–255, required, no control characters
//   description            string ≤ 1024, free text (default "")
//   proxy                  {type: "basic" | "residential" | "mobile" (default
//                          "basic"), country: null | ISO 3166-1 alpha-2 code in
//                          upper case, "US" (default null)} (default
//                          {"type":"basic","country":null})
//   sticky_ip              bool (default false)
//   captcha_solver_active  bool (default false)
//   credentials            [{name: string 1–255 no control characters,
//                          unique within the profile; data: string ≤ 16384
//                          free text, required}] ≤ 64 items (default [])
//   cookies                [{name: string 1–255 no control characters,
//                          required; value: string ≤ 16384 no control
//                          characters, required; domain: string ≤ 255
//                          (default ""); path: string ≤ 1024 (default "/");
//                          expires_at: null | RFC 3339 time, stored as UTC
//                          with milliseconds "2030-01-02T03:04:05.000Z"
//                          (default null); secure: bool (default false);
//                          http_only: bool (default false)}] ≤ 256 items
//                          (default [])
//   metadata               as an agent's (NormalizeMetadata) (default {})
//   enabled                bool (default true)
// credentials[].data and cookies[].value are the secrets.
inline constexpr std::string_view kProfileConfigFields[] = {
    "name",
    "description",
    "proxy",
    "sticky_ip",
    "captcha_solver_active",
    "credentials",
    "cookies",
    "metadata",
    "enabled"};

// Members of the record (not of the configuration) that a request may not
// set; refused as read-only rather than unknown.
inline constexpr std::string_view kProfileReadOnlyFields[] = {
    "id", "organization_id", "created_at", "updated_at"};

// Validates `in` (a create body, or the opened configuration after a merge
// patch) and returns its canonical form. Refuses unknown members (read-only
// ones with a message saying so), wrong types and every rule above with
// kInvalidRequest naming the dotted field ("proxy.country",
// "credentials[2].data"; a repeated credential name names the later
// "credentials[i].name"). A canonical document normalizes to itself.
Result<boost::json::object> NormalizeProfileConfig(
    const boost::json::object& in);

// The configuration without its secrets, as every answer without
// `profiles:secrets` shows it: credentials[] keep only {name}, cookies[]
// keep every member but `value`. Works on a canonical or a sealed
// configuration alike.
boost::json::object RedactProfileSecrets(const boost::json::object& canonical);

// A copy of canonical `canonical` whose credentials[i].data and
// cookies[i].value are replaced by box.Seal(value, ad). `ad` binds the
// sealed values to their owner (e.g. "<organization_id>/<profile_id>"), so
// a value copied into another profile does not open.
boost::json::object SealProfileSecrets(const boost::json::object& canonical,
                                       const SecretBox& box,
                                       std::string_view ad);

// The inverse of SealProfileSecrets under the same box and `ad`. kInternal
// when any secret is missing, not a string or does not open; the message
// names the field ("credentials[1].data") and never a secret.
Result<boost::json::object> OpenProfileSecrets(
    const boost::json::object& sealed, const SecretBox& box,
    std::string_view ad);

// ---------------------------------------------------------------- pools

enum class SelectionStrategy { kLeastRecentlyUsed, kMostRecentlyUsed };

struct Pool {
  std::string id;               // UUIDv7
  std::string organization_id;  // owner
  boost::json::object config;   // canonical (NormalizePoolConfig)
  int64_t revision = 1;         // grows by one with every change
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The members of a canonical pool configuration, in order:
//   name                       string 1–255, required, no control characters
//                              (unique in the organization: the store's rule)
//   selection_strategy         "least_recently_used" | "most_recently_used"
//                              (default "least_recently_used")
//   allow_concurrent_use       bool (default false: leases are exclusive)
//   default_lease_ttl_seconds  integer 1–86400 (default 300)
inline constexpr std::string_view kPoolConfigFields[] = {
    "name", "selection_strategy", "allow_concurrent_use",
    "default_lease_ttl_seconds"};

// Members an answer carries that a request may not set.
inline constexpr std::string_view kPoolReadOnlyFields[] = {
    "id", "organization_id", "profile_count", "created_at", "updated_at"};

// Validates `in` and returns its canonical form; as NormalizeProfileConfig.
Result<boost::json::object> NormalizePoolConfig(const boost::json::object& in);

// The selection strategy of a canonical pool configuration (least recently
// used unless it says "most_recently_used").
SelectionStrategy StrategyOf(const boost::json::object& canonical_pool);

// ---------------------------------------------------------------- leases

// The body of POST /v1/agent-profile-pools/{id}/leases.
struct AcquireRequest {
  std::optional<std::string> holder;  // ≤ 255, no control characters
  std::optional<int> ttl_seconds;     // 1–86400; nullopt: the pool's default
  int wait_seconds = 0;               // 0–60; 0 answers at once
};

// {holder?, ttl_seconds?, wait_seconds?}; null means absent. Unknown members
// and out-of-range or non-integral numbers are refused with kInvalidRequest
// naming the field.
Result<AcquireRequest> ParseAcquireRequest(const boost::json::object& in);

// The body of POST /v1/leases/{id}/renew.
struct RenewRequest {
  std::optional<int> ttl_seconds;  // 1–86400; nullopt: the service's default
  int64_t fencing_token = 0;       // ≥ 1: the token the holder was granted
};

// {ttl_seconds?, fencing_token}; fencing_token is a required integer ≥ 1.
// kInvalidRequest naming the field otherwise.
Result<RenewRequest> ParseRenewRequest(const boost::json::object& in);

}  // namespace agentry
