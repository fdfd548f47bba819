// Shared parts of the Tokenizer interface: default decode, end-of-generation checks.
// Exists so each family only writes its own piece rules. Depends on tokenizer.h.
#include "shared/text/tokenizer.h"

#include <algorithm>

namespace parley::text {

std::string_view tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kWordPiece: return "wordpiece";
    case TokenizerKind::kBpe: return "bpe";
    case TokenizerKind::kSentencePiece: return "sentencepiece";
  }
  return "unknown";
}

std::string Tokenizer::decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string out;
  bool first = true;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_size()) continue;
    if (options.skip_special && is_special(id)) continue;
    std::string piece = token_piece(id);
    if (first && strips_leading_space() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    out += piece;
  }
  return out;
}

bool Tokenizer::is_eog(TokenId id) const {
  if (id == kNoToken) return false;
  if (id == special_.eos || id == special_.eot) return true;
  return std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end();
}

}  // namespace parley::text
