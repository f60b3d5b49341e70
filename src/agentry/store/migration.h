// A numbered schema migration, embedded in the binary at build time from
// migrations/<backend>/NNNN_name.sql (cmake/EmbedMigrations.cmake).
#pragma once

#include <cstddef>

namespace agentry {

struct Migration {
  int version;       // NNNN, strictly increasing
  const char* name;  // the file name without .sql
  const char* sql;   // one or more statements
};

// migrations/sqlite/*.sql and migrations/postgres/*.sql, in order.
extern const Migration kSqliteMigrations[];
extern const size_t kSqliteMigrationsCount;
extern const Migration kPostgresMigrations[];
extern const size_t kPostgresMigrationsCount;

}  // namespace agentry
