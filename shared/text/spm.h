// SentencePiece-style BPE tokenizer as stored in GGUF "llama" vocabularies (Llama 2, TinyLlama,
// llama2.c stories): merges by piece score, "▁" for spaces, <0xNN> byte fallback.
// Exists for LMs with SentencePiece vocabularies; matches llama.cpp's llm_tokenizer_spm.
// Depends on vocab_tokenizer.h, special_split.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shared/text/special_split.h"
#include "shared/text/tokenizer.h"
#include "shared/text/vocab_tokenizer.h"

namespace parley::text {

struct SpmConfig {
  /// Prefix a space to text at the start and after every special token ("Hello" -> "▁Hello").
  bool add_space_prefix = true;
  bool add_bos = true;
  bool add_eos = false;
  std::vector<TokenId> eog_ids;
};

/// A loaded SentencePiece vocabulary. Immutable; const methods are thread-safe.
///
/// Bytes that no piece covers (rare characters, invalid UTF-8) fall back to <0xNN> tokens, so
/// decode(encode(x)) == x whenever the vocabulary has all 256 byte tokens (without the prefix
/// space, which decode removes again).
class SpmTokenizer final : public detail::VocabTokenizer {
 public:
  /// `scores` and `types` may be empty (all 0 / all normal); else one entry per token.
  static Result<std::unique_ptr<SpmTokenizer>> create(std::vector<std::string> tokens, std::vector<float> scores,
                                                      std::vector<TokenType> types, SpecialTokens special,
                                                      SpmConfig config);

  const SpmConfig& config() const { return config_; }

  TokenizerKind kind() const override { return TokenizerKind::kSentencePiece; }
  Result<std::vector<TokenId>> encode(std::string_view text, const EncodeOptions& options = {}) const override;

 protected:
  bool strips_leading_space() const override { return config_.add_space_prefix; }

 private:
  SpmTokenizer() = default;
  void encode_text(const std::string& escaped, std::vector<TokenId>& out) const;

  SpmConfig config_;
  std::vector<float> scores_;
  TokenId byte_token_[256];
  std::vector<detail::SpecialEntry> specials_;
};

}  // namespace parley::text
