// Text helpers the NLU service shares between training, parsing and the extractors: ASCII case
// folding and a vocabulary-free word splitter (UTF-8 checks: shared/common/utf8.h).
// Why: every input from outside is checked before it reaches the models. Depends on shared/common.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/utf8.h"

namespace parley::nlu {

/// A byte range [begin, end) in a text.
struct ByteSpan {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const ByteSpan&, const ByteSpan&) = default;
};

// UTF-8 checks and excerpts are shared/common/utf8.h's (one home for UTF-8).
using parley::excerpt;
using parley::find_invalid_utf8;
using parley::on_utf8_boundary;

/// ASCII lower case (non-ASCII bytes unchanged: enough for matching synonyms typed as defined).
std::string ascii_lower(std::string_view s);

/// Words the way BERT's pre-tokenizer cuts them (whitespace separates, each ASCII punctuation
/// character is a word of its own); used by the featurizer for tests and by the lookup matcher.
std::vector<ByteSpan> split_words(std::string_view text);

}  // namespace parley::nlu
