// Endpointing: when did a speaker start, and when has the turn ended? Voice activity (Silero VAD
// per 32 ms chunk) plus a pluggable turn-end classifier, decided on audio time (samples), never
// wall time, so it is deterministic and testable.
// Why: the voice loop's latency starts at the endpoint; waiting a fixed second of silence is slow,
// ending at every pause cuts people off. A short silence ends the turn only when the classifier
// agrees (asked again as the pause grows); a long one always does. The default classifier is
// pipecat's smart-turn v3 audio model (shared/models/smart_turn); Whisper's punctuation is the
// fallback option. Depends on shared/common, shared/models/smart_turn.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::smart_turn {
class SmartTurn;
}

namespace parley::asr {

/// What a turn-end classifier is shown at a pause.
struct TurnContext {
  std::span<const float> audio;     ///< the utterance so far, 16 kHz (the last silence included)
  std::string_view partial_text;    ///< latest hypothesis of the utterance (may be empty)
  int silence_ms = 0;               ///< silence since the last speech chunk
};

/// Decides whether a pause ends the turn. Implementations must be thread-compatible (one per
/// stream, or stateless and shared).
class TurnEndClassifier {
 public:
  virtual ~TurnEndClassifier() = default;
  virtual std::string_view name() const = 0;
  /// P(the speaker has finished their turn), in [0, 1]; an error when the model fails to run.
  virtual Result<float> turn_end_probability(const TurnContext& context) const = 0;
  /// Whether it reads TurnContext::partial_text (then the session decodes the utterance at the
  /// pause when its latest hypothesis is older than the pause).
  virtual bool needs_text() const = 0;
};

/// Semantic endpointing from Whisper's own punctuation: a hypothesis ending in . ? ! is a
/// finished sentence (0.9); ending in , ; : or - is mid-sentence (0.1); anything else 0.3.
class PunctuationTurnEnd final : public TurnEndClassifier {
 public:
  std::string_view name() const override { return "punctuation"; }
  Result<float> turn_end_probability(const TurnContext& context) const override;
  bool needs_text() const override { return true; }
};

/// Acoustic-and-lexical endpointing from pipecat's smart-turn v3 model: it hears the last 8 s of
/// the utterance (intonation, a finished phrase) and needs no transcript, so a pause costs no
/// Whisper decode. Thread-safe (the model pools its sessions).
class SmartTurnEnd final : public TurnEndClassifier {
 public:
  explicit SmartTurnEnd(std::shared_ptr<const smart_turn::SmartTurn> model) : model_(std::move(model)) {}
  std::string_view name() const override { return "smart_turn"; }
  Result<float> turn_end_probability(const TurnContext& context) const override;
  bool needs_text() const override { return false; }

 private:
  std::shared_ptr<const smart_turn::SmartTurn> model_;
};

struct EndpointOptions {
  float speech_threshold = 0.5f;   ///< VAD p >= this: speech
  float silence_threshold = 0.35f; ///< VAD p < this: silence (between: neither resets nor grows silence)
  int min_speech_ms = 64;          ///< speech this long starts an utterance
  int pre_roll_ms = 320;           ///< audio kept before the detected start
  // Turn-end defaults, tuned for smart-turn on the shared clips (services/asr/README.md
  // "Endpointing"): ask once 160 ms into a pause; when the model says "not finished", wait up to
  // 1.5 s (pauses inside sentences run 0.5-1 s); the threshold is pipecat's (decisions on the
  // clips do not change anywhere in 0.3-0.8); re-asking during a long pause ended more turns early.
  int min_silence_ms = 160;        ///< shortest pause that may end a turn (if the classifier agrees)
  int max_silence_ms = 1500;       ///< a pause this long ends the turn whatever the classifier says
  float turn_end_threshold = 0.5f; ///< classifier probability that ends a turn
  int reask_ms = 0;                ///< ask the classifier again every this much more silence (0: once per pause)
  int max_utterance_ms = 28000;    ///< longer speech is cut into several finals (Whisper's window is 30 s)
  int trailing_ms = 160;           ///< silence kept after the last speech chunk in the final's audio
};

/// The VAD state machine of one stream. Feed one probability per 512-sample chunk.
class Endpointer {
 public:
  enum class Event : std::uint8_t {
    kNone,
    kSpeechStart,   ///< an utterance started (its audio begins pre_roll before the speech)
    kPause,         ///< silence reached min_silence_ms (or another reask_ms): ask the classifier, then decide()
    kEndpoint,      ///< the turn ended (silence reached max_silence_ms)
    kForcedCut,     ///< max_utterance_ms reached: finalize what is there, the utterance goes on
  };

  explicit Endpointer(EndpointOptions options) : o_(options), next_ask_ms_(options.min_silence_ms) {}
  /// Chunk of 512 samples ending at sample `end` (16 kHz) had speech probability p.
  Event on_chunk(float p, std::int64_t end);
  /// After kPause: whether the classifier's answer ends the turn now.
  bool decide(float turn_end_probability) const { return turn_end_probability >= o_.turn_end_threshold; }
  /// Resets to "no speech" (after an endpoint).
  void end_utterance() {
    in_speech_ = false;
    speech_run_ = 0;
    silence_ms_ = 0;
    next_ask_ms_ = o_.min_silence_ms;
  }
  /// Restarts the utterance clock after a forced cut (the speech goes on).
  void restart_utterance(std::int64_t at) { utterance_start_ = at; }

  bool in_speech() const { return in_speech_; }
  std::int64_t utterance_start() const { return utterance_start_; }  ///< pre-roll included
  std::int64_t last_speech_end() const { return last_speech_end_; }
  int silence_ms() const { return silence_ms_; }
  const EndpointOptions& options() const { return o_; }

 private:
  EndpointOptions o_;
  bool in_speech_ = false;
  int speech_run_ = 0;       // consecutive speech chunks while idle
  int silence_ms_ = 0;
  int next_ask_ms_ = 0;      // silence at which the classifier is asked next
  std::int64_t utterance_start_ = 0, last_speech_end_ = 0;
};

}  // namespace parley::asr
