#include "agentry/store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <cctype>
#include <utility>

#include "agentry/common/text.h"

namespace agentry {

Status SqliteStatus(int rc, std::string_view context, std::string_view detail) {
  std::string message(context);
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status::Conflict(std::move(message));
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
      return Status::Unavailable(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// ---- SqliteStatement ----

SqliteStatement::SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt,
                                 bool* in_use)
    : conn_(conn), stmt_(stmt), in_use_(in_use) {}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : conn_(other.conn_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  if (in_use_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);  // returns the last step's error again: ignored
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t v) {
  const int rc = sqlite3_bind_int64(stmt_, index, v);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, double v) {
  const int rc = sqlite3_bind_double(stmt_, index, v);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view v) {
  const int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::nullopt_t) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

Result<bool> SqliteStatement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteStatus(bind_rc_,
                        "binding parameter " + std::to_string(bind_index_),
                        sqlite3_errstr(bind_rc_));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(rc, sqlite3_sql(stmt_));
}

Status SqliteStatement::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

bool SqliteStatement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

int64_t SqliteStatement::Int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

double SqliteStatement::Double(int col) const {
  return sqlite3_column_double(stmt_, col);
}

std::string SqliteStatement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  const int n = sqlite3_column_bytes(stmt_, col);
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::optional<int64_t> SqliteStatement::OptInt64(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int64(col);
}

std::optional<double> SqliteStatement::OptDouble(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Double(col);
}

std::optional<std::string> SqliteStatement::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

// ---- SqliteConnection ----

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, const SqliteOpenOptions& options) {
  const int flags =
      (options.read_only ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  // Before SQLite initialises (the first open): no global memory
  // statistics, whose mutex every sqlite3_malloc takes (~20 per lease
  // write); nothing here reads them. Ignored if SQLite is already in use.
  static const int kConfigured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)kConfigured;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail =
        db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);  // a handle is returned even on failure
    Status st = SqliteStatus(rc, "opening " + path, detail);
    // Whatever stops us opening the file makes the store unreachable.
    return Status::Unavailable(st.message());
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  // agentry_fold(text): Unicode lower case (FoldCase), for case-insensitive
  // name filters beyond ASCII (SQLite's lower() folds ASCII only).
  sqlite3_create_function_v2(
      db, "agentry_fold", 1,
      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
      [](sqlite3_context* ctx, int, sqlite3_value** argv) {
        const unsigned char* text = sqlite3_value_text(argv[0]);
        if (text == nullptr) {
          sqlite3_result_null(ctx);
          return;
        }
        std::string folded = FoldCase(std::string_view(
            reinterpret_cast<const char*>(text),
            static_cast<size_t>(sqlite3_value_bytes(argv[0]))));
        sqlite3_result_text(ctx, folded.data(), static_cast<int>(folded.size()),
                            SQLITE_TRANSIENT);
      },
      nullptr, nullptr, nullptr);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db, path));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, entry] : cache_) sqlite3_finalize(entry.stmt);
  sqlite3_close_v2(db_);
}

Status SqliteConnection::Exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  // Name the statement briefly: its first line.
  return SqliteStatus(rc, text.substr(0, text.find('\n')), detail);
}

Status SqliteConnection::Run(std::string_view sql) {
  AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(sql));
  return stmt.Run();
}

Result<SqliteStatement> SqliteConnection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return SqliteStatement(this, it->second.stmt, &it->second.in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return Error(rc, sql);
  if (stmt == nullptr) return Status::Internal("empty SQL statement");
  for (const char* p = tail; p < sql.data() + sql.size(); ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p))) {
      sqlite3_finalize(stmt);
      return Status::Internal("Prepare takes exactly one SQL statement: " +
                              std::string(sql));
    }
  }
  if (it != cache_.end()) {  // the cached one is busy: a private copy
    return SqliteStatement(this, stmt, nullptr);
  }
  auto [pos, inserted] =
      cache_.emplace(std::string(sql), CachedStatement{stmt, true});
  return SqliteStatement(this, stmt, &pos->second.in_use);
}

int64_t SqliteConnection::Changes() const { return sqlite3_changes64(db_); }

int64_t SqliteConnection::TotalChanges() const {
  return sqlite3_total_changes64(db_);
}

bool SqliteConnection::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int SqliteConnection::LastErrorCode() const {
  return sqlite3_extended_errcode(db_);
}

Status SqliteConnection::Error(int rc, std::string_view context) const {
  return SqliteStatus(rc, context, sqlite3_errmsg(db_));
}

}  // namespace agentry
