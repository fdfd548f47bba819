// Test helper: the tokenizer.* metadata of a (vocab-only) GGUF file as VocabData, through the
// production adapter (shared/text/gguf_vocab.h) and the engine's GGUF reader.
#pragma once

#include <optional>
#include <string>

#include "shared/engine/gguf/gguf.h"
#include "shared/text/gguf_vocab.h"

namespace parley::text::testing {

class GgufVocabReader {
 public:
  /// nullopt when the file is missing or malformed (callers skip or fail with the path).
  static std::optional<VocabData> read(const std::string& path) {
    auto file = engine::gguf::GgufFile::open(path);
    if (!file.ok()) return std::nullopt;
    auto vocab = vocab_from_gguf(**file);
    if (!vocab.ok()) return std::nullopt;
    return std::move(*vocab);
  }
};

}  // namespace parley::text::testing
