// Identifiers: UUIDv7 (time-ordered, RFC 9562) and prefixed random keys.
// Thread-safe (randomness from libsodium; InitCrypto() must have run).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace agentry {

// A new lowercase UUIDv7 string whose timestamp is `epoch_ms`. Ids made by
// one process are strictly increasing as strings, even within a millisecond.
std::string NewUuidV7(int64_t epoch_ms);

// True for a canonical 8-4-4-4-12 hex UUID (either case, any version).
bool IsUuid(std::string_view text);

// `prefix` followed by `n` random [0-9A-Za-z] characters ("agt_" + …).
std::string NewPrefixedId(std::string_view prefix, size_t n);

// True when `s` is `prefix` followed by one or more of [0-9a-zA-Z_-]
// ("tol_search", "ins_support-v2"). Any length.
bool IsPrefixedId(std::string_view s, std::string_view prefix);

}  // namespace agentry
