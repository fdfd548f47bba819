// SSML-lite: <speak>, <break time="300ms"|strength="strong"/>, <prosody rate="slow|80%|1.2">.
// Why: dialog responses ask for pauses and slower speech; full SSML is not needed. Tags and
// entities are blanked in a same-length copy of the text, so every byte offset a piece reports
// is still an offset into the request text. Depends on shared/common/status.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::tts {

struct SpeechItem {
  enum class Kind : std::uint8_t { kText, kBreak };
  Kind kind = Kind::kText;
  std::size_t begin = 0, end = 0;  ///< byte range of the request text
  float rate = 1.0f;               ///< speaking-rate multiplier (prosody)
  int break_ms = 0;                ///< kBreak
};

struct SpeechPlan {
  std::string text;  ///< same length as the request text; tags and entities blanked
  std::vector<SpeechItem> items;
};

/// Plain text: one kText item over all of it.
SpeechPlan plain_plan(std::string_view text);
/// SSML-lite. InvalidArgument naming the tag/attribute and its byte offset for anything else
/// (unknown tag, bad value, unbalanced tags). Breaks are capped at max_break_ms.
Result<SpeechPlan> parse_ssml(std::string_view text, int max_break_ms = 10000);

}  // namespace parley::tts
