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

// A UUIDv8 (RFC 9562) that is a keyed BLAKE2b hash of `name`: the same name
// always gives the same id, different names practically never collide.
// Names identifiers of things that have none of their own (an agent
// version's id on the Odeus surface: "<agent id>/versions/<n>").
std::string NameBasedUuid(std::string_view name);

// True for a canonical 8-4-4-4-12 hex UUID (either case, any version).
bool IsUuid(std::string_view text);

// `text` with A–F lowered: the canonical form of a UUID a client gave in
// either case.
std::string LowercaseUuid(std::string_view text);

// `prefix` followed by `n` random [0-9A-Za-z] characters ("agt_" + …).
std::string NewPrefixedId(std::string_view prefix, size_t n);

// True when `s` is `prefix` followed by one or more of [0-9a-zA-Z_-]
// ("tol_search", "ins_support-v2"). Any length.
bool IsPrefixedId(std::string_view s, std::string_view prefix);

}  // namespace agentry
