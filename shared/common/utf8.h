// UTF-8: the one home for validating, decoding, encoding, repairing and excerpting UTF-8 text.
// Exists because every input from outside (HTTP bodies, wire messages, bot files, model vocabs)
// is checked or quoted as UTF-8, and six copies of these loops had drifted apart (issue 15).
// Depends on status.h only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley {

/// U+FFFD, what invalid input becomes wherever text is repaired.
inline constexpr char32_t kReplacementChar = 0xFFFD;

/// Length (1..4) of the valid UTF-8 sequence at s[i], or 0 when it is invalid there (a stray
/// continuation byte, an overlong form, a surrogate, a code point past U+10FFFF, or truncated).
/// `i` must be < s.size().
std::size_t utf8_length(std::string_view s, std::size_t i);

/// One step of lenient decoding: invalid input consumes exactly one byte (so byte offsets stay
/// exact and the raw bytes can be round-tripped) and decodes as U+FFFD.
struct Utf8Decoded {
  char32_t cp;        ///< the code point; U+FFFD when !valid
  std::uint32_t len;  ///< bytes consumed (>= 1)
  bool valid;
};
/// Decodes the code point at s[pos] (pos < s.size()).
Utf8Decoded decode_utf8(std::string_view s, std::size_t pos);

/// Appends `cp` as UTF-8; surrogates and values above U+10FFFF become U+FFFD.
void append_utf8(std::string& out, char32_t cp);

/// Offset of the first byte that is not valid UTF-8, or nullopt when all of `s` is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view s);

/// True when `s` is well-formed UTF-8; on false, *bad_offset (when given) is the first bad byte.
bool valid_utf8(std::string_view s, std::size_t* bad_offset = nullptr);

/// OK, or INVALID_ARGUMENT "<what> is not valid UTF-8 (bad byte sequence at offset N)".
Status check_utf8(std::string_view what, std::string_view value);

/// True when `pos` is 0, s.size(), or not a UTF-8 continuation byte (false past the end).
bool on_utf8_boundary(std::string_view s, std::size_t pos);

/// The largest position <= min(pos, s.size()) that is on a UTF-8 boundary.
std::size_t utf8_floor(std::string_view s, std::size_t pos);

/// Length of the longest prefix of `s` that is complete UTF-8, treating invalid bytes as complete
/// (they are emitted, not held back): only a truncated but so-far-valid tail is excluded. For
/// streamed text cut at arbitrary byte positions.
std::size_t complete_utf8_prefix(std::string_view s);

/// Appends `s` with every invalid sequence replaced by U+FFFD (one per bad byte).
void append_valid_utf8(std::string& out, std::string_view s);

/// A short excerpt of untrusted `text` for error messages and logs: at most `max_bytes` bytes of
/// it, cut on a UTF-8 boundary, invalid bytes repaired, "..." appended when it was cut. Errors
/// quote user input only through this, so a 5 KB input never comes back in a 5 KB error.
std::string excerpt(std::string_view text, std::size_t max_bytes = 40);

}  // namespace parley
