// Byte-level BPE tokenizer (GPT-2 style: SmolLM2, Qwen2, Llama 3, GPT-2).
// Exists for the LM service: text <-> ids exactly as llama.cpp / HF tokenize these models,
// with merges applied by rank through a priority queue (n log n per word, never quadratic).
// Depends on vocab_tokenizer.h, pretokenize.h, special_split.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "shared/text/pretokenize.h"
#include "shared/text/special_split.h"
#include "shared/text/tokenizer.h"
#include "shared/text/vocab_tokenizer.h"

namespace parley::text {

struct BpeConfig {
  PreTokenizer pre = PreTokenizer::kGpt2;
  /// Llama 3: a pre-tokenized word that is itself a token is emitted whole, merges skipped.
  bool ignore_merges = false;
  bool add_bos = false;
  bool add_eos = false;
  /// Extra end-of-generation ids (besides special.eos / special.eot).
  std::vector<TokenId> eog_ids;
};

/// A loaded byte-level BPE vocabulary. Immutable; const methods are thread-safe.
///
/// Invalid UTF-8 input is fine: bytes are encoded as bytes, so decode(encode(x)) == x for any
/// byte string x (without specials).
class BpeTokenizer final : public detail::VocabTokenizer {
 public:
  /// `tokens` in byte-level form ("Ġhello"); `types` empty = all normal; `merges` as "Ġ t" lines,
  /// rank = position. Special ids out of range are INVALID_ARGUMENT.
  static Result<std::unique_ptr<BpeTokenizer>> create(std::vector<std::string> tokens, std::vector<TokenType> types,
                                                      const std::vector<std::string>& merges,
                                                      SpecialTokens special, BpeConfig config);

  const BpeConfig& config() const { return config_; }

  TokenizerKind kind() const override { return TokenizerKind::kBpe; }
  Result<std::vector<TokenId>> encode(std::string_view text, const EncodeOptions& options = {}) const override;

 private:
  BpeTokenizer() = default;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  BpeConfig config_;
  struct Merge {
    std::int32_t rank;
    TokenId result;
  };
  std::unordered_map<std::uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  TokenId byte_token_[256];                           // token of each single byte (kNoToken: none)
  std::string byte_char_[256];                        // byte-level UTF-8 of each byte ("Ġ" for ' ')
  std::vector<detail::SpecialEntry> specials_;
};

}  // namespace parley::text
