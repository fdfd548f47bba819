// Transcribes audio with Parley's own Whisper engine (shared/models/whisper: INT8 Whisper tiny.en,
// the same model, precision and greedy decoding parley-asr runs for its finals) for tests that
// check speech they produced (TTS intelligibility, the bot's spoken replies in the voice tests).
// Why: "is this audio the words it should be" is the one check that tells speech from noise; it
// must use our engine, not a Python reference. Depends on shared/models/whisper, shared/audio.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "shared/audio/resampler.h"
#include "shared/common/model_paths.h"
#include "shared/models/whisper/decoding.h"
#include "shared/models/whisper/mel.h"
#include "shared/models/whisper/whisper_model.h"

namespace parley::testing {

/// PARLEY_WHISPER_DIR, else <model root>/whisper-tiny-en (tools/models/fetch --for tests).
inline std::string whisper_model_dir() {
  if (const char* d = std::getenv("PARLEY_WHISPER_DIR"); d != nullptr && *d != '\0') return d;
  return model_root() + "/whisper-tiny-en";
}
inline bool whisper_model_present() {
  std::error_code ec;
  const std::string dir = whisper_model_dir();
  return std::filesystem::exists(dir + "/model.bin", ec) && std::filesystem::exists(dir + "/vocabulary.txt", ec);
}

/// Whisper tiny.en INT8 on the CPU backend. Not thread-safe (one runner).
///
///   auto t = WhisperTranscriber::load();                     // once: ~1 s
///   auto texts = (*t)->transcribe({clip16k_a, clip16k_b});   // <= 30 s each, one batch
class WhisperTranscriber {
 public:
  static Result<std::unique_ptr<WhisperTranscriber>> load(const std::string& dir = whisper_model_dir()) {
    auto model = whisper::WhisperModel::load(dir, {});
    if (!model.ok()) return model.status();
    return std::unique_ptr<WhisperTranscriber>(new WhisperTranscriber(std::move(*model)));
  }

  /// One transcript per clip (16 kHz mono, at most 30 s each), all clips in one batch.
  Result<std::vector<std::string>> transcribe(const std::vector<std::vector<float>>& clips) {
    std::vector<std::vector<float>> windows;
    for (const auto& c : clips) {
      auto w = mel_.window(c);
      if (!w.ok()) return w.status();
      windows.push_back(std::move(*w));
    }
    std::vector<std::span<const float>> spans(windows.begin(), windows.end());
    whisper::WhisperRunner runner(model_);
    PARLEY_RETURN_IF_ERROR(runner.encode(spans));
    auto res = whisper::greedy_decode(runner, static_cast<int>(windows.size()));
    if (!res.ok()) return res.status();
    std::vector<std::string> out;
    for (const auto& r : *res) out.push_back(r.text);
    return out;
  }

  /// Audio at any rate: resampled to 16 kHz first.
  Result<std::string> transcribe_at(std::span<const float> audio, int sample_rate) {
    std::vector<float> x(audio.begin(), audio.end());
    if (sample_rate != whisper::kSampleRate) {
      auto r = audio::Resampler::resample(x, sample_rate, whisper::kSampleRate);
      if (!r.ok()) return r.status();
      x = std::move(*r);
    }
    auto t = transcribe({x});
    if (!t.ok()) return t.status();
    return (*t)[0];
  }

 private:
  explicit WhisperTranscriber(std::shared_ptr<const whisper::WhisperModel> m) : model_(std::move(m)), mel_(model_->config().n_mels) {}
  std::shared_ptr<const whisper::WhisperModel> model_;
  whisper::LogMel mel_;
};

/// Words for comparing transcripts: lower case, hyphens split words, other punctuation dropped
/// (apostrophes kept), "p.m." -> "pm".
inline std::vector<std::string> plain_words(const std::string& text) {
  std::string t;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '.') continue;  // "p.m." == "pm", "7.30" stays one token
    if (std::isalnum(u) || c == '\'' || u >= 0x80) t += static_cast<char>(std::tolower(u));
    else t += ' ';
  }
  std::vector<std::string> out;
  std::stringstream ss(t);
  for (std::string w; ss >> w;) out.push_back(w);
  return out;
}

/// Word-level edit distance (substitutions + insertions + deletions).
inline std::size_t word_edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// Words for comparing what was said with what was meant: plain_words, number words up to twelve
/// as digits, "7pm" split into "7 pm", "o'clock" dropped — so "seven PM" == "7 p.m." == "7pm".
inline std::vector<std::string> spoken_words(const std::string& text) {
  static const char* const kNumbers[] = {"zero", "one", "two", "three", "four", "five", "six",
                                         "seven", "eight", "nine", "ten", "eleven", "twelve"};
  std::vector<std::string> out;
  for (std::string w : plain_words(text)) {
    for (int n = 0; n <= 12; ++n) {
      if (w == kNumbers[n]) w = std::to_string(n);
    }
    if (w == "o'clock") continue;
    std::size_t d = 0;
    while (d < w.size() && std::isdigit(static_cast<unsigned char>(w[d]))) ++d;
    if (d > 0 && d < w.size()) {
      out.push_back(w.substr(0, d));
      out.push_back(w.substr(d));
    } else {
      out.push_back(w);
    }
  }
  return out;
}

/// Word error rate of `hyp` against `ref` on spoken_words (1.0 when ref has no words).
inline double spoken_word_error_rate(const std::string& ref, const std::string& hyp) {
  const auto r = spoken_words(ref), h = spoken_words(hyp);
  return r.empty() ? 1.0 : static_cast<double>(word_edit_distance(r, h)) / static_cast<double>(r.size());
}

}  // namespace parley::testing
