// GEMM on floating-point inputs (f32/f16/bf16, f32 accumulate) with a fused bias + activation
// epilogue; B may also be a GGUF block-quantized weight (Q8_0/Q4_0/Q4_1, dequantized on the fly).
// Why: every linear layer of every model; the layout matches PyTorch Linear / GGUF ([N,K] weights).
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// C[M,N] = act(alpha * A[M,K] . op(B) + beta * C + bias[N])
///
/// Layouts (all row-major, leading dimensions in ELEMENTS, >= the row length):
///   A: M rows of K values, row i at a + i*lda.
///   B: b_transposed (default, weights as stored by PyTorch/GGUF): N rows of K values, row j at
///      b + j*ldb, so op(B) = B^T.  !b_transposed: K rows of N values (op(B) = B).
///      Block-quantized B (q8_0/q4_0/q4_1) needs b_transposed, K % 32 == 0, and ldb % 32 == 0
///      (ldb counted in values; row j starts at byte j*ldb/32*block_bytes).
///   C: M rows of N values, row i at c + i*ldc. With beta == 0, C is not read (may hold NaN).
/// Dtypes: a_type, b_type in {f32, f16, bf16} (may differ; b_type also q8_0/q4_0/q4_1);
///         c_type in {f32, f16, bf16}; bias is f32 (nullptr = none). Accumulation is f32.
/// Empty sizes (M, N or K == 0) are valid: K == 0 gives act(beta*C + bias).
/// Threading: the CPU backend splits the work over ExecContext::threads; returns when done.
/// Mixed precision: with ExecContext::bf16_gemm, all-f32 products may multiply bf16-rounded A and
/// B (f32 accumulation, same epilogue) where the device runs bf16 natively (ops/common.h).
struct GemmArgs {
  std::int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  std::int64_t lda = 0;
  DType a_type = DType::kF32;
  const void* b = nullptr;
  std::int64_t ldb = 0;
  DType b_type = DType::kF32;
  bool b_transposed = true;
  void* c = nullptr;
  std::int64_t ldc = 0;
  DType c_type = DType::kF32;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float alpha = 1.0f;
  float beta = 0.0f;
};

/// Checks sizes, pointers and dtype combinations (shared by all backends).
Status validate(const GemmArgs& args);

namespace cpu {
/// CPU entry point (scalar reference + AVX2 / AVX-512 variants).
Status gemm(const GemmArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
