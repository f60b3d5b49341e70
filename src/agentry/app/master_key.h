// The master key (DESIGN §4): the 32 bytes under which profile secrets are
// sealed (SecretBox).
//
// Where it comes from, in order:
//   1. AGENTRY_MASTER_KEY: the standard base64 (with padding) of 32 bytes,
//      e.g. `openssl rand -base64 32`; surrounding whitespace is ignored.
//   2. With a SQLite store, the file `master.key` in the database file's
//      directory: read when it exists, otherwise created with a fresh random
//      key (mode 0600, written in full and fsynced before it appears under
//      its name, so a crash never leaves a half-written key and two servers
//      starting at once agree on one key).
//   3. With PostgreSQL there is no local place to keep it: the variable is
//      required.
// Losing the key loses every sealed secret: back master.key up with the
// database. No message and no log line ever includes the key.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry {

// The file name of the key beside a SQLite database.
inline constexpr std::string_view kMasterKeyFileName = "master.key";

// Returns the 32 raw key bytes (the caller should wipe them after use).
// `env_value` is AGENTRY_MASTER_KEY when set; `store_url` the store's URL
// ("sqlite://./data/agentry.db", "postgres://…").
//   kInvalidRequest: `env_value` is not the base64 of 32 bytes; the store is
//     PostgreSQL and `env_value` is absent ("AGENTRY_MASTER_KEY is required
//     with PostgreSQL"); or the URL names no SQLite file.
//   kUnavailable (naming the file): master.key exists but does not hold the
//     base64 of 32 bytes, is not a regular file, or grants any permission to
//     group or others; or it cannot be read or created.
// Call after InitCrypto(). Thread-compatible (touches the filesystem).
Result<std::string> LoadMasterKey(const std::optional<std::string>& env_value,
                                  std::string_view store_url);

}  // namespace agentry
