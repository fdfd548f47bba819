// Cutting an interrupted reply to what was played (see interruption.h). Depends on interruption.h.
#include "services/dialog/engine/interruption.h"

#include <cctype>

namespace parley::dialog {

std::string normalize_spaces(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<v1::BotMessage> cut_to_played(const google::protobuf::RepeatedPtrField<v1::BotMessage>& messages,
                                          std::string_view played, const std::string& pending_kind) {
  std::vector<v1::BotMessage> out;
  std::string rest = normalize_spaces(played);
  for (const auto& m : messages) {
    if (rest.empty()) break;
    const std::string text = normalize_spaces(m.text());
    if (text.empty()) continue;
    if (rest.compare(0, text.size(), text) == 0 && (rest.size() == text.size() || rest[text.size()] == ' ')) {
      out.push_back(m);  // played whole
      rest.erase(0, std::min(rest.size(), text.size() + 1));
      continue;
    }
    // Played up to somewhere inside this message: keep the whole words both agree on.
    std::size_t k = 0;
    while (k < text.size() && k < rest.size() && text[k] == rest[k]) ++k;
    if (k < text.size() && text[k] != ' ') {
      while (k > 0 && text[k - 1] != ' ') --k;  // it ends inside a word: back to the word's start
    }
    std::string kept = normalize_spaces(std::string_view(text).substr(0, k));
    if (!kept.empty()) {
      v1::BotMessage cut = m;
      cut.set_text(kept);
      out.push_back(std::move(cut));
    }
    rest.clear();
    break;
  }
  if (!rest.empty() && !pending_kind.empty()) {
    v1::BotMessage tail;
    tail.set_text(rest);
    tail.set_kind(pending_kind);
    out.push_back(std::move(tail));
  }
  return out;
}

}  // namespace parley::dialog
