// Linear: one projection weight W[N,K] in the layout the engine computes with (INT8 per-channel,
// FP32, or native GGUF blocks; optionally 2:4-pruned), and y = x . W^T on kernels/.
// Why: precision is a parameter of one type, not parallel layer classes (STYLE.md); the model
// converts each GGUF tensor once at load through these helpers. Depends on kernels/ (gemm,
// gemm_int8, quantize, sparse24), shared/engine/gguf (TensorInfo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"
#include "kernels/ops/common.h"
#include "kernels/ops/sparse24.h"

namespace parley::lm {

/// Weight storage and arithmetic of the projections.
///   kInt8: symmetric int8 per output channel (scale = absmax/127), activations quantized per
///          token at run time, kernels gemm_int8 (W8A8). The default: 3-9x faster than f32 on CPU.
///   kFp32: f32 weights (dequantized GGUF blocks: the exact-as-possible reference path).
///   kNative: the GGUF blocks as stored (q8_0/q4_0/q4_1/f16/bf16/f32), kernels gemm dequantizes
///          them on the fly (memory as in the file; speed of the f32 GEMM).
enum class Precision : std::uint8_t { kInt8 = 0, kFp32 = 1, kNative = 2 };
/// 2:4 magnitude pruning at load (see LoadOptions).
enum class Prune24 : std::uint8_t { kOff = 0, kDense = 1, kSparse = 2 };

std::string_view precision_name(Precision p);

/// Per-worker scratch for Linear::apply (quantized / rotated activations).
struct LinearScratch {
  std::vector<std::int8_t> xq;
  std::vector<float> xs;
  std::vector<float> xr;
};

/// In place: x <- x . H / sqrt(n) for the n x n Sylvester Hadamard matrix H (n a power of two).
/// Orthogonal and its own inverse.
void hadamard_inplace(float* x, std::int64_t n);
/// The block size Linear uses to rotate a K-wide input: the largest power of two dividing K, at
/// most 512; 0 (no rotation) when that is below 16.
std::int64_t hadamard_block(std::int64_t k);

/// A weight W[rows=N, cols=K]. Immutable after construction; apply() may run on many threads at
/// once (each with its own scratch).
class Linear {
 public:
  Linear() = default;

  /// From f32 rows (row-major [n, k]); prunes (if asked) then converts to `precision`
  /// (kNative is not accepted here: use from_native).
  /// rotate (kInt8 without pruning only): W8A8 with per-token activation scales loses accuracy
  /// when a few input channels carry outliers (SmolLM2: +6% perplexity). Rotating the input
  /// space by a block Hadamard transform H (W' = W.H folded in here, x' = x.H at run time, so
  /// x'.W'^T = x.W^T exactly) spreads each outlier over a whole block before quantization.
  static Result<Linear> from_f32(std::vector<float> w, std::int64_t n, std::int64_t k, Precision precision,
                                 Prune24 prune, const kernels::ExecContext& ctx, bool rotate = false);
  /// Native GGUF blocks: `bytes` holds n rows of row_bytes(type, k) bytes (copied in).
  static Result<Linear> from_native(std::vector<std::byte> bytes, engine::DType type, std::int64_t n, std::int64_t k);

  /// Also keep the GGUF blocks of this weight (q4_0 / q4_1 / q8_0; `rows` = n rows of
  /// row_bytes(type, k) bytes, repacked for kernels gemm_q4) and run calls with at most
  /// `max_tokens` tokens on them: W4A8 with per-32 activation scales (llama.cpp's arithmetic on
  /// the file's own weights, no rotation), which reads 4.5-5 bits per weight instead of 8.
  /// Larger calls keep this Linear's own precision. InvalidArgument for other types or K % 32.
  Status add_blocks(const std::vector<std::byte>& rows, engine::DType type, std::int64_t max_tokens,
                    const kernels::ExecContext& ctx);

  std::int64_t rows() const { return n_; }
  std::int64_t cols() const { return k_; }
  Precision precision() const { return precision_; }
  bool sparse() const { return sparse_; }
  std::int64_t rotation_block() const { return rot_block_; }
  engine::DType native_type() const { return native_type_; }
  /// add_blocks(): the block type and the largest call (tokens) that uses it (0 = none).
  engine::DType block_type() const { return block_type_; }
  std::int64_t block_max_tokens() const { return block_max_tokens_; }
  std::int64_t bytes() const;

  /// y[m, 0..n) = x[m, 0..k) . W^T (f32 in and out; leading dimensions in elements). Runs on the
  /// add_blocks() blocks when m <= block_max_tokens(), else on this Linear's precision.
  Status apply(std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy, LinearScratch& scratch,
               const kernels::ExecContext& ctx) const;

  /// The weight as f32 rows (what apply multiplies by, up to activation quantization; calls that
  /// run on add_blocks() blocks use the file's values instead).
  std::vector<float> to_f32() const;

 private:
  Status apply_rotated(std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy,
                       LinearScratch& scratch, const kernels::ExecContext& ctx) const;

  std::int64_t n_ = 0, k_ = 0;
  Precision precision_ = Precision::kFp32;
  bool sparse_ = false;
  std::int64_t rot_block_ = 0;      // kInt8: block Hadamard rotation of the input space (0 = none)
  engine::DType native_type_ = engine::DType::kF32;
  std::vector<float> f32_;          // kFp32 dense, or kFp32 2:4 values [n, k/2]
  std::vector<std::int8_t> i8_;     // kInt8 dense, or kInt8 2:4 values [n, k/2]
  std::vector<float> scales_;       // kInt8: [n]
  std::vector<float> apply_scales_; // kInt8 rotated: scales_ / sqrt(rot_block_) (see apply_rotated)
  std::vector<std::uint8_t> meta_;  // 2:4 metadata [n, ceil(k/8)]
  std::vector<std::byte> native_;   // kNative blocks
  // add_blocks(): gemm_q4 tiles (64 spare bytes: the tiles start at the first 64-byte boundary,
  // so Q4_1's 320-byte tiles are cache-line aligned).
  std::vector<std::byte> blocks_;
  engine::DType block_type_ = engine::DType::kF32;
  std::int64_t block_max_tokens_ = 0;
};

/// Rows [row0, row0+nrows) of a GGUF tensor (viewed as [rows, cols]) as f32, row-major.
/// InvalidArgument naming the tensor for types the engine cannot decode (K-quants, IQ*, ...).
Result<std::vector<float>> tensor_rows_f32(const engine::gguf::TensorInfo& t, std::int64_t row0, std::int64_t nrows,
                                           const kernels::ExecContext& ctx);

}  // namespace parley::lm
