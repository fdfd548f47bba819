// Unicode for tokenizers: UTF-8 decoding that never fails, general categories, NFD, lowercase.
// Exists because every tokenizer family classifies code points (\p{L}, \p{N}, punctuation, Mn
// accents, whitespace) and must agree with HF tokenizers / llama.cpp without linking ICU.
// Depends on the generated tables in unicode_data.cc (tools/gen_unicode_tables.py).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/common/utf8.h"

namespace parley::text::unicode {

/// Unicode general category; the order is the generator's (do not reorder).
enum class Category : std::uint8_t {
  kLu, kLl, kLt, kLm, kLo, kMn, kMc, kMe, kNd, kNl, kNo, kPc, kPd, kPs, kPe, kPi, kPf, kPo,
  kSm, kSc, kSk, kSo, kZs, kZl, kZp, kCc, kCf, kCs, kCo, kCn,
};

/// The Unicode version the tables were generated from ("14.0.0").
std::string_view tables_version();

/// General category of `cp`; unassigned and out-of-range code points are kCn.
Category category(char32_t cp);

inline bool is_letter(Category c) { return c <= Category::kLo; }
inline bool is_mark(Category c) { return c >= Category::kMn && c <= Category::kMe; }
inline bool is_number(Category c) { return c >= Category::kNd && c <= Category::kNo; }
inline bool is_punctuation(Category c) { return c >= Category::kPc && c <= Category::kPo; }
inline bool is_symbol(Category c) { return c >= Category::kSm && c <= Category::kSo; }
inline bool is_separator(Category c) { return c >= Category::kZs && c <= Category::kZp; }
inline bool is_other(Category c) { return c >= Category::kCc; }

inline bool is_letter(char32_t cp) { return is_letter(category(cp)); }
inline bool is_number(char32_t cp) { return is_number(category(cp)); }

/// The White_Space property (what regex `\s` means in HF and llama.cpp pre-tokenizers).
bool is_whitespace(char32_t cp);

/// Writes the full canonical decomposition (NFD) of `cp` to `out` (room for 4) and returns its
/// length; 1 with out[0] == cp when `cp` does not decompose. Hangul syllables decompose to jamo.
/// Canonical reordering of combining marks is not applied (tokenizers drop or keep them whole).
std::size_t decompose(char32_t cp, char32_t* out);

/// Writes the lowercase of `cp` to `out` (room for 2) and returns its length (per code point,
/// like Rust's char::to_lowercase: no context-dependent final sigma).
std::size_t to_lower(char32_t cp, char32_t* out);

/// UTF-8 decoding and encoding live in shared/common/utf8.h (one home for UTF-8); the names
/// tokenizers use are these.
using Decoded = parley::Utf8Decoded;
using parley::append_utf8;
using parley::complete_utf8_prefix;
using parley::decode_utf8;

}  // namespace parley::text::unicode
