// A small RAII wrapper over the SQLite C API: a connection that caches its
// prepared statements, a statement handle with bind/step/column helpers, and
// the mapping of SQLite result codes to Status.
//
// Values always travel as bound parameters; Exec() is only for constant SQL
// (pragmas, DDL, transaction control, embedded migrations).
//
// Error mapping: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY → kConflict (the
// message keeps SQLite's text, "UNIQUE constraint failed: table.column", so a
// store can tell which column clashed); SQLITE_BUSY, SQLITE_IOERR,
// SQLITE_CANTOPEN, SQLITE_FULL → kUnavailable; anything else → kInternal.
//
// Thread-safety: a SqliteConnection and its statements are thread-compatible:
// one thread at a time (connections are opened without SQLite's own mutex).
// Give each thread its own connection, or hand one over under a lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentry/common/status.h"
#include "agentry/common/string_map.h"

struct sqlite3;
struct sqlite3_stmt;

namespace agentry {

class SqliteConnection;

// Maps a SQLite result code (primary or extended) to a Status whose message
// is "<context>: <detail>". `rc` must not be SQLITE_OK, _ROW or _DONE.
Status SqliteStatus(int rc, std::string_view context, std::string_view detail);

// A prepared statement borrowed from its connection's cache. Move-only. On
// destruction it is reset and its bindings cleared, so it holds no read
// snapshot or lock afterwards, and returns to the cache. Must not outlive
// its connection.
//
// Bind* record the first failure, which Step()/Run() then return, so binds
// can be chained: stmt.Bind(1, id).Bind(2, name); Parameters are 1-based,
// columns 0-based.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, int64_t v);
  SqliteStatement& Bind(int index, int v) {
    return Bind(index, static_cast<int64_t>(v));
  }
  SqliteStatement& Bind(int index, double v);
  SqliteStatement& Bind(int index, std::string_view v);  // copied (TEXT)
  SqliteStatement& Bind(int index, const std::string& v) {
    return Bind(index, std::string_view(v));
  }
  SqliteStatement& Bind(int index, const char* v) {
    return Bind(index, std::string_view(v));
  }
  SqliteStatement& Bind(int index, std::nullopt_t);  // NULL
  template <class T>
  SqliteStatement& Bind(int index, const std::optional<T>& v) {
    return v ? Bind(index, *v) : Bind(index, std::nullopt);
  }

  // Binds `args` to parameters 1, 2, … in order.
  template <class... Args>
  SqliteStatement& BindAll(const Args&... args) {
    int i = 0;
    (Bind(++i, args), ...);
    return *this;
  }

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done, ignoring rows (INSERT/UPDATE/DELETE).
  Status Run();

  bool IsNull(int col) const;
  int64_t Int64(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  std::optional<int64_t> OptInt64(int col) const;
  std::optional<double> OptDouble(int col) const;
  std::optional<std::string> OptText(int col) const;

 private:
  friend class SqliteConnection;
  SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt, bool* in_use);

  SqliteConnection* conn_;
  sqlite3_stmt* stmt_;
  bool* in_use_;     // the cache entry's flag; null: uncached, finalize at end
  int bind_rc_ = 0;  // first failed bind, SQLITE_OK when none
  int bind_index_ = 0;
};

struct SqliteOpenOptions {
  // Open read-only (the file must exist). Otherwise read-write, creating the
  // file when absent.
  bool read_only = false;
  // How long a statement waits for a lock held by another connection before
  // failing with SQLITE_BUSY (→ kUnavailable).
  int busy_timeout_ms = 5000;
};

class SqliteConnection {
 public:
  // Opens `path` (a plain file path, not a URI). Extended result codes are
  // enabled. kUnavailable when the file cannot be opened.
  static Result<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path, const SqliteOpenOptions& options = {});

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  // Finalizes the cached statements and closes. No statement borrowed from
  // this connection may still be alive.
  ~SqliteConnection();

  // Runs constant SQL, possibly several statements; result rows are ignored.
  // Never format values into `sql`: use Prepare and Bind.
  Status Exec(std::string_view sql);
  // Runs one constant statement (transaction control on a hot path:
  // SAVEPOINT, RELEASE, BEGIN, COMMIT), prepared once and cached.
  Status Run(std::string_view sql);

  // A prepared statement for `sql` (exactly one statement), from the cache
  // when possible. If the cached one is already borrowed (nested use), a
  // fresh uncached one is returned.
  Result<SqliteStatement> Prepare(std::string_view sql);

  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // Rows changed by the statements completed on this connection since it
  // opened (sqlite3_total_changes64: a statement that failed and undid
  // itself adds nothing).
  int64_t TotalChanges() const;
  // True inside an explicit transaction (BEGIN … not yet committed or rolled
  // back). SQLite may roll a transaction back by itself after some errors.
  bool InTransaction() const;
  // The extended result code of the most recent failed call.
  int LastErrorCode() const;
  // The Status for `rc` with this connection's error message.
  Status Error(int rc, std::string_view context) const;
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

  SqliteConnection(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  // Node-based map: CachedStatement::in_use addresses stay valid.
  StringMap<CachedStatement> cache_;
};

}  // namespace agentry
