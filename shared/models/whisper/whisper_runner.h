// WhisperRunner: one worker's forward passes of a WhisperModel on its device — the encoder over a
// batch of 30-second windows (filling per-window cross-attention caches) and decoder steps over
// any mix of sequences (self-attention K/V in paged caches, one slot per window).
// Why: the ASR service batches windows from many streams through one encoder call and decodes
// them in lockstep; every op goes through the model's ModelDevice (backend table; no host round
// trip per layer: only the mel input goes up and the logits come down).
// Depends on whisper_model.h, shared/models/runtime (ModelDevice, Scratch, OwnedStream).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/ops/common.h"
#include "shared/models/runtime/model_device.h"
#include "shared/models/whisper/whisper_model.h"

namespace parley::whisper {

/// One decoder input row: token `token` at position `position` of the sequence in `slot`.
struct StepRow {
  int slot = 0;
  int position = 0;
  int token = 0;
};

struct RunnerOptions {
  /// CPU threads for the kernels: nullptr = kernels::ThreadPool::global(). Ignored on a GPU.
  kernels::ThreadPool* threads = nullptr;
  /// Cap the CPU ISA variant (tests; kAuto = best available).
  kernels::CpuIsa cpu_isa = kernels::CpuIsa::kAuto;
};

/// Per-worker state (scratch, caches; on a GPU its own stream, so runners of different threads
/// run side by side). Not thread-safe: one runner per thread; any number of runners share one
/// model.
///
///   WhisperRunner r(model);
///   PARLEY_RETURN_IF_ERROR(r.encode({mel0, mel1}));             // windows -> slots 0, 1
///   std::vector<float> logits;
///   PARLEY_RETURN_IF_ERROR(r.decode({{0, 0, sot}, {1, 0, sot}}, logits));   // [2, vocab]
class WhisperRunner {
 public:
  /// Runs on model->device() (on a GPU with a stream of its own; a failure to create it is
  /// reported by the first encode() / decode()).
  explicit WhisperRunner(std::shared_ptr<const WhisperModel> model, RunnerOptions options = {});
  ~WhisperRunner();
  WhisperRunner(const WhisperRunner&) = delete;
  WhisperRunner& operator=(const WhisperRunner&) = delete;

  /// Encodes windows (host [n_mels, frames] log-mel each, frames even, <= 3000; 3000 = the full
  /// 30 s window the model was trained on) into slots 0..n-1 and resets their decoder state.
  /// Fewer frames run a truncated audio context (frames / 2 encoder positions): several times
  /// cheaper for short audio, not bit-compatible with the reference (used for partial results).
  /// InvalidArgument for a wrong size or NaN input.
  Status encode(std::span<const std::span<const float>> mels, int frames = 3000);
  /// The encoder output of a slot, [audio_ctx, d_model] on the host (tests).
  Status encoder_output(int slot, std::vector<float>& out) const;
  /// Runs rows through the decoder (their K/V are written at their positions first, so rows of
  /// one slot in one call attend causally to each other) and returns logits [rows, vocab] on
  /// the host. InvalidArgument for a slot not encoded, a position >= text_ctx, a bad token id.
  Status decode(std::span<const StepRow> rows, std::vector<float>& logits);

  const WhisperModel& model() const { return *model_; }
  int slots() const { return slots_; }

 private:
  Status linear(const Linear& l, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy,
                kernels::Activation act = kernels::Activation::kNone);
  Status norm(std::int64_t rows, const float* x, const float* residual, float* residual_out, const LayerNormW& ln, float* y);
  Status ensure_slots(int n);

  std::shared_ptr<const WhisperModel> model_;
  models::OwnedStream stream_;
  models::ModelDevice dev_;  // the model's device, this runner's stream and CPU knobs
  const kernels::Backend& be_;
  Status init_;  // stream creation (reported by encode() / decode())
  int slots_ = 0;      // windows encoded (valid slots)
  int positions_ = 0;  // encoder positions of the encoded windows (audio_ctx, or fewer when truncated)
  int capacity_ = 0;   // slots the caches hold
  int self_page_ = 64, self_pages_ = 0;   // same for the self-attention caches

  // Encoder scratch (models::Scratch: grows to the largest batch seen, never shrinks).
  models::Scratch x1_, z_, h_, y_, qkv_, att_, o_, ffn_, q8_, qs_, zeros_;
  // Per decoder layer: cross-attention K|V rows [slot * positions_ + p, 2 d] (the GEMM output,
  // read in place by attention_prefill), and the paged self-attention K and V caches.
  std::vector<models::Scratch> cross_kv_, self_k_, self_v_;
  // Decoder scratch.
  models::Scratch d_ints_, d_e_, d_pe_, d_r_, d_y_, d_qkv_, d_att_, d_o_, d_qc_, d_ffn_, d_logits_;
  std::vector<float> host_x1_;
  std::vector<std::int32_t> host_ints_;
};

}  // namespace parley::whisper
