// Text helpers for QA: sentence splitting with byte offsets, word tokens for
// lexical overlap, stop words. Exists because chunking, answer extraction and the evaluation all
// need the same notion of "sentence" and "word". Depends on shared/common/utf8.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/utf8.h"

namespace parley::qa {

/// UTF-8 validation is shared/common/utf8.h's (one home for UTF-8).
using parley::valid_utf8;

/// A half-open byte range [begin, end) into some text.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
};

/// Splits prose into sentences (trimmed byte ranges). A sentence ends at . ! ? (plus closing
/// quotes/brackets) followed by whitespace and then not a lower-case letter, or at a blank line.
/// Abbreviations ("e.g.", "Mr.", "St.", "U.S."), single-letter initials and decimals do not end one.
std::vector<Span> split_sentences(std::string_view text);

/// A word token: lower-cased ASCII letters/digits (other UTF-8 bytes kept as is) with its span.
struct Word {
  std::string norm;
  Span span;
};
/// Words of `text`: runs of letters, digits, apostrophes inside words, and non-ASCII bytes.
std::vector<Word> words(std::string_view text);

/// English function words ("the", "of", "what", ...), lower case.
bool is_stop_word(std::string_view lower_word);

/// A crude stem for matching ("centuries" ~ "century", "ruled" ~ "rule"): strips common suffixes.
std::string stem(std::string_view lower_word);

/// Number of whitespace-separated words (the "token" unit of chunk sizes).
std::size_t count_words(std::string_view text);

}  // namespace parley::qa
