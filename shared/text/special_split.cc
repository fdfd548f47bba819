// Special-token partitioning of raw text (see special_split.h).
// Exists so all tokenizer families honour control / user-defined tokens identically.
// Depends on special_split.h.
#include "shared/text/special_split.h"

#include <algorithm>

namespace parley::text::detail {

void sort_specials(std::vector<SpecialEntry>& specials) {
  std::sort(specials.begin(), specials.end(), [](const SpecialEntry& a, const SpecialEntry& b) {
    if (a.text.size() != b.text.size()) return a.text.size() > b.text.size();
    return a.id < b.id;
  });
}

std::vector<Fragment> split_special(std::string_view text, const std::vector<SpecialEntry>& specials,
                                    bool parse_control) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({0, text.size(), kNoToken});
  std::vector<Fragment> next;
  for (const SpecialEntry& special : specials) {
    if (special.text.empty()) continue;
    if (!parse_control && special.type != TokenType::kUserDefined) continue;
    bool any = false;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      std::size_t pos = f.begin;
      while (pos < f.end) {
        const std::size_t hit = text.substr(0, f.end).find(special.text, pos);
        if (hit == std::string_view::npos) break;
        any = true;
        if (hit > pos) next.push_back({pos, hit, kNoToken});
        next.push_back({hit, hit + special.text.size(), special.id});
        pos = hit + special.text.size();
      }
      if (pos < f.end) next.push_back({pos, f.end, kNoToken});
    }
    if (any) fragments.swap(next);
  }
  return fragments;
}

}  // namespace parley::text::detail
