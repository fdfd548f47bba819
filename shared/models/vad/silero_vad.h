// Silero VAD v6 (16 kHz) from its safetensors weights: speech probability per 512-sample chunk
// (32 ms), with the recurrent state and 64-sample context carried per stream.
// Why: the ASR service cuts streams into utterances and decides end of speech from these
// probabilities. Architecture (silero-vad's tinygrad_model.py): [64 context | 512 new] samples,
// reflect-pad 64 on the right, STFT as a conv (258 x 256, stride 128: 129 real + 129 imaginary
// rows) -> magnitude [129, 4] -> conv1 (129->128, k3 s1) -> conv2 (128->64, k3 s2) -> conv3
// (64->64, k3 s2) -> conv4 (64->128, k3 s1), all padding 1 + ReLU -> LSTMCell(128) -> ReLU ->
// 1x1 conv -> sigmoid.
// Runs on the host CPU, not through kernels::Backend: ~0.7 MFLOP per 32 ms chunk per stream with
// a per-stream recurrent state, so moving it to a device would cost more in transfers and
// launches than it computes (see shared/models/vad/README.md).
// Depends on shared/engine/safetensors.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::vad {

inline constexpr int kSampleRate = 16000;
inline constexpr int kChunk = 512;    ///< samples per probability (32 ms)
inline constexpr int kContext = 64;   ///< previous samples each chunk also sees
inline constexpr int kHidden = 128;

/// Per-stream recurrent state (zeros at the start of a stream).
struct VadState {
  std::array<float, kHidden> h{};
  std::array<float, kHidden> c{};
  std::array<float, kContext> context{};
  void reset() { *this = VadState{}; }
};

/// The weights. Immutable after load; share between streams and threads.
///
///   PARLEY_ASSIGN_OR_RETURN(auto vad, SileroVad::load(model_root() + "/vad-silero/silero_vad_16k.safetensors"));
///   VadState st;
///   float p = vad->chunk(st, samples_512);          // probability that the chunk is speech
class SileroVad {
 public:
  /// InvalidArgument naming the tensor when a weight is missing or has the wrong shape.
  static Result<std::shared_ptr<const SileroVad>> load(const std::string& path);

  /// One 512-sample chunk (16 kHz, [-1, 1]): updates `state` and returns P(speech).
  float chunk(VadState& state, std::span<const float, kChunk> samples) const;

 private:
  SileroVad() = default;
  std::vector<float> stft_, c1w_, c1b_, c2w_, c2b_, c3w_, c3b_, c4w_, c4b_, wih_, whh_, bih_, bhh_, fw_;
  float fb_ = 0.0f;
};

/// Splits a stream of any chunk sizes into 512-sample VAD chunks.
///
///   VadStream s(vad);
///   s.push(samples, [](std::int64_t chunk_index, float p) { ... });
class VadStream {
 public:
  explicit VadStream(std::shared_ptr<const SileroVad> vad) : vad_(std::move(vad)) {}
  template <typename F>
  void push(std::span<const float> samples, F&& on_prob) {
    for (float s : samples) {
      pending_[static_cast<std::size_t>(filled_++)] = s;
      if (filled_ == kChunk) {
        on_prob(chunks_++, vad_->chunk(state_, std::span<const float, kChunk>(pending_)));
        filled_ = 0;
      }
    }
  }
  std::int64_t chunks() const { return chunks_; }
  void reset() {
    state_.reset();
    filled_ = 0;
    chunks_ = 0;
  }

 private:
  std::shared_ptr<const SileroVad> vad_;
  VadState state_;
  std::array<float, kChunk> pending_{};
  int filled_ = 0;
  std::int64_t chunks_ = 0;
};

}  // namespace parley::vad
