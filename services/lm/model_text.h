// The text side of a loaded LM: its tokenizer (from the GGUF tokenizer.ggml.* keys), its chat
// template, its end-of-generation ids, and the per-stream detokenizer the scheduler uses.
// Why here: the service, the CLI's --local mode and the benchmark all need the same set-up.
// Depends on shared/text, shared/engine/gguf, generation.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "services/lm/generation.h"
#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/text/chat_template.h"
#include "shared/text/tokenizer.h"

namespace parley::lm {

/// Immutable after load; shared by every thread.
struct ModelText {
  std::unique_ptr<text::Tokenizer> tokenizer;
  text::ChatTemplate chat = text::ChatTemplate::chatml();
  bool chat_template_detected = false;  ///< false: the file has none / an unknown one (ChatML used)
  std::vector<std::int32_t> eog_tokens;  ///< EOS, EOT and the template's end-of-turn tokens
  std::vector<std::string> chat_stop_strings;  ///< the template's turn-end markers

  /// Reads the tokenizer keys of `file`. INVALID_ARGUMENT naming the key when they are missing
  /// or inconsistent.
  static Result<ModelText> from_gguf(const engine::gguf::GgufFile& file);

  /// A StreamDecoder per stream (skips special tokens; complete UTF-8 only).
  TextStreamFactory stream_factory() const;
};

}  // namespace parley::lm
