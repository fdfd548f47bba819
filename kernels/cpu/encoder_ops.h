// Fused CPU ops of the W8A8 encoder path (shared/models/encoder): per-token activation quantization with
// an optional SmoothQuant column scale and an optional second (residual) pass, and the epilogue
// that dequantizes and sums raw int32 GEMM accumulators (+ bias + activation).
// Why: the encoder's two-pass linears ran these as several scalar passes between the GEMMs
// (~15% of an INT8 forward); one vectorized pass each keeps them off the profile.
// CPU only (host pointers); not in the Backend table. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels {

/// Per row i of x [rows, cols] (v = x[i,:] * col_scale, or x[i,:] when col_scale is null):
///   scales[i] = amax(v) / 127,  q[i,j] = clamp(round_half_even(v[j] / scales[i]), -127, 127)
///   (the kernels' symmetric rule, quantize.h; an all-zero row gets scale 0 and zeros).
/// With q2 set, the quantization residual r = v - scales[i] * q[i,:] (product rounded, then the
/// difference; no fused multiply-add, so every variant gives the same bits) is quantized the same way
/// into q2 / scales2, so v ~ scales*q + scales2*q2 (~15-bit activations from two int8 GEMMs).
/// Leading dimensions in elements. Blocks; row-parallel on ctx.threads.
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
/// rounding, the GELU through the kernels' vector erfc). Block until done.
Status quantize_rows(const QuantizeRowsArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status dequantize_sum(const DequantizeSumArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
