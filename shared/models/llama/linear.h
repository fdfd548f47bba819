// Linear: one projection weight W[N,K] converted once at load to the layout the engine computes
// with (INT8 per-channel, FP32, or native GGUF blocks; optionally 2:4-pruned; optionally plus the
// file's Q4/Q8 blocks for small calls), placed on the model's device, and y = x . W^T through the
// backend table. Why: precision is a parameter of one type, not parallel layer classes
// (STYLE.md); conversion happens on the host, the math wherever the model lives.
// Depends on shared/models/runtime (ModelDevice), kernels/ (backend table, host format tools),
// shared/engine/gguf (TensorInfo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/ops/sparse24.h"
#include "shared/common/status.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/models/runtime/model_device.h"

namespace parley::llama {

/// Weight storage and arithmetic of the projections.
///   kInt8: symmetric int8 per output channel (scale = absmax/127), activations quantized per
///          token at run time (ops quantize / quantize_rows), gemm_int8 (W8A8). The default.
///   kFp32: f32 weights (dequantized GGUF blocks: the exact-as-possible reference path).
///   kNative: the GGUF blocks as stored (any engine GGUF type, f16/bf16/f32), kernels gemm
///          dequantizes them on the fly (memory as in the file; speed of the f32 GEMM).
enum class Precision : std::uint8_t { kInt8 = 0, kFp32 = 1, kNative = 2 };
/// 2:4 magnitude pruning at load (see LoadOptions).
enum class Prune24 : std::uint8_t { kOff = 0, kDense = 1, kSparse = 2 };

std::string_view precision_name(Precision p);

/// Where a Linear's per-call scratch lives (device memory of the model, sized by the caller with
/// Linear::scratch_int8_bytes / scratch_scale_floats for the largest call): quantized
/// activations [m, k] and their per-token scales [m].
struct LinearScratch {
  std::int8_t* xq = nullptr;
  float* xs = nullptr;
};

/// In place on HOST memory: x <- x . H / sqrt(n) for the n x n Sylvester Hadamard matrix H (n a
/// power of two). Orthogonal and its own inverse (load-time weight rotation, tests).
void hadamard_inplace(float* x, std::int64_t n);
/// The block size Linear uses to rotate a K-wide input: the largest power of two dividing K, at
/// most 512; 0 (no rotation) when that is below 16.
std::int64_t hadamard_block(std::int64_t k);

/// A weight W[rows=N, cols=K] on one device. Immutable after load; apply() may run on many threads
/// at once (each with its own scratch and stream).
class Linear {
 public:
  Linear() = default;

  /// From f32 rows (HOST, row-major [n, k]): prunes (if asked), converts to `precision` (kNative
  /// is not accepted here: use from_native), and places the result on `dev`.
  /// rotate (kInt8 without pruning only): W8A8 with per-token activation scales loses accuracy
  /// when a few input channels carry outliers (SmolLM2: +6% perplexity). Rotating the input
  /// space by a block Hadamard transform H (W' = W.H folded in here, x' = x.H at run time by
  /// quantize_rows, so x'.W'^T = x.W^T exactly) spreads each outlier over a whole block.
  /// On a device whose backend has no 2:4 kernel for this shape, kSparse keeps the pruned weights
  /// dense (same values; sparse_fallback() says so).
  static Result<Linear> from_f32(std::vector<float> w, std::int64_t n, std::int64_t k, Precision precision,
                                 Prune24 prune, const models::ModelDevice& dev, bool rotate = false);
  /// Native GGUF blocks: `bytes` holds n rows of row_bytes(type, k) bytes (HOST; placed on dev).
  static Result<Linear> from_native(std::vector<std::byte> bytes, engine::DType type, std::int64_t n, std::int64_t k,
                                    const models::ModelDevice& dev);

  /// One row range of the weight in one GGUF block type (add_blocks): `rows` x row_bytes(type, k)
  /// HOST bytes.
  struct BlockPart {
    std::vector<std::byte> bytes;
    engine::DType type = engine::DType::kQ4_1;
    std::int64_t rows = 0;
  };
  /// Also keep the GGUF blocks of this weight (any gemm_q4 type: q4_0, q4_1, q8_0, q5_0, q5_1,
  /// q4_k, q5_k, q6_k), as consecutive row ranges that may differ in type (a fused QKV whose V
  /// rows are q8_0 and Q/K rows q5_0), each packed by the backend's pack_gemm_q4 hook, and run
  /// calls with at most `max_tokens` tokens on them (op gemm_q4, one call per part): W4A8-style
  /// with per-32 activation scales (llama.cpp's arithmetic on the file's own weights, no
  /// rotation), reading 4.5-6.6 bits per weight instead of 8. Larger calls keep this Linear's own
  /// precision. A backend without gemm_q4 for one of the types leaves the Linear as it is
  /// (returns OK; block_max_tokens() stays 0). InvalidArgument when the parts do not cover the n
  /// rows exactly, or for types gemm_q4 does not take / K not a multiple of their block size.
  Status add_blocks(const std::vector<BlockPart>& parts, std::int64_t max_tokens, const models::ModelDevice& dev);
  /// One part covering every row.
  Status add_blocks(const std::vector<std::byte>& rows, engine::DType type, std::int64_t max_tokens,
                    const models::ModelDevice& dev);
  /// y += bias on every call (N floats, HOST; placed on dev). Qwen2's Q/K/V projections have one.
  Status set_bias(std::vector<float> bias, const models::ModelDevice& dev);
  bool has_bias() const { return !bias_.empty() || bias_dev_.ptr != nullptr; }

  std::int64_t rows() const { return n_; }
  std::int64_t cols() const { return k_; }
  Precision precision() const { return precision_; }
  bool sparse() const { return sparse_; }
  /// kSparse asked, but the device has no 2:4 kernel for it: pruned weights stored dense.
  bool sparse_fallback() const { return sparse_fallback_; }
  std::int64_t rotation_block() const { return rot_block_; }
  engine::DType native_type() const { return native_type_; }
  /// add_blocks(): the block type (of the first part) and the largest call (tokens) that uses it
  /// (0 = none); block_types() lists every part's type.
  engine::DType block_type() const { return blocks_.empty() ? engine::DType::kF32 : blocks_.front().type; }
  std::vector<engine::DType> block_types() const;
  std::int64_t block_max_tokens() const { return block_max_tokens_; }
  /// Bytes of weights on the device.
  std::int64_t bytes() const { return bytes_; }
  /// Scratch one apply() of m tokens needs (LinearScratch).
  std::int64_t scratch_int8_bytes(std::int64_t m) const;
  /// Device scratch the backend's GEMM may need for m tokens (int32 accumulators, gemm_q4's
  /// quantized activations, dequantized native blocks): the ExecContext workspace a CUDA-graph
  /// capture must bring (0 on the CPU, whose ops allocate nothing per call that a graph keeps).
  std::size_t gemm_workspace_bytes(std::int64_t m) const;

  /// y[m, 0..n) = x[m, 0..k) . W^T (f32 in and out, DEVICE pointers of dev; leading dimensions
  /// in elements), enqueued on dev's stream. Runs on the add_blocks() blocks when
  /// m <= block_max_tokens(), else on this Linear's precision; adds the bias (set_bias) either way.
  Status apply(std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy,
               const LinearScratch& scratch, const models::ModelDevice& dev) const;

  /// The weight as f32 rows (what apply multiplies by, up to activation quantization; calls that
  /// run on add_blocks() blocks use the file's values instead). CPU-placed Linears only (the host
  /// copy is dropped after a GPU upload): empty otherwise.
  std::vector<float> to_f32() const;

 private:
  Status place(const models::ModelDevice& dev);

  std::int64_t n_ = 0, k_ = 0;
  Precision precision_ = Precision::kFp32;
  bool sparse_ = false;            // stored 2:4-compressed (in the device's layout)
  bool sparse_fallback_ = false;
  std::int64_t rot_block_ = 0;     // kInt8: block Hadamard rotation of the input space (0 = none)
  engine::DType native_type_ = engine::DType::kF32;
  bool cpu_layout_ = true;         // placed on the CPU (host vectors are the device copies)
  // Host copies (the CPU's device memory; dropped after a GPU upload).
  std::vector<float> f32_;          // kFp32 dense, or kFp32 2:4 values [n, k/2]
  std::vector<std::int8_t> i8_;     // kInt8 dense, or kInt8 2:4 values [n, k/2]
  std::vector<float> scales_;       // kInt8: [n]
  std::vector<float> apply_scales_; // kInt8 rotated: scales_ / sqrt(rot_block_) (see apply)
  std::vector<std::uint8_t> meta_;  // 2:4 metadata [n, ceil(k/8)]
  std::vector<std::byte> native_;   // kNative blocks
  // Device views (pointers into the host copies on the CPU).
  models::DeviceView<std::byte> weight_;       // f32_ / i8_ / native_ bytes, or the backend-packed 2:4 matrix
  models::DeviceView<std::uint8_t> meta_dev_;  // kCpu-layout 2:4 metadata
  models::DeviceView<float> scales_dev_, apply_scales_dev_;
  kernels::Sparse24Layout sparse_layout_ = kernels::Sparse24Layout::kCpu;
  // add_blocks(): the backend's gemm_q4 layout of the file's blocks, per row range.
  struct Blocks {
    models::DeviceBuffer packed;
    engine::DType type = engine::DType::kF32;
    std::int64_t row0 = 0, rows = 0;
  };
  std::vector<Blocks> blocks_;
  std::int64_t block_max_tokens_ = 0;
  std::vector<float> bias_;                // host copy (dropped after a GPU upload)
  models::DeviceView<float> bias_dev_;
  std::int64_t bytes_ = 0;
};

/// Rows [row0, row0+nrows) of a GGUF tensor (viewed as [rows, cols]) as f32, row-major (HOST;
/// converted on the CPU backend). InvalidArgument naming the tensor for types the engine cannot
/// decode (IQ*, TQ*, ...).
Result<std::vector<float>> tensor_rows_f32(const engine::gguf::TensorInfo& t, std::int64_t row0, std::int64_t nrows,
                                           const kernels::ExecContext& ctx = kernels::ExecContext::cpu());

}  // namespace parley::llama
