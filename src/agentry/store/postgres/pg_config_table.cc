#include "agentry/store/postgres/pg_config_table.h"

#include <utility>

#include "agentry/store/postgres/pg_pool.h"
#include "agentry/store/postgres/pg_util.h"
#include "agentry/store/postgres/pg_writer.h"

namespace agentry::pg {

namespace {

constexpr const char* kColumns =
    "organization_id, id, config, revision, created_at, updated_at";

Result<ConfigRow> ReadRow(const PgResult& r, int row, const char* what) {
  ConfigRow out;
  out.organization_id = r.Text(row, 0);
  out.id = r.Text(row, 1);
  AGENTRY_ASSIGN_OR_RETURN(
      out.config, ParseObject(r.Text(row, 2),
                              std::string("config of ") + what + " " + out.id));
  out.revision = r.Int64(row, 3);
  out.created_at_ms = r.Int64(row, 4);
  out.updated_at_ms = r.Int64(row, 5);
  return out;
}

}  // namespace

ConfigTable::ConfigTable(ConfigTableSpec spec, PgWriter& writer,
                         PgReadPool& readers)
    : spec_(std::move(spec)), writer_(writer), readers_(readers) {
  const std::string table = spec_.table;
  std::string extra_names, extra_marks, extra_sets;
  int n = 5;  // insert: $1–$5 are the common columns
  int m = 2;  // update: $1 config, $2 updated_at
  for (const char* c : spec_.extra_columns) {
    extra_names += std::string(", ") + c;
    extra_marks += ", $" + std::to_string(++n);
    extra_sets += std::string(", ") + c + " = $" + std::to_string(++m);
  }
  insert_sql_ = "INSERT INTO " + table + " (" + kColumns + extra_names +
                ") VALUES ($1, $2, $3, 1, $4, $5" + extra_marks + ")";
  get_sql_ = std::string("SELECT ") + kColumns + " FROM " + table +
             " WHERE organization_id = $1 AND id = $2";
  list_sql_ = std::string("SELECT ") + kColumns + " FROM " + table +
              " WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3";
  update_sql_ = "UPDATE " + table +
                " SET config = $1, revision = revision + 1, updated_at = $2" +
                extra_sets + " WHERE organization_id = $" +
                std::to_string(m + 1) + " AND id = $" + std::to_string(m + 2) +
                " RETURNING " + kColumns;
  lock_sql_ = "SELECT revision FROM " + table +
              " WHERE organization_id = $1 AND id = $2 FOR UPDATE";
  exists_sql_ = "SELECT 1 FROM " + table +
                " WHERE organization_id = $1 AND id = $2 FOR KEY SHARE";
  delete_sql_ =
      "DELETE FROM " + table + " WHERE organization_id = $1 AND id = $2";
}

Status ConfigTable::NotFound(std::string_view id) const {
  return Status::NotFound(std::string(spec_.what) + " " + std::string(id) +
                          " not found");
}

Status ConfigTable::WriteError(const PgResult& failed,
                               std::string_view organization_id,
                               std::string_view id) const {
  if (failed.sqlstate() == kPgForeignKeyViolation) {
    return Status::NotFound("organization " + std::string(organization_id) +
                            " not found");
  }
  if (failed.sqlstate() == kPgUniqueViolation) {
    if (*spec_.unique_field != '\0' &&
        failed.constraint() != std::string(spec_.table) + "_pkey") {
      return Status::Conflict(std::string("another ") + spec_.what +
                                  " has this " + spec_.unique_field,
                              spec_.unique_field);
    }
    return Status::Conflict(
        std::string(spec_.what) + " " + std::string(id) + " already exists",
        "id");
  }
  return failed.status();
}

Status ConfigTable::CheckExists(PgConnection& c,
                                std::string_view organization_id,
                                std::string_view id) const {
  PgResult r = c.Exec(exists_sql_, organization_id, id);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) return NotFound(id);
  return Status::Ok();
}

Status ConfigTable::CheckRevision(PgConnection& c,
                                  std::string_view organization_id,
                                  std::string_view id,
                                  std::optional<int64_t> expected) const {
  PgResult r = c.Exec(lock_sql_, organization_id, id);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) return NotFound(id);
  const int64_t revision = r.Int64(0, 0);
  if (expected && *expected != revision) {
    return Status::PreconditionFailed(
        std::string(spec_.what) + " " + std::string(id) + " is at revision " +
        std::to_string(revision) + ", not " + std::to_string(*expected));
  }
  return Status::Ok();
}

Status ConfigTable::Create(const ConfigRow& row) {
  std::vector<PgParam> params = {row.organization_id, row.id,
                                 ToJson(row.config), row.created_at_ms,
                                 row.updated_at_ms};
  if (spec_.extras) {
    for (PgParam& p : spec_.extras(row.config)) params.push_back(std::move(p));
  }
  return writer_.Write([&](PgConnection& c) -> Status {
    PgResult r = c.ExecParams(insert_sql_, params);
    if (!r.ok()) return WriteError(r, row.organization_id, row.id);
    return Status::Ok();
  });
}

Result<ConfigRow> ConfigTable::Get(std::string_view organization_id,
                                   std::string_view id) {
  return readers_.With([&](PgConnection& c) -> Result<ConfigRow> {
    PgResult r = c.Exec(get_sql_, organization_id, id);
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() == 0) return NotFound(id);
    return ReadRow(r, 0, spec_.what);
  });
}

Result<Page<ConfigRow>> ConfigTable::List(std::string_view organization_id,
                                          const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  return readers_.With([&](PgConnection& c) -> Result<Page<ConfigRow>> {
    PgResult r = c.Exec(list_sql_, organization_id, page.after_id.value_or(""),
                        static_cast<int64_t>(page.limit) + 1);
    return ReadPage<ConfigRow>(r, page.limit,
                               [this](const PgResult& rows, int i) {
                                 return ReadRow(rows, i, spec_.what);
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
  // lower() under "C" folds ASCII only, as SQLite's lower(); strpos() takes
  // the needle literally (no pattern characters).
  const std::string where =
      " WHERE organization_id = $1 AND ($2 = '' OR strpos(lower(" +
      std::string(text_column) + "), lower($2 COLLATE \"C\")) > 0)";
  const char* dir = descending ? " DESC" : " ASC";
  const std::string rows_sql = std::string("SELECT ") + kColumns + " FROM " +
                               table + where + " ORDER BY " + order_column +
                               dir + ", id" + dir + " LIMIT $3 OFFSET $4";
  const std::string count_sql = "SELECT count(*) FROM " + table + where;
  return readers_.With([&](PgConnection& c) -> Result<QueryResult> {
    return InReadTransaction<QueryResult>(c, [&]() -> Result<QueryResult> {
      QueryResult out;
      PgResult count = c.Exec(count_sql, organization_id, needle);
      AGENTRY_RETURN_IF_ERROR(count.status());
      out.total = count.Int64(0, 0);
      PgResult rows = c.Exec(rows_sql, organization_id, needle,
                             static_cast<int64_t>(limit), offset);
      AGENTRY_RETURN_IF_ERROR(rows.status());
      out.rows.reserve(static_cast<size_t>(rows.rows()));
      for (int i = 0; i < rows.rows(); ++i) {
        AGENTRY_ASSIGN_OR_RETURN(ConfigRow r, ReadRow(rows, i, spec_.what));
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
  std::vector<PgParam> params = {ToJson(config), at_ms};
  if (spec_.extras) {
    for (PgParam& p : spec_.extras(config)) params.push_back(std::move(p));
  }
  params.emplace_back(organization_id);
  params.emplace_back(id);
  std::optional<ConfigRow> out;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    out.reset();
    AGENTRY_RETURN_IF_ERROR(
        CheckRevision(c, organization_id, id, expected_revision));
    PgResult r = c.ExecParams(update_sql_, params);
    if (!r.ok()) return WriteError(r, organization_id, id);
    if (r.rows() == 0) return NotFound(id);
    AGENTRY_ASSIGN_OR_RETURN(out, ReadRow(r, 0, spec_.what));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Status ConfigTable::Delete(std::string_view organization_id,
                           std::string_view id,
                           std::optional<int64_t> expected_revision) {
  return writer_.Write([&](PgConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(
        CheckRevision(c, organization_id, id, expected_revision));
    return c.Exec(delete_sql_, organization_id, id).status();
  });
}

}  // namespace agentry::pg
