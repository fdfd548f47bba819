// Whisper's log-mel front end: 80 (or 128) mel bins of 25 ms frames every 10 ms at 16 kHz,
// computed exactly as faster-whisper's FeatureExtractor does (the reference the model is
// checked against), and the 30-second window the encoder takes.
// Why: the encoder is only as right as its input; this is host-side signal processing (one FFT
// per 10 ms), done once per window before the device runs the network. Depends on shared/common.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "shared/common/status.h"

namespace parley::whisper {

inline constexpr int kSampleRate = 16000;
inline constexpr int kNfft = 400;        // 25 ms
inline constexpr int kHop = 160;         // 10 ms
inline constexpr int kWindowFrames = 3000;  // 30 s: what the encoder takes
inline constexpr int kWindowSamples = kWindowFrames * kHop;

/// The Slaney-style mel filter bank [n_mels, 1 + n_fft/2] (librosa mel(sr, n_fft, n_mels,
/// htk=False, norm="slaney"), as Whisper and faster-whisper compute it).
std::vector<float> mel_filters(int n_mels, int sample_rate = kSampleRate, int n_fft = kNfft);

/// Log-mel spectrogram of 16 kHz mono audio, [n_mels, frames] row-major, as faster-whisper's
/// FeatureExtractor(audio, padding=160): 160 zeros appended, reflect-padded STFT (periodic Hann,
/// n_fft 400, hop 160), the last frame dropped, power spectrum, mel, log10(max(x, 1e-10)),
/// floored at (max - 8), then (x + 4) / 4. frames = samples / 160 + 1.
class LogMel {
 public:
  explicit LogMel(int n_mels = 80);
  int n_mels() const { return n_mels_; }
  /// InvalidArgument for empty audio or more than `max_samples` (bounded work). `tail_zeros`:
  /// zeros appended before the reflect padding (faster-whisper: 160; Hugging Face's
  /// WhisperFeatureExtractor, which smart-turn follows: 0, giving samples / 160 frames).
  Result<std::vector<float>> compute(std::span<const float> audio, std::int64_t max_samples = 30 * 60 * kSampleRate,
                                     int tail_zeros = kHop) const;
  /// The encoder input for audio of at most 30 s: the first min(3000, samples / 160) frames of
  /// compute(audio) (faster-whisper's "content frames"), zero-padded to [n_mels, 3000].
  /// InvalidArgument when the audio is longer than 30 s or empty.
  Result<std::vector<float>> window(std::span<const float> audio) const;
  const std::vector<float>& filters() const { return filters_; }

 private:
  int n_mels_;
  std::vector<float> filters_;  // [n_mels, 201]
  std::vector<std::pair<int, int>> support_;  // per mel: [first, last + 1) of its non-zero weights
  std::vector<float> hann_;     // periodic, 400
};

}  // namespace parley::whisper
