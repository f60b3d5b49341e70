// One PostgreSQL table of organization-owned, revisioned JSON
// configurations: columns (organization_id, id, config, revision,
// created_at, updated_at) plus "extra" columns denormalised from the
// configuration (a pool's name for its UNIQUE constraint, a profile's
// enabled flag). Tools, profiles and pools are such tables; this holds their
// create, get, list, query, update and delete once. Internal to the
// PostgreSQL backend; the same rules as sqlite/sqlite_config_table.h.
//
// Table and column names are compile-time constants given by the stores;
// every value is bound. Mutations lock the row they check (FOR UPDATE), so a
// revision check and the change it guards are atomic across nodes.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/config_row.h"
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/store.h"

namespace agentry {

class PgWriter;
class PgReadPool;

namespace pg {

using ::agentry::ConfigRow;

struct ConfigTableSpec {
  const char* table;  // "pools"
  const char* what;   // "pool": error messages ("pool x not found")
  // Extra columns and how to compute them from a configuration, in order.
  std::vector<const char*> extra_columns;
  std::function<std::vector<PgParam>(const boost::json::object&)> extras;
  // The field a UNIQUE violation other than the primary key's names
  // ("name"), or empty when the extras carry no UNIQUE constraint.
  const char* unique_field = "";
};

class ConfigTable {
 public:
  ConfigTable(ConfigTableSpec spec, PgWriter& writer, PgReadPool& readers);

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
  // kPreconditionFailed as Update; kNotFound when absent.
  Status Delete(std::string_view organization_id, std::string_view id,
                std::optional<int64_t> expected_revision);

  // kNotFound unless the row exists (inside a write job); the row is then
  // locked against deletion (FOR KEY SHARE) until the transaction ends.
  Status CheckExists(PgConnection& c, std::string_view organization_id,
                     std::string_view id) const;

  const char* what() const { return spec_.what; }

 private:
  Status NotFound(std::string_view id) const;
  // Locks the row (FOR UPDATE) and checks its revision.
  Status CheckRevision(PgConnection& c, std::string_view organization_id,
                       std::string_view id,
                       std::optional<int64_t> expected) const;
  Status WriteError(const PgResult& failed, std::string_view organization_id,
                    std::string_view id) const;

  const ConfigTableSpec spec_;
  PgWriter& writer_;
  PgReadPool& readers_;
  // Constant SQL built once from the spec.
  std::string insert_sql_, get_sql_, list_sql_, update_sql_, lock_sql_,
      exists_sql_, delete_sql_;
};

}  // namespace pg
}  // namespace agentry
