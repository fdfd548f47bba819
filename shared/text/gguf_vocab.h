// The tokenizer.* keys of a GGUF file as VocabData, and a tokenizer built from them.
// Why a library of its own (parley_text_gguf): parley_text does not depend on the GGUF reader;
// this is the one place the two meet, for the LM service and the tokenizer tests alike.
// Depends on shared/text/factory.h, shared/engine/gguf/gguf.h.
#pragma once

#include <memory>

#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/text/factory.h"
#include "shared/text/tokenizer.h"

namespace parley::text {

/// Reads tokenizer.ggml.* and tokenizer.chat_template. INVALID_ARGUMENT naming the key when
/// tokenizer.ggml.model or tokens are missing, or a key has the wrong type.
Result<VocabData> vocab_from_gguf(const engine::gguf::GgufFile& file);

/// vocab_from_gguf + tokenizer_from_vocab.
Result<std::unique_ptr<Tokenizer>> tokenizer_from_gguf(const engine::gguf::GgufFile& file);

}  // namespace parley::text
