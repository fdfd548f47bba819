// Activation quantization for int8 linears and the epilogue that sums raw int32 products: per-token
// int8 with an optional SmoothQuant column scale, an optional block Hadamard rotation and an
// optional second (residual) pass; and dequantize-sum of up to 4 int32 GEMM blocks.
// Why: the encoder's two-pass linears and the LM's rotated W8A8 linears quantize activations this
// way on every call; as backend ops they run where the activations live (CPU or GPU).
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels {

/// Per row i of x [rows, cols] (f32):
///   v = x[i,:] * col_scale (when col_scale is set; one rounded product per element),
///   v = v . H_B per block of rotate_block columns (when rotate_block > 0: the UNNORMALIZED
///       Walsh-Hadamard transform, radix-2 butterflies in the order len = 1, 2, 4, ...; the caller
///       folds 1/sqrt(B) into the weight scales),
///   scales[i] = amax(v) / 127,  inv = scales[i] > 0 ? 1 / scales[i] : 0,
///   q[i,j] = clamp(round_half_even(v[j] * inv), -127, 127)
///   (the kernels' symmetric rule, quantize.h; an all-zero row gets scale 0 and zeros).
/// With q2 set, the residual r = v - scales[i] * q[i,:] (product rounded, then the difference;
/// never a fused multiply-add, so every backend gives the same bits) is quantized the same way
/// into q2 / scales2, so v ~ scales*q + scales2*q2 (~15-bit activations from two int8 GEMMs).
/// Every backend produces bit-identical q, scales, q2, scales2. rotate_block is a power of two
/// >= 2 dividing cols, at most 4096. Leading dimensions in elements.
struct QuantizeRowsArgs {
  std::int64_t rows = 0, cols = 0;
  const float* x = nullptr;
  std::int64_t ldx = 0;
  const float* col_scale = nullptr;  ///< [cols] or nullptr
  std::int8_t* q = nullptr;
  std::int64_t ldq = 0;
  float* scales = nullptr;           ///< [rows]
  std::int8_t* q2 = nullptr;         ///< residual pass, or nullptr
  std::int64_t ldq2 = 0;
  float* scales2 = nullptr;          ///< [rows] when q2 is set
  std::int64_t rotate_block = 0;     ///< 0 = no rotation
};

/// y[i,j] = act( sum_t terms[t].a_scales[i] * terms[t].b_scales[j] * terms[t].acc[i,j] + bias[j] )
/// over num_terms (1..4) raw int32 accumulator blocks (gemm_int8 with c_type i32), e.g. the two
/// activation passes of one linear stacked as 2*rows GEMM rows. bias may be null. y is f32 and
/// must not alias an accumulator block.
struct DequantizeSumArgs {
  struct Term {
    const std::int32_t* acc = nullptr;
    std::int64_t ld = 0;
    const float* a_scales = nullptr;  ///< [rows]
    const float* b_scales = nullptr;  ///< [cols]
  };
  static constexpr int kMaxTerms = 4;
  std::int64_t rows = 0, cols = 0;
  Term terms[kMaxTerms];
  int num_terms = 0;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float* y = nullptr;
  std::int64_t ldy = 0;
};

Status validate(const QuantizeRowsArgs& args);
Status validate(const DequantizeSumArgs& args);

namespace cpu {
/// Scalar reference and AVX-512 variant (bit-identical quantization; dequantize within f32
/// rounding, the GELU through the kernels' vector erfc). Block until done; row-parallel on
/// ctx.threads (rows < 4 with rotation run on the calling thread: decode-sized calls).
Status quantize_rows(const QuantizeRowsArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status dequantize_sum(const DequantizeSumArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
