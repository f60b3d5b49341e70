// One SQLite table of organization-owned, revisioned JSON configurations:
// columns (organization_id, id, config, revision, created_at, updated_at)
// plus "extra" columns denormalised from the configuration (a pool's name
// for its UNIQUE constraint, a profile's enabled flag). Tools, profiles and
// pools are such tables; this holds their create, get, list, update and
// delete once. Internal to the SQLite backend.
//
// Table and column names are compile-time constants given by the stores;
// every value is bound.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/config_row.h"
#include "agentry/store/store.h"

namespace agentry {

class GroupCommitWriter;
class SqliteReadPool;
class SqliteConnection;

namespace sqlite {

using ::agentry::ConfigRow;

struct ConfigTableSpec {
  const char* table;  // "pools"
  const char* what;   // "pool": error messages ("pool x not found")
  // Extra columns and how to compute them from a configuration, in order.
  std::vector<const char*> extra_columns;
  std::function<std::vector<std::variant<int64_t, std::string>>(
      const boost::json::object&)>
      extras;
  // The field a UNIQUE violation on the extra columns names ("name"), or
  // empty when they carry no UNIQUE constraint.
  const char* unique_field = "";
};

class ConfigTable {
 public:
  ConfigTable(ConfigTableSpec spec, GroupCommitWriter& writer,
              SqliteReadPool& readers);

  // kConflict: field "id" for a taken id, unique_field for the extras'
  // UNIQUE constraint. kNotFound for an unknown organization.
  Status Create(const ConfigRow& row);
  Result<ConfigRow> Get(std::string_view organization_id, std::string_view id);
  Result<Page<ConfigRow>> List(std::string_view organization_id,
                               const PageRequest& page);
  // The rows whose `text_column` contains `needle` (ASCII case-insensitive;
  // "" matches every row), ordered by `order_column` then id (both
  // descending or both ascending), from `offset`, at most `limit` (1–200);
  // and how many match in all. Column names are the caller's constants.
  struct QueryResult {
    std::vector<ConfigRow> rows;
    int64_t total = 0;
  };
  Result<QueryResult> Query(std::string_view organization_id,
                            const char* text_column, std::string_view needle,
                            const char* order_column, bool descending,
                            int64_t offset, size_t limit);
  // revision + 1; kPreconditionFailed when expected_revision is set and
  // differs; kNotFound when absent.
  Result<ConfigRow> Update(std::string_view organization_id,
                           std::string_view id,
                           std::optional<int64_t> expected_revision,
                           const boost::json::object& config, int64_t at_ms);
  // `also` runs in the same transaction, before the row is deleted.
  Status Delete(std::string_view organization_id, std::string_view id,
                std::optional<int64_t> expected_revision,
                const std::function<Status(SqliteConnection&)>& also = nullptr);

  // kNotFound unless the row exists (inside a write job).
  Status CheckExists(SqliteConnection& c, std::string_view organization_id,
                     std::string_view id) const;

  const char* what() const { return spec_.what; }

 private:
  Status NotFound(std::string_view id) const;
  Status CheckRevision(SqliteConnection& c, std::string_view organization_id,
                       std::string_view id,
                       std::optional<int64_t> expected) const;
  Status InsertError(Status st, const ConfigRow& row) const;

  const ConfigTableSpec spec_;
  GroupCommitWriter& writer_;
  SqliteReadPool& readers_;
  // Constant SQL built once from the spec.
  std::string insert_sql_, get_sql_, list_sql_, update_sql_, revision_sql_,
      delete_sql_;
};

}  // namespace sqlite
}  // namespace agentry
