// INT8 GEMM: int8 activations x int8 weights -> int32 accumulators, dequantized with per-token
// activation scales and per-output-channel weight scales, then bias + activation, stored as float.
// Why: the fast path for every linear layer of the encoders and LMs (W8A8, symmetric).
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// C[M,N] = act(a_scale[i] * b_scale[j] * sum_k A[i,k] * B[j,k] + bias[j])    (c_type f32/f16/bf16)
/// C[M,N] = sum_k A[i,k] * B[j,k]  (raw int32 accumulators; scales, bias, act ignored) (c_type i32)
///
/// Layouts (row-major, leading dimensions in elements):
///   A: activations, M rows of K int8, row i at a + i*lda (quantize per token: quantize.h).
///   B: weights, N rows of K int8, row j at b + j*ldb (PyTorch Linear layout, quantized per
///      output channel). No packing: every backend reads this layout (the CUDA backend's
///      cuBLASLt "TN" int8 GEMM reads it as is).
///   C: M rows of N values at c + i*ldc.
/// Values of A and B must lie in [-127, 127] (what symmetric quantization produces); -128 is
/// not supported (the AVX2 sign trick would overflow).
/// Scales: a_scales has M entries (per token) or 1 when a_per_tensor; b_scales has N entries
/// (per output channel) or 1 when b_per_tensor. bias: N floats or nullptr.
/// Empty sizes are valid. int32 accumulation is exact for K <= 133,000 (127*127*K < 2^31).
struct GemmInt8Args {
  std::int64_t m = 0, n = 0, k = 0;
  const std::int8_t* a = nullptr;
  std::int64_t lda = 0;
  const std::int8_t* b = nullptr;
  std::int64_t ldb = 0;
  const float* a_scales = nullptr;
  bool a_per_tensor = false;
  const float* b_scales = nullptr;
  bool b_per_tensor = false;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  void* c = nullptr;
  std::int64_t ldc = 0;
  DType c_type = DType::kF32;
};

Status validate(const GemmInt8Args& args);

namespace cpu {
/// Scalar reference, AVX2 (vpmaddubsw/vpmaddwd) and AVX-512 VNNI (vpdpbusd) variants, cache
/// blocked and split over the thread pool.
Status gemm_int8(const GemmInt8Args& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
