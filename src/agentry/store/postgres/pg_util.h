// Small helpers the PostgreSQL aggregate stores share: JSON columns, the list
// limit rule, read transactions and pages. Internal to the PostgreSQL
// backend.
#pragma once

#include <algorithm>
#include <boost/json/object.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/store.h"

namespace agentry::pg {

// A JSON object column's text: the object serialised as given, members in
// their order (stored as TEXT, never jsonb, so it reads back byte for byte).
std::string ToJson(const boost::json::object& object);

// A list of strings as a JSON array's text.
std::string ToJsonArray(const std::vector<std::string>& items);

// A JSON object column read back. kInternal naming `what` when the stored
// text is not a JSON object.
Result<boost::json::object> ParseObject(const std::string& text,
                                        std::string_view what);

// A JSON array of strings read back. kInternal naming `what` otherwise.
Result<std::vector<std::string>> ParseStringArray(const std::string& text,
                                                  std::string_view what);

// kInvalidRequest (field "limit") unless 1 ≤ limit ≤ 200.
Status CheckLimit(size_t limit);

// Runs `fn` (returning Result<T>) inside one read-only REPEATABLE READ
// transaction, so that its statements share one snapshot.
template <class T, class Fn>
Result<T> InReadTransaction(PgConnection& c, Fn&& fn) {
  AGENTRY_RETURN_IF_ERROR(
      c.Script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").status());
  Result<T> result = fn();
  if (!result.ok()) {
    if (c.InTransaction()) (void)c.Script("ROLLBACK");
    return result;
  }
  PgResult ended = c.Script("COMMIT");
  if (!ended.ok()) {
    if (c.InTransaction()) (void)c.Script("ROLLBACK");
    return ended.status();
  }
  return result;
}

// Reads at most `limit` rows of `rows` (selected with LIMIT limit + 1) with
// `read` (a function of the result and a row index returning Result<T>);
// has_more when one more row follows.
template <class T, class Read>
Result<Page<T>> ReadPage(const PgResult& rows, size_t limit, Read&& read) {
  AGENTRY_RETURN_IF_ERROR(rows.status());
  Page<T> out;
  const size_t n = static_cast<size_t>(rows.rows());
  out.has_more = n > limit;
  out.items.reserve(std::min(n, limit));
  for (size_t i = 0; i < n && i < limit; ++i) {
    AGENTRY_ASSIGN_OR_RETURN(T item, read(rows, static_cast<int>(i)));
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace agentry::pg
