// The row of a table of organization-owned, revisioned JSON configurations
// (tools, profiles, pools), as both backends' ConfigTable read and write it,
// and its conversions to and from the domain values with the same members.
// Internal to the store backends.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "agentry/common/status.h"
#include "agentry/store/store.h"

namespace agentry {

// The common columns of a row.
struct ConfigRow {
  std::string organization_id;
  std::string id;
  boost::json::object config;
  int64_t revision = 1;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Converts a row to a domain value with the same members.
template <class T>
T FromRow(ConfigRow row) {
  T t;
  t.organization_id = std::move(row.organization_id);
  t.id = std::move(row.id);
  t.config = std::move(row.config);
  t.revision = row.revision;
  t.created_at_ms = row.created_at_ms;
  t.updated_at_ms = row.updated_at_ms;
  return t;
}

template <class T>
ConfigRow ToRow(const T& t) {
  return ConfigRow{t.organization_id, t.id,           t.config, t.revision,
                   t.created_at_ms,   t.updated_at_ms};
}

template <class T>
Result<T> FromRow(Result<ConfigRow> row) {
  if (!row.ok()) return row.status();
  return FromRow<T>(std::move(row).value());
}

template <class T>
Result<Page<T>> FromRows(Result<Page<ConfigRow>> rows) {
  if (!rows.ok()) return rows.status();
  Page<T> out;
  out.has_more = rows->has_more;
  out.items.reserve(rows->items.size());
  for (ConfigRow& r : rows->items) {
    out.items.push_back(FromRow<T>(std::move(r)));
  }
  return out;
}

}  // namespace agentry
