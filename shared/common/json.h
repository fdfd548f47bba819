// JSON string quoting shared by logging and the HTTP layer (UTF-8 helpers: utf8.h).
// Exists because both quote untrusted input (client text ends up in log lines and error bodies):
// the output must be valid JSON and valid UTF-8 whatever bytes came in. Depends on utf8.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "shared/common/utf8.h"

namespace parley {

/// Appends `s` as a quoted JSON string; invalid UTF-8 sequences become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

}  // namespace parley
