// The optional, client-chosen prefixed id of a create body (tol_…, ins_…)
// and the insert that generates one when the client gave none.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry {

// Removes `id` from `body` and returns it: nullopt when absent or null;
// kInvalidRequest (field "id") when it is not a string matching
// ^<prefix>[0-9a-zA-Z_-]+$ of at most 64 characters.
Result<std::optional<std::string>> TakePrefixedId(boost::json::object& body,
                                                  std::string_view prefix);

// Calls `insert` with `given`, or with a generated `prefix` + 16 random
// alphanumerics, drawn again (up to three times) when `insert` answers
// kConflict for a generated id. Returns `insert`'s last status and, through
// `id`, the id it was called with.
Status InsertWithId(const std::optional<std::string>& given,
                    std::string_view prefix, std::string* id,
                    const std::function<Status()>& insert);

}  // namespace agentry
