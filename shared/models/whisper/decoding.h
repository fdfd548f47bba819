// Greedy decoding of Whisper windows with Whisper's logit rules, as CTranslate2 applies them for
// faster-whisper (beam 1, temperature 0): suppressed tokens, blank/end suppressed at the start,
// timestamp rules (first token a timestamp <= max_initial_timestamp, timestamps in pairs and
// increasing, a timestamp forced when their total probability beats every text token), the
// no-speech probability after <|startoftranscript|>, and the average log-probability.
// Also turns tokens into text and timed segments. Depends on whisper_runner.h, tokenizer.h.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "shared/models/whisper/whisper_runner.h"

namespace parley::whisper {

struct DecodeOptions {
  /// Emit timestamp tokens (segments with times); false puts <|notimestamps|> in the prompt.
  bool timestamps = true;
  /// The first timestamp may not be later than this (faster-whisper's default 1.0 s).
  float max_initial_timestamp = 1.0f;
  /// Tokens sampled per window at most (CTranslate2: min(448 / 2, 448 - prompt)).
  int max_new_tokens = 224;
  /// Extra token ids never to emit.
  std::vector<int> suppress;
  /// faster-whisper's silence rule: a window whose no-speech probability is above this AND whose
  /// average log-probability is below log_prob_threshold is silence (empty text).
  float no_speech_threshold = 0.6f;
  float log_prob_threshold = -1.0f;
  /// Multilingual models: the language token of each window (WhisperTokenizer::language_token),
  /// n entries, or empty for English everywhere. Ignored by English-only models.
  std::vector<int> languages;
};

/// A piece of text between two timestamps (seconds from the window start).
struct TimedSegment {
  double start = 0, end = 0;
  std::string text;
};

struct WindowResult {
  std::vector<int> tokens;     ///< generated tokens (timestamps included, end-of-text not)
  float no_speech_prob = 0.0f;
  double avg_logprob = 0.0;    ///< sum of chosen-token log-probabilities (incl. end) / (tokens + 1)
  bool silence = false;        ///< the no-speech rule fired: text is empty
  std::string text;            ///< decoded text tokens, leading/trailing spaces trimmed
  std::vector<TimedSegment> segments;
  int steps = 0;               ///< decoder steps run
};

/// Decodes the windows encoded in runner slots [0, n) in lockstep (one decoder call per step for
/// all live windows).
Result<std::vector<WindowResult>> greedy_decode(WhisperRunner& runner, int n, const DecodeOptions& options = {});

/// The decoder prompt for this model: <|startoftranscript|> (+ the language token, <|en|> when
/// language < 0, and <|transcribe|> for multilingual models) (+ <|notimestamps|>).
std::vector<int> make_prompt(const WhisperModel& model, bool timestamps, int language = -1);

}  // namespace parley::whisper
