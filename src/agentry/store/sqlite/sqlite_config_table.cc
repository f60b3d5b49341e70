#include "agentry/store/sqlite/sqlite_config_table.h"

#include <utility>

#include "agentry/store/sqlite/group_commit.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/sqlite/sqlite_store.h"
#include "agentry/store/sqlite/sqlite_util.h"

namespace agentry::sqlite {

namespace {

constexpr const char* kColumns =
    "organization_id, id, config, revision, created_at, updated_at";

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

Result<ConfigRow> ReadRow(const SqliteStatement& row, const char* what) {
  ConfigRow r;
  r.organization_id = row.Text(0);
  r.id = row.Text(1);
  AGENTRY_ASSIGN_OR_RETURN(
      r.config,
      ParseObject(row.Text(2), std::string("config of ") + what + " " + r.id));
  r.revision = row.Int64(3);
  r.created_at_ms = row.Int64(4);
  r.updated_at_ms = row.Int64(5);
  return r;
}

void BindExtras(SqliteStatement& stmt, int first,
                const std::vector<std::variant<int64_t, std::string>>& values) {
  int i = first;
  for (const auto& v : values) {
    if (const int64_t* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i++, *n);
    } else {
      stmt.Bind(i++, std::get<std::string>(v));
    }
  }
}

}  // namespace

ConfigTable::ConfigTable(ConfigTableSpec spec, GroupCommitWriter& writer,
                         SqliteReadPool& readers)
    : spec_(std::move(spec)), writer_(writer), readers_(readers) {
  const std::string table = spec_.table;
  std::string extra_names, extra_marks, extra_sets;
  for (const char* c : spec_.extra_columns) {
    extra_names += std::string(", ") + c;
    extra_marks += ", ?";
    extra_sets += std::string(", ") + c + " = ?";
  }
  insert_sql_ = "INSERT INTO " + table + " (" + kColumns + extra_names +
                ") VALUES (?, ?, ?, 1, ?, ?" + extra_marks + ")";
  get_sql_ = std::string("SELECT ") + kColumns + " FROM " + table +
             " WHERE organization_id = ? AND id = ?";
  list_sql_ = std::string("SELECT ") + kColumns + " FROM " + table +
              " WHERE organization_id = ? AND id > ? ORDER BY id LIMIT ?";
  update_sql_ = "UPDATE " + table +
                " SET config = ?, revision = revision + 1, updated_at = ?" +
                extra_sets +
                " WHERE organization_id = ? AND id = ? RETURNING " + kColumns;
  revision_sql_ =
      "SELECT revision FROM " + table + " WHERE organization_id = ? AND id = ?";
  delete_sql_ =
      "DELETE FROM " + table + " WHERE organization_id = ? AND id = ?";
}

Status ConfigTable::NotFound(std::string_view id) const {
  return Status::NotFound(std::string(spec_.what) + " " + std::string(id) +
                          " not found");
}

Status ConfigTable::InsertError(Status st, const ConfigRow& row) const {
  if (Contains(st.message(), "FOREIGN KEY constraint failed")) {
    return Status::NotFound("organization " + row.organization_id +
                            " not found");
  }
  if (st.code() == ErrorCode::kConflict) {
    if (*spec_.unique_field != '\0' && !Contains(st.message(), ".id")) {
      return Status::Conflict(std::string("another ") + spec_.what +
                                  " has this " + spec_.unique_field,
                              spec_.unique_field);
    }
    return Status::Conflict(
        std::string(spec_.what) + " " + row.id + " already exists", "id");
  }
  return st;
}

Status ConfigTable::CheckExists(SqliteConnection& c,
                                std::string_view organization_id,
                                std::string_view id) const {
  return CheckRevision(c, organization_id, id, std::nullopt);
}

Status ConfigTable::CheckRevision(SqliteConnection& c,
                                  std::string_view organization_id,
                                  std::string_view id,
                                  std::optional<int64_t> expected) const {
  AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(revision_sql_));
  stmt.BindAll(organization_id, id);
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound(id);
  if (expected && *expected != stmt.Int64(0)) {
    return Status::PreconditionFailed(
        std::string(spec_.what) + " " + std::string(id) + " is at revision " +
        std::to_string(stmt.Int64(0)) + ", not " + std::to_string(*expected));
  }
  return Status::Ok();
}

Status ConfigTable::Create(const ConfigRow& row) {
  const std::string config = ToJson(row.config);
  const auto extras = spec_.extras
                          ? spec_.extras(row.config)
                          : std::vector<std::variant<int64_t, std::string>>();
  return writer_.Write([&](SqliteConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(insert_sql_));
    stmt.BindAll(row.organization_id, row.id, config, row.created_at_ms,
                 row.updated_at_ms);
    BindExtras(stmt, 6, extras);
    Status st = stmt.Run();
    if (!st.ok()) return InsertError(std::move(st), row);
    return Status::Ok();
  });
}

Result<ConfigRow> ConfigTable::Get(std::string_view organization_id,
                                   std::string_view id) {
  return readers_.With([&](SqliteConnection& c) -> Result<ConfigRow> {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(get_sql_));
    stmt.BindAll(organization_id, id);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return NotFound(id);
    return ReadRow(stmt, spec_.what);
  });
}

Result<Page<ConfigRow>> ConfigTable::List(std::string_view organization_id,
                                          const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  return readers_.With([&](SqliteConnection& c) -> Result<Page<ConfigRow>> {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(list_sql_));
    stmt.BindAll(organization_id, page.after_id.value_or(""),
                 static_cast<int64_t>(page.limit) + 1);
    return ReadPage<ConfigRow>(stmt, page.limit,
                               [this](const SqliteStatement& row) {
                                 return ReadRow(row, spec_.what);
                               });
  });
}

Result<ConfigTable::QueryResult> ConfigTable::Query(
    std::string_view organization_id, const char* text_column,
    std::string_view needle, const char* order_column, bool descending,
    int64_t offset, size_t limit) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(limit));
  if (offset < 0) return Status::InvalidRequest("offset must be >= 0");
  const std::string table = spec_.table;
  const std::string where =
      " WHERE organization_id = ?1 AND (?2 = '' OR instr(lower(" +
      std::string(text_column) + "), lower(?2)) > 0)";
  const char* dir = descending ? " DESC" : " ASC";
  const std::string rows_sql = std::string("SELECT ") + kColumns + " FROM " +
                               table + where + " ORDER BY " + order_column +
                               dir + ", id" + dir + " LIMIT ?3 OFFSET ?4";
  const std::string count_sql = "SELECT count(*) FROM " + table + where;
  return readers_.With([&](SqliteConnection& c) -> Result<QueryResult> {
    return InReadTransaction<QueryResult>(c, [&]() -> Result<QueryResult> {
      QueryResult out;
      AGENTRY_ASSIGN_OR_RETURN(SqliteStatement count, c.Prepare(count_sql));
      count.BindAll(organization_id, needle);
      AGENTRY_ASSIGN_OR_RETURN(bool counted, count.Step());
      if (counted) out.total = count.Int64(0);
      AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(rows_sql));
      stmt.BindAll(organization_id, needle, static_cast<int64_t>(limit),
                   offset);
      while (true) {
        AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        AGENTRY_ASSIGN_OR_RETURN(ConfigRow r, ReadRow(stmt, spec_.what));
        out.rows.push_back(std::move(r));
      }
      return out;
    });
  });
}

Result<ConfigRow> ConfigTable::Update(std::string_view organization_id,
                                      std::string_view id,
                                      std::optional<int64_t> expected_revision,
                                      const boost::json::object& config,
                                      int64_t at_ms) {
  const std::string text = ToJson(config);
  const auto extras = spec_.extras
                          ? spec_.extras(config)
                          : std::vector<std::variant<int64_t, std::string>>();
  std::optional<ConfigRow> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_RETURN_IF_ERROR(
        CheckRevision(c, organization_id, id, expected_revision));
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(update_sql_));
    stmt.BindAll(text, at_ms);
    BindExtras(stmt, 3, extras);
    const int next = 3 + static_cast<int>(extras.size());
    stmt.Bind(next, organization_id);
    stmt.Bind(next + 1, id);
    Result<bool> row = stmt.Step();
    if (!row.ok()) {
      ConfigRow probe;
      probe.organization_id = std::string(organization_id);
      probe.id = std::string(id);
      return InsertError(row.status(), probe);
    }
    if (!*row) return NotFound(id);
    AGENTRY_ASSIGN_OR_RETURN(out, ReadRow(stmt, spec_.what));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Status ConfigTable::Delete(
    std::string_view organization_id, std::string_view id,
    std::optional<int64_t> expected_revision,
    const std::function<Status(SqliteConnection&)>& also) {
  return writer_.Write([&](SqliteConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(
        CheckRevision(c, organization_id, id, expected_revision));
    if (also) AGENTRY_RETURN_IF_ERROR(also(c));
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(delete_sql_));
    stmt.BindAll(organization_id, id);
    return stmt.Run();
  });
}

}  // namespace agentry::sqlite
