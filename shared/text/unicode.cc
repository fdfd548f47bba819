// Unicode lookups over the generated tables (UTF-8 decoding: shared/common/utf8.h).
// Exists so tokenizers share one classification of code points (see unicode.h).
// Depends on unicode_tables.h / unicode_data.cc.
#include "shared/text/unicode.h"

#include <algorithm>

#include "shared/text/unicode_tables.h"

namespace parley::text::unicode {
namespace {

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

}  // namespace parley::text::unicode
