// Internal: the layout of the generated tables in unicode_data.cc.
// Exists so the generated file and unicode.cc agree on one declaration; nobody else includes it.
// Depends on nothing (the data comes from tools/gen_unicode_tables.py).
#pragma once

#include <cstddef>
#include <cstdint>

namespace parley::text::unicode::detail {

struct CategoryRun {
  std::uint32_t first;
  std::uint32_t last;
  std::uint8_t category;
};
struct Decomposition {
  std::uint32_t code_point;
  std::uint16_t offset;
  std::uint8_t length;
};
struct CaseMapping {
  std::uint32_t code_point;
  std::uint32_t mapped;
};

extern const char kUnicodeVersion[];
extern const CategoryRun kCategoryRuns[];
extern const std::size_t kCategoryRunCount;
extern const char32_t kDecompositionPool[];
extern const Decomposition kDecompositions[];
extern const std::size_t kDecompositionCount;
extern const CaseMapping kLowercase[];
extern const std::size_t kLowercaseCount;

}  // namespace parley::text::unicode::detail
