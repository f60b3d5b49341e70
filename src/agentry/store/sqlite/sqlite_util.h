// Small helpers the SQLite aggregate stores share: JSON columns, the list
// limit rule and read transactions. Internal to the SQLite backend.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"

namespace agentry::sqlite {

// A JSON object column's text.
std::string ToJson(const boost::json::object& object);

// A list of strings as a JSON array's text (for json_each()).
std::string ToJsonArray(const std::vector<std::string>& items);

// A JSON object column read back. kInternal naming `what` when the stored
// text is not a JSON object.
Result<boost::json::object> ParseObject(const std::string& text,
                                        std::string_view what);

// kInvalidRequest (field "limit") unless 1 ≤ limit ≤ 200.
Status CheckLimit(size_t limit);

// Runs `fn` (returning Result<T>) inside one read transaction, so that its
// statements share one snapshot.
template <class T, class Fn>
Result<T> InReadTransaction(SqliteConnection& c, Fn&& fn) {
  AGENTRY_RETURN_IF_ERROR(c.Exec("BEGIN"));
  Result<T> result = fn();
  const Status ended = c.Exec("COMMIT");
  if (!ended.ok()) {
    if (c.InTransaction()) (void)c.Exec("ROLLBACK");
    if (result.ok()) return ended;
  }
  return result;
}

// Steps `stmt` (selected with LIMIT limit + 1) and reads at most `limit`
// rows with `read` (a function of the statement returning Result<T>);
// has_more when one more row follows.
template <class T, class Read>
Result<Page<T>> ReadPage(SqliteStatement& stmt, size_t limit, Read&& read) {
  Page<T> out;
  while (true) {
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (out.items.size() == limit) {
      out.has_more = true;
      break;
    }
    AGENTRY_ASSIGN_OR_RETURN(T item, read(stmt));
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace agentry::sqlite
