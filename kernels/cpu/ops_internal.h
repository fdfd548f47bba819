// Internal interface between the non-GEMM op dispatchers (attention.cc, norm.cc, encoder_ops.cc,
// bf16_linear.cc, int8_linear.cc) and their AVX-512 variants (attention_avx512.cc,
// encoder_ops_avx512.cc, bf16_linear_avx512.cc, int8_linear_avx512.cc).
// Why: only the *_avx512.cc files are compiled with -mavx512*; the dispatchers stay baseline
// x86-64 and call these after resolve_isa(). Depends on kernels/ops/*.h.
#pragma once

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/elementwise.h"
#include "kernels/ops/int8_linear.h"
#include "kernels/ops/norm.h"
#include "kernels/ops/quantize_rows.h"
#include "kernels/ops/softmax.h"

namespace parley::kernels::cpu::detail {

/// attention_prefill for dtype f32 (validated, non-empty args; `scale` already defaulted):
/// scores, softmax (vector exp) and P.V per (batch, head) with register-tiled loops.
void attention_prefill_f32_avx512(const AttentionPrefillArgs& args, float scale, ThreadPool& pool);

/// norm for dtype f32 (validated, non-empty args).
void norm_f32_avx512(const NormArgs& args, ThreadPool& pool);

/// Same contracts as cpu::quantize_rows / cpu::dequantize_sum (validated, non-empty args).
void quantize_rows_avx512(const QuantizeRowsArgs& args, ThreadPool& pool);
void dequantize_sum_avx512(const DequantizeSumArgs& args, ThreadPool& pool);

/// AVX-512 BF16 (CPUID leaf 7.1 EAX bit 5) present; false on non-x86 builds.
bool cpu_has_avx512_bf16();
/// bf16_linear on vdpbf16ps (validated, non-empty args; needs cpu_has_avx512_bf16()), or on AMX
/// tiles when `amx` (use_amx(); amx_tiles.cc).
void bf16_linear_avx512(const Bf16LinearArgs& args, ThreadPool& pool, bool amx);
/// int8_linear on vpdpbusd (validated, non-empty args; the avx512_vnni ISA level), its blocks of
/// 32 rows on AMX tiles when `amx` (use_amx(); amx_tiles.h).
void int8_linear_avx512(const Int8LinearArgs& args, ThreadPool& pool, bool amx);

/// y[i] = op(x[i]) for op in {Erf, Tanh, Sigmoid} (pointwise_avx512.cc); false (nothing done)
/// for any other op. x may equal y.
bool unary_f32_avx512(EwOp op, const float* x, float* y, std::int64_t n);
/// v[i] = GELU(v[i]) (erf form), vact's, as the GEMM epilogues compute it (pointwise_avx512.cc).
void gelu_erf_avx512(float* v, std::int64_t n);
/// dx[i] = dy[i] * GELU'(x[i]) (erf form: Phi(x) + x phi(x)), with vact's erfc (pointwise_avx512.cc).
void gelu_erf_grad_avx512(const float* x, const float* dy, float* dx, std::int64_t n);
/// softmax for dtype f32 (validated, non-empty args).
void softmax_f32_avx512(const SoftmaxArgs& args, ThreadPool& pool);
/// The QDQ round trip of one channel run: (clamp(round(x / scale) + zp, lo, hi) - zp) * scale.
void affine_round_trip_avx512(const float* x, float* y, std::int64_t n, float scale, float zp, float lo, float hi);
/// QuantizeLinear of one channel run to 8-bit y (uint8 or int8 by [lo, hi]): clamp(round(x /
/// scale) + zp, lo, hi), as the scalar loop (a NaN gives lo).
void affine_quantize_8bit_avx512(const float* x, void* y, std::int64_t n, float scale, float zp, float lo, float hi);
/// Symmetric int8 of one f32 row, as cpu::quantize's scalar loop: y = clamp(round_half_even(x *
/// inv), -127, 127) (a NaN gives -127, where the scalar cast is undefined). absmax skips NaNs, as
/// std::max(m, |x|) does.
void quantize_row_i8_avx512(const float* x, std::int64_t n, float inv, std::int8_t* y);
float absmax_f32_avx512(const float* x, std::int64_t n);

}  // namespace parley::kernels::cpu::detail
