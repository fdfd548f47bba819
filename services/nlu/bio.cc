// BIO tag helpers (see bio.h).
#include "services/nlu/bio.h"

namespace parley::nlu {

std::string BioTags::tag_name(int tag) const {
  if (tag == 0) return "O";
  return std::string(is_inside(tag) ? "I-" : "B-") + slot_name(slot_of(tag));
}

std::vector<int> spans_to_tags(const std::vector<ByteSpan>& words,
                               const std::vector<std::pair<int, ByteSpan>>& slot_spans) {
  std::vector<int> tags(words.size(), 0);
  for (const auto& [slot, span] : slot_spans) {
    bool first = true;
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (words[i].end <= span.begin || words[i].begin >= span.end) continue;
      tags[i] = first ? BioTags::begin_tag(slot) : BioTags::inside_tag(slot);
      first = false;
    }
  }
  return tags;
}

std::vector<WordSpan> tags_to_spans(const std::vector<int>& tags) {
  std::vector<WordSpan> spans;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    int t = tags[i];
    if (t == 0) continue;
    int slot = BioTags::slot_of(t);
    bool continues = BioTags::is_inside(t) && !spans.empty() && spans.back().slot == slot && spans.back().last + 1 == i;
    if (continues) {
      spans.back().last = i;
    } else {
      spans.push_back({slot, i, i});
    }
  }
  return spans;
}

}  // namespace parley::nlu
