#include "agentry/store/postgres/pg_db.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <utility>
#include <vector>

#include "agentry/common/ids.h"

namespace agentry {

namespace {

// Type OIDs (pg_type.dat): stable across PostgreSQL versions.
constexpr unsigned kBoolOid = 16;
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kInt4Oid = 23;
constexpr unsigned kTextOid = 25;
constexpr unsigned kFloat8Oid = 701;

// libpq messages end with a newline and may span lines: one line, trimmed.
std::string OneLine(const char* message) {
  std::string out;
  for (const char* p = message; p != nullptr && *p != '\0'; ++p) {
    if (*p == '\n') {
      if (!out.empty() && p[1] != '\0') out += "; ";
    } else {
      out += *p;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) {
    out.pop_back();
  }
  return out;
}

// What a message names a statement by: its first line, shortened.
std::string Context(std::string_view sql) {
  std::string_view line = sql.substr(0, sql.find('\n'));
  if (line.size() > 120) return std::string(line.substr(0, 117)) + "...";
  return std::string(line);
}

bool StartsWith(const std::string& s, std::string_view prefix) {
  return std::string_view(s).substr(0, prefix.size()) == prefix;
}

// Whether `sql` is an INSERT (its first word, in any case).
bool IsInsert(std::string_view sql) {
  const size_t start = sql.find_first_not_of(" \t\n");
  if (start == std::string_view::npos || sql.size() - start < 6) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (std::toupper(static_cast<unsigned char>(sql[start + i])) !=
        "INSERT"[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---- PgParam ----

PgParam::PgParam(int64_t v) : type_(kInt8Oid), value_(std::to_string(v)) {}

PgParam::PgParam(int v) : type_(kInt4Oid), value_(std::to_string(v)) {}

PgParam::PgParam(double v) : type_(kFloat8Oid) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  value_ = std::string(buf, ec == std::errc() ? end : buf);
}

PgParam::PgParam(bool v) : type_(kBoolOid), value_(v ? "t" : "f") {}

PgParam::PgParam(std::string_view v) : type_(kTextOid), value_(v) {}

// ---- PgResult ----

PgResult::PgResult(pg_result* result, Status status, std::string sqlstate,
                   std::string constraint)
    : result_(result),
      status_(std::move(status)),
      sqlstate_(std::move(sqlstate)),
      constraint_(std::move(constraint)) {}

PgResult::PgResult(PgResult&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)),
      status_(std::move(other.status_)),
      sqlstate_(std::move(other.sqlstate_)),
      constraint_(std::move(other.constraint_)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
    status_ = std::move(other.status_);
    sqlstate_ = std::move(other.sqlstate_);
    constraint_ = std::move(other.constraint_);
  }
  return *this;
}

PgResult::~PgResult() { PQclear(result_); }

int PgResult::rows() const {
  return result_ != nullptr && ok() ? PQntuples(result_) : 0;
}

int64_t PgResult::affected() const {
  if (result_ == nullptr) return 0;
  const char* n = PQcmdTuples(result_);
  int64_t out = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), out);
  return out;
}

bool PgResult::IsNull(int row, int col) const {
  return PQgetisnull(result_, row, col) != 0;
}

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(result_, row, col),
                     static_cast<size_t>(PQgetlength(result_, row, col)));
}

int64_t PgResult::Int64(int row, int col) const {
  const char* v = PQgetvalue(result_, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(result_, row, col), out);
  return out;
}

double PgResult::Double(int row, int col) const {
  const char* v = PQgetvalue(result_, row, col);
  double out = 0;
  std::from_chars(v, v + PQgetlength(result_, row, col), out);
  return out;
}

bool PgResult::Bool(int row, int col) const {
  return PQgetvalue(result_, row, col)[0] == 't';
}

std::optional<std::string> PgResult::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

std::optional<int64_t> PgResult::OptInt64(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int64(row, col);
}

// ---- PgConnection ----

Result<std::unique_ptr<PgConnection>> PgConnection::Open(
    const std::string& url) {
  // Validate first: libpq's parse errors may quote the URL (and so a
  // password), connection errors name only the host, port and user.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    PQfreemem(parse_error);
    return Status::InvalidRequest(
        "the store URL is not a valid PostgreSQL connection URI "
        "(postgres://USER:PASSWORD@HOST:PORT/DATABASE?PARAMETERS)");
  }
  PQconninfoFree(parsed);

  // Defaults come before the URL (its parameters override them); the
  // encoding comes after it (the stores exchange UTF-8).
  const char* keywords[] = {"connect_timeout", "fallback_application_name",
                            "dbname", "client_encoding", nullptr};
  const char* values[] = {"10", "agentry", url.c_str(), "UTF8", nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Status::Unavailable("cannot connect to PostgreSQL: out of memory");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("cannot connect to PostgreSQL: " + message);
  }
  // The server's notices ("… already exists, skipping") are not errors, and
  // libpq would print them to standard error, outside the JSON log.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto connection = std::unique_ptr<PgConnection>(new PgConnection(conn));
  AGENTRY_RETURN_IF_ERROR(connection->Configure());
  return connection;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

const std::string& PgNodeId() {
  static const std::string id = NewPrefixedId("node_", 16);
  return id;
}

Status PgConnection::Configure() {
  // A COMMIT must return only once durable, whatever the server's default.
  AGENTRY_RETURN_IF_ERROR(Script("SET synchronous_commit TO on").status());
  // Names this process in the announcements of its changes
  // (migrations/postgres/0005_cluster.sql).
  return Exec("SELECT set_config('agentry.node', $1, false)", PgNodeId())
      .status();
}

int PgConnection::socket() const { return PQsocket(conn_); }

Status PgConnection::TakeNotifications(std::vector<std::string>& payloads) {
  if (PQconsumeInput(conn_) == 0 || broken()) {
    return Status::Unavailable("lost the connection to PostgreSQL: " +
                               OneLine(PQerrorMessage(conn_)));
  }
  while (PGnotify* n = PQnotifies(conn_)) {
    payloads.emplace_back(n->extra != nullptr ? n->extra : "");
    PQfreemem(n);
  }
  return Status::Ok();
}

PgResult PgConnection::Finish(pg_result* result, std::string_view sql) {
  if (result == nullptr) {
    return PgResult(
        nullptr,
        Status::Unavailable("PostgreSQL did not answer " + Context(sql) + ": " +
                            OneLine(PQerrorMessage(conn_))),
        "", "");
  }
  const ExecStatusType state = PQresultStatus(result);
  if (state == PGRES_COMMAND_OK || state == PGRES_TUPLES_OK ||
      state == PGRES_EMPTY_QUERY) {
    return PgResult(result, Status::Ok(), "", "");
  }
  const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string sqlstate = code != nullptr ? code : "";
  // The primary message only: the detail may quote the values at fault.
  std::string message =
      Context(sql) + ": " +
      (primary != nullptr ? std::string(primary)
                          : OneLine(PQresultErrorMessage(result)));
  Status status;
  if (broken()) {
    status = Status::Unavailable("lost the connection to PostgreSQL: " +
                                 std::move(message));
  } else if (sqlstate == "40001" || sqlstate == "40P01") {
    transient_failure_ = true;
    status = Status::Unavailable(std::move(message));
  } else if (sqlstate == kPgUniqueViolation) {
    status = Status::Conflict(std::move(message));
  } else if (StartsWith(sqlstate, "08") || StartsWith(sqlstate, "53") ||
             sqlstate == "57P01" || sqlstate == "57P02" ||
             sqlstate == "57P03" || sqlstate == "55P03" ||
             sqlstate == "57014") {
    status = Status::Unavailable(std::move(message));
  } else {
    status = Status::Internal(std::move(message));
  }
  return PgResult(result, std::move(status), std::move(sqlstate),
                  constraint != nullptr ? constraint : "");
}

PgResult PgConnection::Script(std::string_view sql) {
  return Finish(PQexec(conn_, std::string(sql).c_str()), sql);
}

PgResult PgConnection::ExecParams(std::string_view sql,
                                  std::span<const PgParam> params) {
  std::string key(sql);
  key += '\0';
  std::vector<unsigned> types;
  std::vector<const char*> values;
  types.reserve(params.size());
  values.reserve(params.size());
  for (const PgParam& p : params) {
    if (!p.is_null() && p.text().find('\0') != std::string::npos) {
      // No stored text holds U+0000 (PostgreSQL cannot store it), so the
      // value matches nothing; storing it is impossible.
      if (IsInsert(sql)) {
        return PgResult(
            nullptr,
            Status::InvalidRequest("text holding U+0000 cannot be stored"), "",
            "");
      }
      return PgResult(nullptr, Status::Ok(), "", "");
    }
    types.push_back(p.type());
    values.push_back(p.is_null() ? nullptr : p.text().c_str());
    key += std::to_string(p.type());
    key += ',';
  }

  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "agentry_" + std::to_string(prepared_.size() + 1);
    PgResult prepared =
        Finish(PQprepare(conn_, name.c_str(), std::string(sql).c_str(),
                         static_cast<int>(types.size()), types.data()),
               sql);
    if (!prepared.ok()) return prepared;
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  return Finish(PQexecPrepared(conn_, it->second.c_str(),
                               static_cast<int>(values.size()), values.data(),
                               /*paramLengths=*/nullptr,
                               /*paramFormats=*/nullptr, /*resultFormat=*/0),
                sql);
}

bool PgConnection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

Status PgConnection::Reset() {
  prepared_.clear();
  transient_failure_ = false;
  PQreset(conn_);
  if (broken()) {
    return Status::Unavailable("cannot reconnect to PostgreSQL: " +
                               OneLine(PQerrorMessage(conn_)));
  }
  return Configure();
}

bool PgConnection::InTransaction() const {
  const PGTransactionStatusType state = PQtransactionStatus(conn_);
  return state == PQTRANS_INTRANS || state == PQTRANS_INERROR ||
         state == PQTRANS_ACTIVE;
}

}  // namespace agentry
