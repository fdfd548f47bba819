// Polyphase windowed-sinc resampler: any rational rate ratio (44100 -> 16000, 16000 -> 22050,
// 8000 -> 48000, ...), one-shot or streaming (state kept between chunks, same output either way).
// Why: services compute at one rate (ASR 16 kHz, TTS at its voice's rate) while clients send and
// play whatever their device uses; a linear interpolator would alias audibly and hurt ASR.
// Depends on shared/common/status.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "shared/common/status.h"

namespace parley::audio {

struct ResamplerOptions {
  /// Zero crossings of the sinc on each side (at the lower of the two rates): the filter length.
  int zero_crossings = 16;
  /// Cut-off as a fraction of the lower rate's Nyquist frequency (the transition band ends there).
  double rolloff = 0.94;
  /// Kaiser window shape (8.6: about 80 dB stop-band attenuation).
  double kaiser_beta = 8.6;
  /// Largest number of filter phases (= out_rate / gcd(in_rate, out_rate)) accepted; the tables
  /// take phases x taps floats.
  int max_phases = 16384;
};

/// Converts a stream of mono float samples from in_rate to out_rate.
///
/// Output sample n is the band-limited input evaluated at time n * in_rate / out_rate (input
/// samples), i.e. zero delay: the input is taken as zero before its first sample and after its
/// last. After flush(), exactly ceil(inputs * out_rate / in_rate) samples have been produced,
/// however the input was chunked (chunked and one-shot outputs are bit-identical).
///
///   PARLEY_ASSIGN_OR_RETURN(Resampler rs, Resampler::create(44100, 16000));
///   std::vector<float> out;
///   rs.process(chunk1, out);  rs.process(chunk2, out);  ...  rs.flush(out);
///
/// Threading: one stream per object; not synchronized.
class Resampler {
 public:
  /// InvalidArgument when a rate is < 1, options are out of range, or the ratio needs more than
  /// max_phases filter phases.
  static Result<Resampler> create(int in_rate, int out_rate, const ResamplerOptions& options = {});

  /// Appends the output that `in` makes available (the last few inputs wait for the
  /// filter's look-ahead until more input or flush()).
  void process(std::span<const float> in, std::vector<float>& out);
  /// Ends the stream: appends the remaining output, then resets for a new stream.
  void flush(std::vector<float>& out);
  /// Forgets all input (a new stream).
  void reset();

  /// One-shot conversion of a whole signal.
  static Result<std::vector<float>> resample(std::span<const float> in, int in_rate, int out_rate,
                                             const ResamplerOptions& options = {});

  int in_rate() const { return in_rate_; }
  int out_rate() const { return out_rate_; }
  /// The reduced ratio out/in = up/down.
  int up() const { return up_; }
  int down() const { return down_; }
  int taps_per_phase() const { return taps_; }
  /// Inputs received and outputs produced since the last reset.
  std::int64_t inputs() const { return total_in_; }
  std::int64_t outputs() const { return produced_; }

 private:
  Resampler() = default;
  void produce(std::vector<float>& out, std::int64_t limit);

  int in_rate_ = 0, out_rate_ = 0;
  int up_ = 1, down_ = 1;
  int half_ = 0;   // taps cover input offsets [-half_, half_] around floor(t)
  int taps_ = 1;   // 2 * half_ + 1
  bool passthrough_ = false;
  std::vector<float> coeffs_;  // [up_][taps_]

  std::vector<float> buf_;         // input history; buf_[0] is input index buf_start_
  std::int64_t buf_start_ = 0;
  std::int64_t total_in_ = 0;
  std::int64_t produced_ = 0;
  std::int64_t pos_ = 0;           // floor of the next output's input time
  std::int64_t phase_ = 0;         // its fractional part, in 1/up_ units
};

}  // namespace parley::audio
