// Internal: the id <-> text tables a vocabulary-based tokenizer (BPE, SentencePiece) keeps, and
// the Tokenizer lookups that only read them. Exists so the two families share one
// implementation of token_piece / token_text / find_token / token_type. Depends on tokenizer.h,
// vocab_map.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/text/tokenizer.h"
#include "shared/text/vocab_map.h"

namespace parley::text::detail {

class VocabTokenizer : public Tokenizer {
 public:
  std::string token_piece(TokenId id) const override;
  std::string_view token_text(TokenId id) const override;
  std::optional<TokenId> find_token(std::string_view token_text) const override;
  TokenType token_type(TokenId id) const override;
  std::size_t vocab_size() const override { return tokens_.size(); }

 protected:
  /// Fills tokens_, types_ (empty `types`: all normal) and token_to_id_ (first id of a
  /// duplicated text wins); pieces_ is the family's to fill.
  void set_vocab(std::vector<std::string> tokens, std::vector<TokenType> types);

  std::vector<std::string> tokens_;  // as stored in the vocabulary ("Ġhello", "▁Hello", "<0x0A>")
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;  // the bytes each token decodes to
  TokenMap token_to_id_;
};

}  // namespace parley::text::detail
