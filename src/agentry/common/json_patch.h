// JSON Patch (RFC 6902), JSON Pointer tokens (RFC 6901) and JSON Merge Patch
// (RFC 7396) over Boost.JSON values. Pure functions; thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry::json {

// A patch that turns `from` into `to`: only "add", "remove" and "replace"
// operations with RFC 6901 paths. Objects are compared member by member
// (removals first, in `from`'s order; then replacements and additions in
// `to`'s order); arrays element by element over the common length, then
// elements added at the end in order or removed from the end backwards;
// values of different types, and scalars that differ, are replaced whole.
// Equal documents give an empty patch. Deterministic. Here and in "test",
// numbers are equal when their values are: 5 (int64) == 5 (uint64) == 5.0,
// 1 != 1.5; member order never matters.
boost::json::array Diff(const boost::json::value& from,
                        const boost::json::value& to);

// Applies an RFC 6902 patch (add, remove, replace, move, copy, test) to a
// copy of `doc`. kInvalidRequest naming the operation ("[2].path") when an
// operation is malformed, its path does not exist, or a test fails; `doc`
// is never changed.
Result<boost::json::value> ApplyPatch(const boost::json::value& doc,
                                      const boost::json::array& patch);

// RFC 7396: members of an object `patch` replace or (when null) remove the
// target's members recursively; any other `patch` replaces the target.
boost::json::value MergePatch(const boost::json::value& target,
                              const boost::json::value& patch);

// "a/b" → "a~1b", "m~n" → "m~0n".
std::string EscapePointerToken(std::string_view token);

}  // namespace agentry::json
