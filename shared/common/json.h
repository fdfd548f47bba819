// JSON string quoting shared by logging and the HTTP layer, and the UTF-8 helpers it rests on.
// Exists because both quote untrusted input (client text ends up in log lines and error bodies):
// the output must be valid JSON and valid UTF-8 whatever bytes came in. Depends on nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

/// Appends `s` as a quoted JSON string; invalid UTF-8 sequences become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// Appends code point `cp` as UTF-8; surrogates and values above U+10FFFF become U+FFFD.
void append_utf8(std::string& out, char32_t cp);

/// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (overlong, surrogate, truncated).
std::size_t utf8_length(std::string_view s, std::size_t i);

}  // namespace parley
