// Store URLs (DESIGN §4): "sqlite://PATH" or "postgres://…" /
// "postgresql://…", schemes case-insensitive. Parsed in one place, so that
// OpenStore and everything that lives beside the store (the master key
// file) agree on what a URL names. Pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace agentry {

// The file path of a "sqlite://PATH" URL, exactly as written after the
// scheme: "sqlite://./data/agentry.db" → "./data/agentry.db",
// "sqlite:///tmp/x/agentry.db" → "/tmp/x/agentry.db" (empty for
// "sqlite://"). nullopt when `url` is not a sqlite:// URL.
std::optional<std::string> SqlitePathOf(std::string_view url);

// True for postgres:// and postgresql:// URLs.
bool IsPostgresUrl(std::string_view url);

}  // namespace agentry
