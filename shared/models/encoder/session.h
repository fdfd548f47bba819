// EncoderSession: runs the forward pass of a shared EncoderModel over a batch of token sequences
// of different lengths, packed without padding, on the model's device, and pools sentence
// embeddings. Why: per-worker device scratch (grown once, reused every call) and stream next to
// one immutable model shared by all workers; token ids in, hidden states out (one download).
// Depends on model.h, shared/models/runtime, kernels/backend.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "shared/common/status.h"
#include "shared/models/encoder/batch.h"
#include "shared/models/encoder/model.h"
#include "shared/models/runtime/model_device.h"

namespace parley::encoder {

/// Token-level output, packed: sequence b's token t is row offsets[b] + t of `hidden`.
struct EncoderOutput {
  std::int64_t hidden_size = 0;
  std::vector<std::int32_t> lengths;   ///< [B]
  std::vector<std::int64_t> offsets;   ///< [B + 1] row offsets into hidden
  std::vector<float> hidden;           ///< [total_tokens, hidden_size]

  std::size_t size() const { return lengths.size(); }
  /// Hidden state of token t of sequence b (hidden_size floats).
  std::span<const float> token(std::size_t b, std::int64_t t) const {
    return {hidden.data() + (offsets[b] + t) * hidden_size, static_cast<std::size_t>(hidden_size)};
  }
  /// The batch as [B, T, H] with T = max length, zero rows past each length.
  std::vector<float> padded(std::int64_t* max_len = nullptr) const;
};

/// Sentence embeddings: `count` rows of `dim` floats.
struct Embeddings {
  int dim = 0;
  std::vector<float> data;
  std::size_t count() const { return dim == 0 ? 0 : data.size() / static_cast<std::size_t>(dim); }
  std::span<const float> row(std::size_t i) const {
    return {data.data() + i * static_cast<std::size_t>(dim), static_cast<std::size_t>(dim)};
  }
};

/// Pools one packed output per sequence (mean over its tokens, first token, or max) and
/// optionally L2-normalizes (sentence-transformers' Pooling + Normalize modules).
Embeddings pool(const EncoderOutput& out, Pooling pooling, bool normalize);

/// erf(x) in f32 without libm (|error| < 2e-7); used by the two-pass GELU epilogue.
float fast_erf(float x);

struct SessionOptions {
  /// CPU threads for the kernels: nullptr = kernels::ThreadPool::global() (all cores, or
  /// PARLEY_NUM_THREADS). Give each worker its own pool to run workers side by side.
  kernels::ThreadPool* threads = nullptr;
  /// Cap the CPU ISA variant (tests; kAuto = best available).
  kernels::CpuIsa cpu_isa = kernels::CpuIsa::kAuto;
  /// Calibration hook (EncoderModel's SmoothQuant pass): sees the FP32 input of every linear
  /// (HOST memory: on a GPU each input is downloaded first, so this is for calibration only).
  std::function<void(std::size_t layer, LinearMask which, const float* x, std::int64_t rows, std::int64_t cols)>
      observe_linear_input;
};

/// Not thread-safe: one session per worker thread; any number of sessions share one model.
/// Blocks the calling thread (and the pool's threads) until the batch is done. On a GPU each
/// session owns a stream: sessions of different threads run side by side.
///
///   EncoderSession s(model);
///   TokenBatch b; b.add(ids);
///   EncoderOutput out;
///   PARLEY_RETURN_IF_ERROR(s.encode(b, out));
///   Embeddings e = pool(out, model->sentence().pooling, model->sentence().normalize);
class EncoderSession {
 public:
  explicit EncoderSession(std::shared_ptr<const EncoderModel> model, SessionOptions options = {});
  ~EncoderSession();
  EncoderSession(const EncoderSession&) = delete;
  EncoderSession& operator=(const EncoderSession&) = delete;

  /// Runs the encoder. InvalidArgument for an empty sequence, a sequence longer than
  /// model().max_length(), or an id / type id outside the vocabulary (naming sequence and token).
  /// `out` is overwritten (its buffers are reused; host memory).
  Status encode(const TokenBatch& batch, EncoderOutput& out);

  /// encode() + pool() with the model's sentence head.
  Result<Embeddings> embed(const TokenBatch& batch);

  const EncoderModel& model() const { return *model_; }
  std::shared_ptr<const EncoderModel> shared_model() const { return model_; }
  /// Bytes of scratch this session holds (device and host staging), grown to its largest batch.
  std::size_t scratch_bytes() const;

 private:
  Status check(const TokenBatch& batch) const;
  Status embed_tokens(const TokenBatch& batch, const std::int32_t* ids, const std::int32_t* positions,
                      const std::int32_t* types, float* x);
  Status linear(const DeviceLinear& l, const float* x, std::int64_t rows, float* y, kernels::Activation act);
  Status linear_f32(const DeviceLinear& l, const float* x, std::int64_t rows, float* y, kernels::Activation act);
  Status attention(const TokenBatch& batch, const float* qkv, float* ctx);
  Status observe(std::size_t layer, LinearMask which, const float* x, std::int64_t rows, std::int64_t cols);

  std::shared_ptr<const EncoderModel> model_;
  SessionOptions options_;
  models::OwnedStream stream_;
  models::ModelDevice dev_;  // the model's device, this session's stream and CPU knobs
  Status init_;              // stream creation (reported by encode())
  // Device scratch, grown to the largest batch seen.
  models::Scratch x_, qkv_, ctx_buf_, tmp_, ffn_, xq_, xs_, acc_, meta_;
  std::vector<std::int32_t> meta_host_;   // positions (and, on a GPU, ids and type ids) for the embeddings
  std::vector<float> observed_;           // observe hook staging (GPU)

  /// Tokens per two-pass GEMM call (2x as many stacked rows, 3 of the int8 GEMM's 96-row blocks):
  /// keeps acc_ at 1.5 MB for MiniLM's FFN input (measured: 256 was ~5% slower at batch 32,
  /// 64 no better) and a 128-token sequence in one call.
  static constexpr std::int64_t kTwoPassChunk = 128;
  /// The AVX-512 float GEMM's row block (12 x 12): up to this many rows it only splits columns.
  static constexpr std::int64_t kF32RowBlock = 144;
};

}  // namespace parley::encoder
