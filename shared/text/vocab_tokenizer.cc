// Shared vocabulary lookups of the BPE and SentencePiece tokenizers (see vocab_tokenizer.h).
#include "shared/text/vocab_tokenizer.h"

#include <utility>

namespace parley::text::detail {

void VocabTokenizer::set_vocab(std::vector<std::string> tokens, std::vector<TokenType> types) {
  tokens_ = std::move(tokens);
  types_ = types.empty() ? std::vector<TokenType>(tokens_.size(), TokenType::kNormal) : std::move(types);
  token_to_id_.reserve(tokens_.size());
  for (std::size_t i = 0; i < tokens_.size(); ++i) token_to_id_.emplace(tokens_[i], static_cast<TokenId>(i));
}

std::string VocabTokenizer::token_piece(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) return {};
  return pieces_[static_cast<std::size_t>(id)];
}

std::string_view VocabTokenizer::token_text(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) return {};
  return tokens_[static_cast<std::size_t>(id)];
}

std::optional<TokenId> VocabTokenizer::find_token(std::string_view token_text) const {
  const TokenId id = lookup(token_to_id_, token_text);
  if (id == kNoToken) return std::nullopt;
  return id;
}

TokenType VocabTokenizer::token_type(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= types_.size()) return TokenType::kUndefined;
  return types_[static_cast<std::size_t>(id)];
}

}  // namespace parley::text::detail
