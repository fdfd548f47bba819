// BIO tags over words: the label set of the slot tagger, its valid transitions, and the mapping
// between byte-offset slot spans and per-word tags. Why: training data arrives as byte spans and
// answers leave as byte spans; the tagger only sees words. Depends on text_checks.h.
#pragma once

#include <string>
#include <vector>

#include "services/nlu/text_checks.h"

namespace parley::nlu {

/// Tag 0 is O; slot k (0-based) has B = 1 + 2k and I = 2 + 2k.
class BioTags {
 public:
  BioTags() = default;
  explicit BioTags(std::vector<std::string> slots) : slots_(std::move(slots)) {}

  int size() const { return 1 + 2 * static_cast<int>(slots_.size()); }
  int slot_count() const { return static_cast<int>(slots_.size()); }
  const std::string& slot_name(int slot) const { return slots_[static_cast<std::size_t>(slot)]; }
  static int begin_tag(int slot) { return 1 + 2 * slot; }
  static int inside_tag(int slot) { return 2 + 2 * slot; }
  /// Slot of a B or I tag; -1 for O.
  static int slot_of(int tag) { return tag == 0 ? -1 : (tag - 1) / 2; }
  static bool is_inside(int tag) { return tag > 0 && tag % 2 == 0; }
  /// prev = -1 is the start of the text. I-X may only follow B-X or I-X.
  static bool allowed(int prev, int next) {
    if (!is_inside(next)) return true;
    return prev >= 0 && slot_of(prev) == slot_of(next);
  }
  std::string tag_name(int tag) const;

 private:
  std::vector<std::string> slots_;
};

/// A labelled span of words [first, last] (inclusive) of one slot.
struct WordSpan {
  int slot = 0;
  std::size_t first = 0;
  std::size_t last = 0;
};

/// Per-word tags for byte spans: a word belongs to a span when their bytes overlap; the span's
/// first such word gets B. `slot_spans` pairs a slot index with its byte span; spans must not
/// overlap (the trainer checks). Words outside every span get O.
std::vector<int> spans_to_tags(const std::vector<ByteSpan>& words,
                               const std::vector<std::pair<int, ByteSpan>>& slot_spans);

/// Maximal runs B-X I-X ... as word spans (a stray I-X starts a span too).
std::vector<WordSpan> tags_to_spans(const std::vector<int>& tags);

}  // namespace parley::nlu
