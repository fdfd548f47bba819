// Unicode lookups over the generated tables, and lenient UTF-8 decoding.
// Exists so tokenizers share one classification of code points (see unicode.h).
// Depends on unicode_tables.h / unicode_data.cc.
#include "shared/text/unicode.h"

#include <algorithm>

#include "shared/common/json.h"
#include "shared/text/unicode_tables.h"

namespace parley::text::unicode {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Hangul syllable arithmetic (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = 11172;

}  // namespace

std::string_view tables_version() { return detail::kUnicodeVersion; }

Category category(char32_t cp) {
  if (cp < 0x80) {
    // Fast path for ASCII: the first runs of the table cover it, but a search costs ~12 steps.
    static const Category* ascii = [] {
      static Category table[0x80];
      for (char32_t c = 0; c < 0x80; ++c) {
        const auto* end = detail::kCategoryRuns + detail::kCategoryRunCount;
        const auto* it = std::upper_bound(detail::kCategoryRuns, end, c,
                                          [](char32_t v, const detail::CategoryRun& r) { return v < r.first; });
        table[c] = static_cast<Category>((it - 1)->category);
      }
      return table;
    }();
    return ascii[cp];
  }
  const auto* begin = detail::kCategoryRuns;
  const auto* end = begin + detail::kCategoryRunCount;
  const auto* it = std::upper_bound(begin, end, cp,
                                    [](char32_t v, const detail::CategoryRun& r) { return v < r.first; });
  if (it == begin) return Category::kCn;
  --it;
  return cp <= it->last ? static_cast<Category>(it->category) : Category::kCn;
}

bool is_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::size_t decompose(char32_t cp, char32_t* out) {
  if (cp < 0xC0) {
    out[0] = cp;
    return 1;
  }
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out[0] = kLBase + s / kNCount;
    out[1] = kVBase + (s % kNCount) / kTCount;
    const char32_t t = s % kTCount;
    if (t == 0) return 2;
    out[2] = kTBase + t;
    return 3;
  }
  const auto* begin = detail::kDecompositions;
  const auto* end = begin + detail::kDecompositionCount;
  const auto* it = std::lower_bound(begin, end, cp, [](const detail::Decomposition& d, char32_t v) {
    return d.code_point < v;
  });
  if (it == end || it->code_point != cp) {
    out[0] = cp;
    return 1;
  }
  std::copy_n(detail::kDecompositionPool + it->offset, it->length, out);
  return it->length;
}

std::size_t to_lower(char32_t cp, char32_t* out) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  if (cp == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: the one one-to-many mapping
    out[0] = 0x69;
    out[1] = 0x307;
    return 2;
  }
  const auto* begin = detail::kLowercase;
  const auto* end = begin + detail::kLowercaseCount;
  const auto* it = std::lower_bound(begin, end, cp, [](const detail::CaseMapping& m, char32_t v) {
    return m.code_point < v;
  });
  out[0] = (it != end && it->code_point == cp) ? static_cast<char32_t>(it->mapped) : cp;
  return 1;
}

Decoded decode_utf8(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1, true};
  std::uint32_t need = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {kReplacement, 1, false};
  }
  if (pos + need >= s.size()) return {kReplacement, 1, false};
  for (std::uint32_t i = 1; i <= need; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return {kReplacement, 1, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kReplacement, 1, false};
  return {cp, need + 1, true};
}

void append_utf8(std::string& out, char32_t cp) { parley::append_utf8(out, cp); }

std::size_t complete_utf8_prefix(std::string_view s) {
  // Only the last <= 3 bytes can be an unfinished sequence; look at where the last lead byte is.
  const std::size_t n = s.size();
  const std::size_t look = std::min<std::size_t>(n, 3);
  for (std::size_t k = 1; k <= look; ++k) {
    const auto b = static_cast<unsigned char>(s[n - k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    std::size_t need = 0;
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) need = 3;
    else if (b >= 0xF0 && b <= 0xF4) need = 4;
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

}  // namespace parley::text::unicode
