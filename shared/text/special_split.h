// Internal: splits input text around special-token occurrences (before any pre-tokenization).
// Exists because BPE, SentencePiece and WordPiece all match control / user-defined tokens in the
// raw text the same way llama.cpp and HF do: longest token first, over the whole text.
// Depends on tokenizer.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shared/text/tokenizer.h"

namespace parley::text::detail {

struct SpecialEntry {
  std::string text;
  TokenId id = kNoToken;
  TokenType type = TokenType::kControl;
};

/// A piece of the input: raw text [begin, end) or, when token != kNoToken, one special token.
struct Fragment {
  std::size_t begin = 0;
  std::size_t end = 0;
  TokenId token = kNoToken;
};

/// Sorts specials longest first (ties by id) — the matching order.
void sort_specials(std::vector<SpecialEntry>& specials);

/// Splits `text`. Control and unknown tokens match only when `parse_control`; user-defined
/// tokens always match. Empty texts never match.
std::vector<Fragment> split_special(std::string_view text, const std::vector<SpecialEntry>& specials,
                                    bool parse_control);

}  // namespace parley::text::detail
