// Chat templates: recognises the prompt format a model's Jinja chat_template implements
// (ChatML, Llama 2 [INST], Llama 3 headers, Zephyr, Gemma) and renders conversations in it.
// Exists because the LM service must build prompts exactly as the model was trained, without a
// Jinja engine: the few families in use are rendered by hand, anything else is a clear error.
// Depends on shared/common/status.h.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::text {

enum class ChatTemplateFamily : std::uint8_t {
  kChatMl,  ///< <|im_start|>role\n...<|im_end|>\n  (SmolLM2, Qwen2, many fine-tunes)
  kLlama2,  ///< [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]  (Llama 2, TinyLlama-chat v0.x)
  kLlama3,  ///< <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kZephyr,  ///< <|user|>\n...</s>\n<|assistant|>\n
  kGemma,   ///< <start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n
};

std::string_view chat_template_family_name(ChatTemplateFamily family);

struct ChatMessage {
  std::string role;  ///< "system", "user" or "assistant"
  std::string content;
};

/// A recognised chat format. Immutable and cheap to copy; thread-safe.
///
///   auto tmpl = ChatTemplate::detect(gguf_chat_template);      // or ChatTemplate::chatml()
///   std::string prompt = tmpl->render(messages, /*add_generation_prompt=*/true).value();
///   auto ids = tokenizer.encode(prompt, {.add_special = true, .parse_special = true});
///
/// The rendered text contains the family's control tokens as text ("<|im_start|>", "</s>"), so
/// it MUST be encoded with parse_special = true — and user content must not be trusted to be
/// free of them: render() rejects messages whose content contains the family's markers.
/// BOS is not written: the tokenizer adds it (add_special) when the model wants one.
class ChatTemplate {
 public:
  /// Recognises `jinja` (a GGUF tokenizer.chat_template / HF chat_template). UNIMPLEMENTED for
  /// an unknown format (the caller may fall back to chatml(), see README) and INVALID_ARGUMENT
  /// for an empty one. A default system prompt the template inserts is extracted.
  static Result<ChatTemplate> detect(std::string_view jinja);
  /// The documented fallback: ChatML with an optional default system prompt.
  static ChatTemplate chatml(std::string default_system_prompt = "");
  static ChatTemplate of(ChatTemplateFamily family, std::string default_system_prompt = "");

  ChatTemplateFamily family() const { return family_; }
  /// The system prompt inserted when a conversation has none ("" = none).
  const std::string& default_system_prompt() const { return default_system_; }

  /// Renders messages (roles: system, user, assistant; a system message only first) and, when
  /// `add_generation_prompt`, the opening of the assistant's turn. INVALID_ARGUMENT for an unknown
  /// role, a misplaced system message or content containing the format's control markers.
  Result<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  /// Strings that end the assistant's turn in this format (for stop handling beside EOG ids).
  std::vector<std::string> stop_strings() const;

 private:
  ChatTemplate(ChatTemplateFamily family, std::string default_system)
      : family_(family), default_system_(std::move(default_system)) {}
  ChatTemplateFamily family_;
  std::string default_system_;
};

}  // namespace parley::text
