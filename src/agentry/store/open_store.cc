// OpenStore: picks the backend from the URL's scheme.

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/store/postgres/postgres_store.h"
#include "agentry/store/sqlite/sqlite_store.h"
#include "agentry/store/store.h"
#include "agentry/store/store_url.h"

namespace agentry {

namespace {

// True when `url` starts with `scheme` followed by "://", ignoring the case
// of the scheme (RFC 3986 schemes are case-insensitive).
bool HasScheme(std::string_view url, std::string_view scheme) {
  if (url.size() < scheme.size() + 3) return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) {
      return false;
    }
  }
  return url.substr(scheme.size(), 3) == "://";
}

Status NotShared() {
  return Status::Internal(
      "decisions in the database need a store shared by several nodes "
      "(PostgreSQL)");
}

}  // namespace

// The defaults of a store only one process uses (see Store::shared()).

Result<LeaseSnapshot> LeaseStore::LoadOrganization(std::string_view, int64_t) {
  return NotShared();
}
void LeaseStore::Decide(const LeaseOrder&, DecidedDone done) {
  done(NotShared());
}
void LeaseStore::RenewLive(std::string_view, std::string_view, int64_t, int64_t,
                           std::optional<int64_t>, DecidedDone done) {
  done(NotShared());
}
void LeaseStore::ReleaseExisting(std::string_view, std::string_view, int64_t,
                                 Done done) {
  done(NotShared());
}
Result<Page<Lease>> LeaseStore::ListLive(std::string_view, std::string_view,
                                         int64_t, const PageRequest&) {
  return NotShared();
}
Result<bool> LeaseStore::HasLiveLease(std::string_view, std::string_view,
                                      int64_t) {
  return NotShared();
}
Status Store::Watch(ChangeHandlers) { return Status::Ok(); }

std::optional<std::string> SqlitePathOf(std::string_view url) {
  if (!HasScheme(url, "sqlite")) return std::nullopt;
  return std::string(url.substr(std::string_view("sqlite://").size()));
}

bool IsPostgresUrl(std::string_view url) {
  return HasScheme(url, "postgres") || HasScheme(url, "postgresql");
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url,
                                         const StoreOptions& options) {
  if (const std::optional<std::string> sqlite = SqlitePathOf(url)) {
    const std::string& path = *sqlite;
    if (path.empty()) {
      return Status::InvalidRequest(
          "the store URL \"sqlite://\" needs a file path, e.g. "
          "sqlite://./data/agentry.db");
    }
    Result<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(path, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  if (IsPostgresUrl(url)) {
    // libpq recognises only the lower-case schemes.
    const size_t colon = url.find(':');
    std::string uri(url);
    for (size_t i = 0; i < colon; ++i) {
      uri[i] =
          static_cast<char>(std::tolower(static_cast<unsigned char>(uri[i])));
    }
    Result<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(uri, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  // Name only the scheme: the rest of a URL may hold a password.
  const std::string_view scheme = url.substr(0, url.find(':'));
  return Status::InvalidRequest(
      "unsupported store URL scheme \"" + std::string(scheme) +
      "\": expected sqlite://PATH, postgres://… or postgresql://…");
}

}  // namespace agentry
