// Builds the right Tokenizer from model-file vocabulary data (GGUF tokenizer.ggml.* keys).
// Exists so model loaders hand over plain vectors and get a Tokenizer back, whatever the family;
// tokenizer_from_gguf (gguf_tokenizer.h) is a thin adapter over this.
// Depends on bpe.h, spm.h, wordpiece.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/text/tokenizer.h"

namespace parley::text {

/// Everything a GGUF file says about its tokenizer, as plain values.
struct VocabData {
  std::string model;                 ///< tokenizer.ggml.model: "gpt2" (BPE), "llama" (SPM), "bert"
  std::string pre;                   ///< tokenizer.ggml.pre (BPE splitting rule)
  std::vector<std::string> tokens;   ///< tokenizer.ggml.tokens
  std::vector<float> scores;         ///< tokenizer.ggml.scores (SPM); may be empty
  std::vector<TokenType> types;      ///< tokenizer.ggml.token_type; may be empty
  std::vector<std::string> merges;   ///< tokenizer.ggml.merges (BPE), "a b" per line
  SpecialTokens special;             ///< *_token_id keys; kNoToken where absent
  std::optional<bool> add_bos;       ///< tokenizer.ggml.add_bos_token
  std::optional<bool> add_eos;       ///< tokenizer.ggml.add_eos_token
  std::optional<bool> add_space_prefix;  ///< tokenizer.ggml.add_space_prefix
  std::string chat_template;         ///< tokenizer.chat_template ("" when absent)
};

/// Picks the family from `data.model` and builds it, with llama.cpp's defaults where a key is
/// absent: SPM adds BOS and a space prefix; BPE adds BOS only for Llama-3 style pre-tokenizers;
/// BERT frames with [CLS]/[SEP] and lowercases. End-of-generation ids come from eos/eot plus
/// the conventional names (<|im_end|>, <|eot_id|>, <|endoftext|>, <end_of_turn>, ...).
/// Errors: INVALID_ARGUMENT for an unknown model or pre-tokenizer, inconsistent arrays or
/// out-of-range special ids.
Result<std::unique_ptr<Tokenizer>> tokenizer_from_vocab(VocabData data);

}  // namespace parley::text
