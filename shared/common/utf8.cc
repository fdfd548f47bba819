// UTF-8 validation, decoding, encoding, repair and excerpts (see utf8.h).
// Exists so every library shares one strict definition of valid UTF-8.
// Depends on utf8.h.
#include "shared/common/utf8.h"

#include <algorithm>

namespace parley {

std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  char32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;  // a continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

Utf8Decoded decode_utf8(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1, true};
  const std::size_t n = utf8_length(s, pos);
  if (n == 0) return {kReplacementChar, 1, false};
  char32_t cp = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  return {cp, static_cast<std::uint32_t>(n), true};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<std::size_t> find_invalid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

bool valid_utf8(std::string_view s, std::size_t* bad_offset) {
  auto bad = find_invalid_utf8(s);
  if (bad && bad_offset != nullptr) *bad_offset = *bad;
  return !bad;
}

Status check_utf8(std::string_view what, std::string_view value) {
  auto bad = find_invalid_utf8(value);
  if (!bad) return Status::ok();
  return invalid_argument(std::string(what) + " is not valid UTF-8 (bad byte sequence at offset " +
                          std::to_string(*bad) + ")");
}

bool on_utf8_boundary(std::string_view s, std::size_t pos) {
  if (pos == 0 || pos >= s.size()) return pos <= s.size();
  return (static_cast<unsigned char>(s[pos]) & 0xC0) != 0x80;
}

std::size_t utf8_floor(std::string_view s, std::size_t pos) {
  pos = std::min(pos, s.size());
  // At most 3 continuation bytes precede a lead byte in valid text; invalid runs stop there too.
  for (int k = 0; k < 3 && pos > 0 && !on_utf8_boundary(s, pos); ++k) --pos;
  return pos;
}

std::size_t complete_utf8_prefix(std::string_view s) {
  // Only the last <= 3 bytes can be an unfinished sequence; look at where the last lead byte is.
  const std::size_t n = s.size();
  const std::size_t look = std::min<std::size_t>(n, 3);
  for (std::size_t k = 1; k <= look; ++k) {
    const auto b = static_cast<unsigned char>(s[n - k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    std::size_t need = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 4;
    }
    if (need > k) {
      // The tail is a prefix of a multi-byte sequence; hold it back only if it could still
      // become valid (decoding the available bytes shows no error before the end).
      bool viable = true;
      for (std::size_t i = 1; i < k; ++i) {
        const auto c = static_cast<unsigned char>(s[n - k + i]);
        if ((c & 0xC0) != 0x80) viable = false;
      }
      if (k >= 2) {
        const auto c1 = static_cast<unsigned char>(s[n - k + 1]);
        if ((b == 0xE0 && c1 < 0xA0) || (b == 0xED && c1 > 0x9F) || (b == 0xF0 && c1 < 0x90) ||
            (b == 0xF4 && c1 > 0x8F)) {
          viable = false;
        }
      }
      return viable ? n - k : n;
    }
    return n;
  }
  return n;
}

void append_valid_utf8(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      append_utf8(out, kReplacementChar);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
}

std::string excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out;
  if (text.size() <= max_bytes) {
    append_valid_utf8(out, text);
    return out;
  }
  append_valid_utf8(out, text.substr(0, utf8_floor(text, max_bytes)));
  out += "...";
  return out;
}

}  // namespace parley
