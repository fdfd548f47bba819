// The barge-in rule (see barge_in.h). Depends on barge_in.h.
#include "services/dialog/voice/barge_in.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace parley::dialog::voice {
namespace {

// Sorted: binary search. Acknowledgements (Schegloff's continuers and their spellings in ASR
// output), fillers, and the words of short acknowledging phrases ("I see", "got it", "all right").
constexpr std::array<std::string_view, 41> kBackchannels = {"ah", "aha", "all", "alright", "got", "hm", "hmm", "huh", "i", "it", "mhm", "mhmm", "mm", "mmhmm", "mmm", "nice", "oh", "ok", "okay", "oo", "ooh", "right", "see", "so", "sure", "true", "uh", "uhhuh", "uhm", "um", "umm", "well", "wow", "ya", "yah", "yea", "yeah", "yeh", "yep", "yes", "yup"};
static_assert(std::is_sorted(kBackchannels.begin(), kBackchannels.end()), "kBackchannels must stay sorted");

}  // namespace

std::vector<std::string> words_of(std::string_view transcript) {
  std::vector<std::string> out;
  std::string w;
  for (char c : transcript) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '\'' || u >= 0x80) {
      w.push_back(static_cast<char>(std::tolower(u)));
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

bool is_backchannel(std::string_view word) {
  return std::binary_search(kBackchannels.begin(), kBackchannels.end(), word);
}

int content_words(std::string_view transcript) {
  int n = 0;
  for (const auto& w : words_of(transcript)) {
    if (!is_backchannel(w)) ++n;
  }
  return n;
}

std::string barge_in_refusal(const BargeInRule& rule, std::chrono::milliseconds speech, std::string_view transcript) {
  if (speech < rule.min_speech) return "too_short";
  if (words_of(transcript).empty()) return "no_words";
  if (content_words(transcript) < rule.min_words) return "backchannel";
  return "";
}

}  // namespace parley::dialog::voice
