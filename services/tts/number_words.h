// English number words: cardinals, ordinals, years, digit strings. Why: the voice speaks what
// espeak-ng reads, and espeak reads "2026" or "19:30" its own way; the normaliser spells
// numbers out so dates, times and prices come out as people say them. Depends on nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::tts {

/// 0 -> "zero", 42 -> "forty-two", 1234567 -> "one million two hundred thirty-four thousand five
/// hundred sixty-seven". |n| < 10^15; negatives get "minus".
std::string cardinal_words(std::int64_t n);
/// 1 -> "first", 22 -> "twenty-second", 100 -> "one hundredth".
std::string ordinal_words(std::int64_t n);
/// Years as read aloud: 1999 -> "nineteen ninety-nine", 2005 -> "two thousand five",
/// 2026 -> "twenty twenty-six", 1900 -> "nineteen hundred".
std::string year_words(std::int64_t year);
/// Each digit as a word: "0512" -> "zero five one two".
std::string digit_words(std::string_view digits);

}  // namespace parley::tts
