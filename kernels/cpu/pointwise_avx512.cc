// AVX-512 variants of per-element math the ONNX graphs spend time in: Erf, Tanh, Sigmoid
// (Backend::elementwise on contiguous f32), the f32 softmax rows, and the QDQ round trip.
// Why: the scalar paths call libm per element (erf ~18 ns, exp ~5 ns on the dev VM); smart-turn's
// GELU (Div -> Erf -> Add -> Mul -> Mul) and attention softmax were a fifth of a turn-end
// decision. Accuracy: erf/tanh/sigmoid within a few float ulps of libm (tests/unit/kernels);
// the softmax uses the GEMM epilogues' vexp (~2 ulp). Compiled with the AVX-512 flags (CMake);
// only the detail:: entry points (ops_internal.h) have external linkage.
// Depends on simd_avx512.h, simd_math.h, ops_internal.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;

inline __mmask16 lanes(std::int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// erf(x): the odd Taylor series below |x| = 0.5 (next term < 1.3e-8 relative), 1 - erfc(|x|)
// above (erfc <= 0.48 there, so its 1.2e-7 relative error stays below 6e-8 of the result).
inline __m512 verf(__m512 x) {
  const __m512 a = _mm512_abs_ps(x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(1.0f / 9360.0f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 1320.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f / 216.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 42.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f / 10.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.0f));
  const __m512 small = _mm512_mul_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(1.1283791670955126f));
  // erfc's exp underflows to 0 beyond |x| ~ 9.3, where erf is +-1 in float anyway.
  const __m512 big_abs = _mm512_sub_ps(_mm512_set1_ps(1.0f), simd::verfc_nonneg<V>(_mm512_min_ps(a, _mm512_set1_ps(10.0f))));
  const __m512 big = V::select_neg(x, _mm512_sub_ps(_mm512_setzero_ps(), big_abs), big_abs);
  const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ);
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(_mm512_mask_mov_ps(big, is_small, small), is_nan, x);
}

// tanh(x): the odd Taylor series below |x| = 0.4 (next term < 2e-9 relative), else
// sign(x) (1 - 2 / (exp(2|x|) + 1)) (no cancellation there: the result is >= 0.38).
inline __m512 vtanh(__m512 x) {
  const __m512 a = _mm512_abs_ps(x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(21844.0f / 6081075.0f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1382.0f / 155925.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(62.0f / 2835.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
  const __m512 e = simd::vexp<V>(_mm512_min_ps(_mm512_mul_ps(a, _mm512_set1_ps(2.0f)), _mm512_set1_ps(80.0f)));
  const __m512 big_abs = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  const __m512 big = V::select_neg(x, _mm512_sub_ps(_mm512_setzero_ps(), big_abs), big_abs);
  const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.4f), _CMP_LT_OQ);
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(_mm512_mask_mov_ps(big, is_small, small), is_nan, x);
}

// sigmoid(x) = 1 / (1 + exp(-x)); exp's argument is clamped to +-87 (the result saturates to
// 0 or 1 long before; libm gives denormals below -87 that no model can tell from 0).
inline __m512 vsigmoid(__m512 x) {
  const __m512 nx = _mm512_max_ps(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), x), _mm512_set1_ps(87.0f)), _mm512_set1_ps(-87.0f));
  const __m512 y = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), simd::vexp<V>(nx)));
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_ps(y, is_nan, x);
}

}  // namespace

bool unary_f32_avx512(EwOp op, const float* x, float* y, std::int64_t n) {
  if (op != EwOp::kErf && op != EwOp::kTanh && op != EwOp::kSigmoid) return false;
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 r = op == EwOp::kErf ? verf(v) : op == EwOp::kTanh ? vtanh(v) : vsigmoid(v);
    _mm512_mask_storeu_ps(y + i, m, r);
  }
  return true;
}

void gelu_erf_avx512(float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    _mm512_mask_storeu_ps(v + i, m, simd::vact<V>(Activation::kGeluErf, _mm512_maskz_loadu_ps(m, v + i)));
  }
}

void gelu_erf_grad_avx512(const float* x, const float* dy, float* dx, std::int64_t n) {
  const __m512 rsqrt2 = _mm512_set1_ps(0.70710678118654752f), inv_sqrt_2pi = _mm512_set1_ps(0.39894228040143268f);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    // Phi(x) = erfc(-x / sqrt 2) / 2, as vact's GELU: erfc(|u|) for x < 0, 2 - erfc(|u|) otherwise.
    const __m512 c = simd::verfc_nonneg<V>(V::abs(_mm512_mul_ps(v, rsqrt2)));
    const __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f), V::select_neg(v, c, _mm512_sub_ps(_mm512_set1_ps(2.0f), c)));
    const __m512 pdf = _mm512_mul_ps(inv_sqrt_2pi, simd::vexp<V>(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(v, v))));
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), _mm512_fmadd_ps(v, pdf, cdf));
    _mm512_mask_storeu_ps(dx + i, m, g);
  }
}

void softmax_f32_avx512(const SoftmaxArgs& a, ThreadPool& pool) {
  const std::int64_t n = a.cols;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / n), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> z(static_cast<std::size_t>(n));
    float* zp = z.data();
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = static_cast<const float*>(a.x) + r * a.ldx;
      float* y = static_cast<float*>(a.y) + r * a.ldy;
      const float* mask = a.mask ? a.mask + ((r / a.mask_row_div) % a.mask_rows) * a.ld_mask : nullptr;
      std::int64_t limit = n;  // keys [limit, n) are causally masked
      if (a.causal) limit = std::clamp<std::int64_t>((r % a.causal_queries) + a.causal_offset + 1, 0, n);
      const __m512 scale = _mm512_set1_ps(a.scale);
      __m512 vmax = _mm512_set1_ps(neg_inf);
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        __m512 v = _mm512_mul_ps(scale, _mm512_maskz_loadu_ps(m, x + j));
        if (mask) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask + j));
        if (j + 16 > limit) {
          // Lanes at or past `limit` are masked out.
          const std::int64_t keep = std::clamp<std::int64_t>(limit - j, 0, 16);
          v = _mm512_mask_mov_ps(_mm512_set1_ps(neg_inf), lanes(keep), v);
        }
        _mm512_mask_storeu_ps(zp + j, m, v);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
      }
      const float mx = V::reduce_max(vmax);
      if (mx == neg_inf) {
        std::fill(y, y + n, 0.0f);
        continue;
      }
      const __m512 vm = _mm512_set1_ps(mx);
      __m512 vsum = _mm512_setzero_ps();
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        // exp(-inf) must be 0: vexp clamps its argument, so masked keys are zeroed explicitly.
        const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, zp + j), vm);
        const __mmask16 live = _mm512_mask_cmp_ps_mask(m, d, _mm512_set1_ps(-88.0f), _CMP_GE_OQ);
        const __m512 e = _mm512_maskz_mov_ps(live, simd::vexp<V>(d));
        _mm512_mask_storeu_ps(zp + j, m, e);
        vsum = _mm512_add_ps(vsum, e);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / V::reduce_add(vsum));
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        _mm512_mask_storeu_ps(y + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, zp + j), inv));
      }
    }
  });
}

void affine_round_trip_avx512(const float* x, float* y, std::int64_t n, float scale, float zp, float lo, float hi) {
  // As the scalar round_trip_row: x / scale (a division, as ONNX specifies), round half to even,
  // saturate to [lo, hi] after the zero point, back to float.
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zp), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 q = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 c = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(q, z), vlo), vhi);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_sub_ps(c, z), s));
  }
}

void affine_quantize_8bit_avx512(const float* x, void* y, std::int64_t n, float scale, float zp, float lo, float hi) {
  // As the scalar quantize_row: the round trip's rounding and saturation, stored as bytes (the
  // low byte of the int32: the value for uint8 [0, 255], two's complement for int8 [-128, 127]).
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zp), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  auto* out = static_cast<std::uint8_t*>(y);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 q = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 c = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(q, z), vlo), vhi);
    _mm512_mask_cvtepi32_storeu_epi8(out + i, m, _mm512_cvttps_epi32(c));
  }
}

void quantize_row_i8_avx512(const float* x, std::int64_t n, float inv, std::int8_t* y) {
  const __m512 v_inv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), v_inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // max(q, lo) returns lo for a NaN q (the second operand).
    const __m512 c = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, m, _mm512_cvttps_epi32(c));
  }
}

float absmax_f32_avx512(const float* x, std::int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    // max(|x|, acc) returns acc when |x| is NaN: NaNs are skipped, as in the scalar loop.
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
    acc = _mm512_max_ps(a, acc);
  }
  alignas(64) float lanes_out[16];  // (GCC 12's _mm512_reduce_max_ps trips -Werror=uninitialized)
  _mm512_store_ps(lanes_out, acc);
  float m = 0.0f;
  for (float v : lanes_out) m = std::max(m, v);
  return m;
}

}  // namespace parley::kernels::cpu::detail
