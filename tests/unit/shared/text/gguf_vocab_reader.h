// Test helper: the tokenizer.* metadata of a (vocab-only) GGUF file as VocabData, through the
// production adapter (shared/text/gguf_vocab.h) and the engine's GGUF reader.
// Why a Result: a missing file is a reason to skip; a file that is there but does not read is a
// failure of our reader, which a test must report, never skip. Depends on shared/engine/gguf.
#pragma once

#include <filesystem>
#include <string>

#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/text/gguf_vocab.h"

namespace parley::text::testing {

class GgufVocabReader {
 public:
  /// NotFound only when `path` does not exist (callers skip); any other error is the reader's or
  /// the adapter's (callers fail with it).
  static Result<VocabData> read(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return not_found("test vocab not found: " + path);
    PARLEY_ASSIGN_OR_RETURN(auto file, engine::gguf::GgufFile::open(path));
    return vocab_from_gguf(*file);
  }
};

}  // namespace parley::text::testing
