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

}  // namespace agentry
