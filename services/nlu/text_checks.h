// Text helpers the NLU service shares between training, parsing and the extractors: UTF-8
// validation with the offending offset, ASCII case folding, and a vocabulary-free word splitter.
// Why: every input from outside is checked before it reaches the models. Depends on shared/common.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::nlu {

/// A byte range [begin, end) in a text.
struct ByteSpan {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const ByteSpan&, const ByteSpan&) = default;
};

/// Offset of the first byte that is not valid UTF-8, or nullopt when all of `s` is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view s);

/// True when `pos` is 0, s.size(), or not a UTF-8 continuation byte.
bool on_utf8_boundary(std::string_view s, std::size_t pos);

/// ASCII lower case (non-ASCII bytes unchanged: enough for matching synonyms typed as defined).
std::string ascii_lower(std::string_view s);

/// Words the way BERT's pre-tokenizer cuts them (whitespace separates, each ASCII punctuation
/// character is a word of its own); used by the featurizer for tests and by the lookup matcher.
std::vector<ByteSpan> split_words(std::string_view text);

/// A short, printable excerpt of `text` for error messages (at most `max_bytes`, cut on a
/// UTF-8 boundary, "..." appended when cut).
std::string excerpt(std::string_view text, std::size_t max_bytes = 40);

}  // namespace parley::nlu
