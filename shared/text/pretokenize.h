// Regex-free pre-tokenizers for byte-level BPE: the splitting regexes of GPT-2, Llama 3, Qwen2 and
// SmolLM (digits isolated, then GPT-2), hand-written over Unicode categories.
// Exists because std::regex has no \p{L}/\p{N} and is slow; these run in linear time.
// Depends on unicode.h.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/common/status.h"

namespace parley::text {

/// Which splitting rule a BPE model was trained with (GGUF tokenizer.ggml.pre).
enum class PreTokenizer : std::uint8_t {
  /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  /// \s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  /// As kLlama3 with \p{N} (single digits).
  kQwen2,
  /// Each \p{N} isolated, then kGpt2 inside the remaining pieces (SmolLM, StarCoder).
  kSmollm,
};

/// Maps a GGUF tokenizer.ggml.pre name ("gpt-2", "llama-bpe", "qwen2", "smollm", ...) to a rule;
/// "" and "default" map to kGpt2. Unknown names are INVALID_ARGUMENT listing the known ones.
Result<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

std::string_view pre_tokenizer_name(PreTokenizer pre);

/// Splits `text` into pieces, returned as byte ranges [begin, end) that cover the text exactly
/// and in order. Invalid UTF-8 bytes are single code points of their own that are neither
/// letters, digits nor spaces (like U+FFFD), so every byte lands in exactly one piece.
std::vector<std::pair<std::size_t, std::size_t>> pre_tokenize(PreTokenizer pre, std::string_view text);

}  // namespace parley::text
