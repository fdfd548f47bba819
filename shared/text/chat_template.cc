// Chat template detection and rendering (see chat_template.h). The renderings follow the
// published Jinja templates of each family (and llama.cpp's llm_chat_apply_template).
// Depends on chat_template.h.
#include "shared/text/chat_template.h"

namespace parley::text {
namespace {

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// Appends pieces in order (GCC 12 warns falsely on long `"lit" + std::string + ...` chains).
void append(std::string& out, std::initializer_list<std::string_view> pieces) {
  for (std::string_view p : pieces) out.append(p);
}

// The system prompt a ChatML template writes when the conversation has none: the literal text
// between "<|im_start|>system\n" and "<|im_end|>" inside a quoted Jinja string.
std::string extract_chatml_default_system(std::string_view jinja) {
  for (std::string_view opener : {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
    std::size_t pos = 0;
    while ((pos = jinja.find(opener, pos)) != std::string_view::npos) {
      const std::size_t start = pos + opener.size();
      const std::size_t end = jinja.find("<|im_end|>", start);
      if (end == std::string_view::npos) break;
      const std::string_view body = jinja.substr(start, end - start);
      pos = start;
      // Expressions ("' + message['content'] + '") mean it is not a literal default.
      if (body.empty() || contains(body, "'") || contains(body, "\"") || contains(body, "{{") ||
          contains(body, "{%") || contains(body, "+")) {
        continue;
      }
      std::string out;
      for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\\' && i + 1 < body.size() && body[i + 1] == 'n') {
          out.push_back('\n');
          ++i;
        } else {
          out.push_back(body[i]);
        }
      }
      return out;
    }
  }
  return {};
}

std::string trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string_view> markers(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::kChatMl: return {"<|im_start|>", "<|im_end|>"};
    case ChatTemplateFamily::kLlama2: return {"[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "</s>", "<s>"};
    case ChatTemplateFamily::kLlama3:
      return {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|begin_of_text|>"};
    case ChatTemplateFamily::kZephyr: return {"<|system|>", "<|user|>", "<|assistant|>", "</s>"};
    case ChatTemplateFamily::kGemma: return {"<start_of_turn>", "<end_of_turn>"};
  }
  return {};
}

}  // namespace

std::string_view chat_template_family_name(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::kChatMl: return "chatml";
    case ChatTemplateFamily::kLlama2: return "llama2";
    case ChatTemplateFamily::kLlama3: return "llama3";
    case ChatTemplateFamily::kZephyr: return "zephyr";
    case ChatTemplateFamily::kGemma: return "gemma";
  }
  return "?";
}

Result<ChatTemplate> ChatTemplate::detect(std::string_view jinja) {
  if (trim(jinja).empty()) return invalid_argument("chat template is empty");
  if (contains(jinja, "<|im_start|>")) {
    return ChatTemplate(ChatTemplateFamily::kChatMl, extract_chatml_default_system(jinja));
  }
  if (contains(jinja, "<|start_header_id|>")) return ChatTemplate(ChatTemplateFamily::kLlama3, "");
  if (contains(jinja, "<start_of_turn>")) return ChatTemplate(ChatTemplateFamily::kGemma, "");
  if (contains(jinja, "<|user|>") && contains(jinja, "<|assistant|>")) {
    return ChatTemplate(ChatTemplateFamily::kZephyr, "");
  }
  if (contains(jinja, "[INST]")) return ChatTemplate(ChatTemplateFamily::kLlama2, "");
  return unimplemented("unrecognised chat template (supported: ChatML, Llama 2 [INST], Llama 3, Zephyr, Gemma); "
                       "use ChatTemplate::chatml() to fall back to ChatML");
}

ChatTemplate ChatTemplate::chatml(std::string default_system_prompt) {
  return ChatTemplate(ChatTemplateFamily::kChatMl, std::move(default_system_prompt));
}

ChatTemplate ChatTemplate::of(ChatTemplateFamily family, std::string default_system_prompt) {
  return ChatTemplate(family, std::move(default_system_prompt));
}

std::vector<std::string> ChatTemplate::stop_strings() const {
  switch (family_) {
    case ChatTemplateFamily::kChatMl: return {"<|im_end|>"};
    case ChatTemplateFamily::kLlama2: return {"</s>"};
    case ChatTemplateFamily::kLlama3: return {"<|eot_id|>"};
    case ChatTemplateFamily::kZephyr: return {"</s>"};
    case ChatTemplateFamily::kGemma: return {"<end_of_turn>"};
  }
  return {};
}

Result<std::string> ChatTemplate::render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  // Validate first: roles, system placement, injected markers.
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      return invalid_argument("message " + std::to_string(i) + ": unknown role '" + m.role +
                              "' (system, user, assistant)");
    }
    if (m.role == "system" && i != 0) {
      return invalid_argument("message " + std::to_string(i) + ": a system message may only come first");
    }
    for (std::string_view marker : markers(family_)) {
      if (contains(m.content, marker)) {
        return invalid_argument("message " + std::to_string(i) + ": content contains the control marker '" +
                                std::string(marker) + "'");
      }
    }
  }
  std::string system;
  bool has_system = false;
  std::span<const ChatMessage> rest = messages;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    has_system = true;
    rest = messages.subspan(1);
  } else if (!default_system_.empty()) {
    system = default_system_;
    has_system = true;
  }

  std::string out;
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      if (has_system) append(out, {"<|im_start|>system\n", system, "<|im_end|>\n"});
      for (const ChatMessage& m : rest) append(out, {"<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n"});
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case ChatTemplateFamily::kLlama3:
      if (has_system) append(out, {"<|start_header_id|>system<|end_header_id|>\n\n", trim(system), "<|eot_id|>"});
      for (const ChatMessage& m : rest) {
        append(out, {"<|start_header_id|>", m.role, "<|end_header_id|>\n\n", trim(m.content), "<|eot_id|>"});
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplateFamily::kZephyr:
      if (has_system) append(out, {"<|system|>\n", system, "</s>\n"});
      for (const ChatMessage& m : rest) append(out, {"<|", m.role, "|>\n", m.content, "</s>\n"});
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
    case ChatTemplateFamily::kGemma: {
      // Gemma has no system role: the system text opens the first user turn.
      bool pending_system = has_system;
      for (const ChatMessage& m : rest) {
        const std::string role = m.role == "assistant" ? "model" : m.role;
        append(out, {"<start_of_turn>", role, "\n"});
        if (pending_system && m.role == "user") {
          append(out, {system, "\n\n"});
          pending_system = false;
        }
        append(out, {trim(m.content), "<end_of_turn>\n"});
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      break;
    }
    case ChatTemplateFamily::kLlama2: {
      // [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] assistant </s><s>[INST] user [/INST]
      // The first <s> is the tokenizer's BOS; later turns write it.
      bool first_user = true;
      for (const ChatMessage& m : rest) {
        if (m.role == "user") {
          if (!first_user) out += "<s>";
          out += "[INST] ";
          if (first_user && has_system) append(out, {"<<SYS>>\n", system, "\n<</SYS>>\n\n"});
          append(out, {trim(m.content), " [/INST]"});
          first_user = false;
        } else {
          append(out, {" ", trim(m.content), " </s>"});
        }
      }
      if (first_user && has_system) append(out, {"[INST] <<SYS>>\n", system, "\n<</SYS>>\n\n [/INST]"});
      // The generation prompt is implicit: the model continues after [/INST].
      break;
    }
  }
  return out;
}

}  // namespace parley::text
