// A small RAII wrapper over libpq: a connection that prepares each statement
// once and caches it, bound parameters, results, and the mapping of
// PostgreSQL errors to Status. libpq's own header stays in pg_db.cc.
//
// Values always travel as bound parameters ($1, $2, …, sent with their type
// and in text form by PQexecPrepared); Script() is only for constant SQL
// (transaction control, DDL, embedded migrations).
//
// Error mapping (PgResult::status()):
//   - the connection is lost, or cannot be used (class 08), the server is
//     shutting down or out of resources (57P01–57P03, class 53), a lock or
//     statement timed out (55P03, 57014): kUnavailable;
//   - serialization failure (40001) and deadlock (40P01): kUnavailable, and
//     the connection remembers it (transient_failure()) so that the writer
//     retries the whole transaction;
//   - unique_violation (23505): kConflict, naming the constraint
//     (PgResult::constraint() gives it to the stores, which name the field);
//   - anything else, foreign key violations included (stores that expect
//     them check PgResult::sqlstate()): kInternal.
// Messages never contain the connection URL.
//
// Thread-safety: a PgConnection is thread-compatible (one thread at a time);
// a PgResult is an immutable value once made.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentry/common/status.h"

struct pg_conn;
struct pg_result;

namespace agentry {

// SQLSTATEs the stores look at.
inline constexpr std::string_view kPgUniqueViolation = "23505";
inline constexpr std::string_view kPgForeignKeyViolation = "23503";

// One value bound to a $n parameter: its type (a PostgreSQL type OID) and
// its text form, or NULL.
class PgParam {
 public:
  PgParam(int64_t v);           // int8
  PgParam(int v);               // int4
  PgParam(double v);            // float8, shortest text that reads back exactly
  PgParam(bool v);              // bool
  PgParam(std::string_view v);  // text
  PgParam(const std::string& v) : PgParam(std::string_view(v)) {}
  PgParam(const char* v) : PgParam(std::string_view(v)) {}
  // A NULL of type T for an empty optional.
  template <class T>
  PgParam(const std::optional<T>& v) : PgParam(v ? PgParam(*v) : Null(T{})) {}

  unsigned type() const { return type_; }
  bool is_null() const { return !value_.has_value(); }
  const std::string& text() const { return *value_; }

 private:
  template <class T>
  static PgParam Null(const T& typed) {
    PgParam p(typed);
    p.value_.reset();
    return p;
  }

  unsigned type_ = 0;
  std::optional<std::string> value_;
};

// The outcome of one statement: its rows, or why it failed. Move-only.
// Column readers take 0-based row and column indexes that must be in range.
class PgResult {
 public:
  PgResult(PgResult&&) noexcept;
  PgResult& operator=(PgResult&&) noexcept;
  ~PgResult();

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // The SQLSTATE of a failure reported by the server ("" when ok, or when
  // the failure happened on the client side, e.g. a lost connection).
  const std::string& sqlstate() const { return sqlstate_; }
  // The constraint a failure violated ("" when none).
  const std::string& constraint() const { return constraint_; }

  int rows() const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t affected() const;

  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int64(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;
  std::optional<std::string> OptText(int row, int col) const;
  std::optional<int64_t> OptInt64(int row, int col) const;

 private:
  friend class PgConnection;
  PgResult(pg_result* result, Status status, std::string sqlstate,
           std::string constraint);

  pg_result* result_ = nullptr;  // null when the statement never ran
  Status status_;
  std::string sqlstate_;
  std::string constraint_;
};

// This process's name in the announcements of its changes: every
// connection sets it as `agentry.node` (see migrations/postgres/0005).
const std::string& PgNodeId();

class PgConnection {
 public:
  // Connects with `url` (a postgres:// or postgresql:// URI, passed to
  // libpq as is: every libpq parameter it names applies). The connection
  // uses UTF-8 and synchronous_commit=on (a COMMIT returns once durable).
  // kInvalidRequest when `url` is not a valid URI (the message does not
  // repeat it: it may hold a password); kUnavailable when the server cannot
  // be reached or refuses the connection.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& url);

  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // Runs constant SQL, possibly several statements; result rows are
  // ignored. Never format values into `sql`: use Exec.
  PgResult Script(std::string_view sql);

  // Runs one statement with `params` bound to $1, $2, …. The statement is
  // prepared on first use and reused (the cache key is the SQL and the
  // parameter types). PostgreSQL text cannot hold U+0000, so no stored value
  // equals a parameter holding one: such a statement does not reach the
  // server; it returns no rows and changes nothing, or, for an INSERT, fails
  // with kInvalidRequest.
  PgResult ExecParams(std::string_view sql, std::span<const PgParam> params);

  template <class... Args>
  PgResult Exec(std::string_view sql, const Args&... args) {
    const std::array<PgParam, sizeof...(Args)> params{PgParam(args)...};
    return ExecParams(sql, params);
  }

  // True when the connection to the server is lost (Reset() is needed).
  bool broken() const;
  // Reconnects with the same parameters and forgets the prepared
  // statements. kUnavailable when the server cannot be reached.
  Status Reset();

  // The connection's socket, to wait on for notifications (-1: none).
  int socket() const;
  // Reads what the server has sent and appends the payloads of the
  // notifications received (LISTEN) in order. kUnavailable when the
  // connection is lost.
  Status TakeNotifications(std::vector<std::string>& payloads);

  // Inside a transaction block (BEGIN … not yet ended), failed or not.
  bool InTransaction() const;

  // Whether a statement failed with a serialization failure or a deadlock
  // since the last ClearTransientFailure(): retrying the whole transaction
  // may succeed.
  bool transient_failure() const { return transient_failure_; }
  void ClearTransientFailure() { transient_failure_ = false; }

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}

  // Sets up a fresh session (encoding checks, session settings).
  Status Configure();
  PgResult Finish(pg_result* result, std::string_view context);

  pg_conn* conn_;
  // SQL + parameter types → prepared statement name.
  std::unordered_map<std::string, std::string> prepared_;
  bool transient_failure_ = false;
};

}  // namespace agentry
