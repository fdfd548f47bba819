// Endpointer and the turn-end classifiers (see endpointing.h).
#include "services/asr/endpointing.h"

#include <algorithm>

#include "shared/models/smart_turn/smart_turn.h"

namespace parley::asr {

namespace {
constexpr int kChunk = 512;
constexpr int kChunkMs = 32;
}  // namespace

Result<float> SmartTurnEnd::turn_end_probability(const TurnContext& c) const {
  if (c.audio.empty()) return 0.0f;
  return model_->predict(c.audio);
}

Result<float> PunctuationTurnEnd::turn_end_probability(const TurnContext& c) const {
  std::string_view t = c.partial_text;
  while (!t.empty() && (t.back() == ' ' || t.back() == '"' || t.back() == '\'' || t.back() == ')')) t.remove_suffix(1);
  if (t.empty()) return 0.3f;
  switch (t.back()) {
    case '.':
    case '?':
    case '!': return 0.9f;
    case ',':
    case ';':
    case ':':
    case '-': return 0.1f;
    default: return 0.3f;
  }
}

Endpointer::Event Endpointer::on_chunk(float p, std::int64_t end) {
  const bool speech = p >= o_.speech_threshold;
  const bool silence = p < o_.silence_threshold;
  if (!in_speech_) {
    speech_run_ = speech ? speech_run_ + 1 : 0;
    if (speech_run_ * kChunkMs >= o_.min_speech_ms) {
      in_speech_ = true;
      silence_ms_ = 0;
      next_ask_ms_ = o_.min_silence_ms;
      last_speech_end_ = end;
      utterance_start_ = std::max<std::int64_t>(0, end - static_cast<std::int64_t>(speech_run_) * kChunk -
                                                       static_cast<std::int64_t>(o_.pre_roll_ms) * 16);
      speech_run_ = 0;
      return Event::kSpeechStart;
    }
    return Event::kNone;
  }
  if (speech) {
    silence_ms_ = 0;
    next_ask_ms_ = o_.min_silence_ms;
    last_speech_end_ = end;
  } else if (silence) {
    silence_ms_ += kChunkMs;
    if (silence_ms_ >= o_.max_silence_ms) return Event::kEndpoint;
    // The chunk that reaches min_silence_ms, then one every reask_ms of further silence.
    if (silence_ms_ >= next_ask_ms_) {
      next_ask_ms_ = o_.reask_ms > 0 ? next_ask_ms_ + o_.reask_ms : std::numeric_limits<int>::max();
      return Event::kPause;
    }
  }
  if ((end - utterance_start_) >= static_cast<std::int64_t>(o_.max_utterance_ms) * 16) return Event::kForcedCut;
  return Event::kNone;
}

}  // namespace parley::asr
