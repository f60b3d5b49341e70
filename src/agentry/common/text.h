// Unicode text helpers. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace agentry {

// Lower-cases valid UTF-8 with Unicode's simple case mapping (from the
// C.UTF-8 locale's tables), for case-insensitive matching of names: "ÄΩ"
// becomes "äω". Invalid bytes are copied unchanged. Without C.UTF-8 (not a
// Debian machine), only ASCII is folded.
std::string FoldCase(std::string_view utf8);

// Whether an If-Match or If-None-Match header value (a comma-separated list
// of entity tags, or "*") names `etag` (quoted, as sent in ETag). With
// `weak` (If-None-Match), a W/ prefix is ignored; otherwise (If-Match's
// strong comparison) weak tags never match. An empty header names nothing.
bool EtagListMatches(std::string_view header, std::string_view etag, bool weak);

}  // namespace agentry
