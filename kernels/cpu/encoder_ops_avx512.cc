// AVX-512 variants of the row-wise encoder ops: LayerNorm/RMSNorm (f32), per-token int8
// quantization with column scale and residual pass, and the int32 dequantize-sum epilogue.
// Why: these run between the encoder's GEMMs on every token; the baseline-compiled scalar loops
// were SSE2 at best (and libm erfc for GELU). Compiled with the AVX-512 flags (CMake);
// everything here has internal linkage except the detail:: entry points (ops_internal.h).
// Depends on simd_avx512.h, simd_math.h, ops_internal.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;

inline __mmask16 lanes(std::int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// Quantizes v[0..n) (the kernels' rule) into q; returns the scale. When res is set, it receives
// v - scale * q (the residual of this pass). v and res may alias.
float quantize_row(const float* v, std::int64_t n, std::int8_t* q, float* res) {
  __m512 amax = _mm512_setzero_ps();
  for (std::int64_t j = 0; j < n; j += 16) {
    amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(lanes(n - j), v + j)));
  }
  const float scale = V::reduce_max(amax) / 127.0f;
  const float inv_s = scale > 0.0f ? 1.0f / scale : 0.0f;
  const __m512 inv = _mm512_set1_ps(inv_s), s = _mm512_set1_ps(scale);
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (std::int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = lanes(n - j);
    const __m512 x = _mm512_maskz_loadu_ps(m, v + j);
    // Round half to even (the MXCSR default), as std::nearbyint in the scalar reference.
    const __m512 r = _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
    _mm_mask_storeu_epi8(q + j, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
    if (res != nullptr) {
      // Residual x - s*r with the product rounded first, as the scalar reference: the empty asm
      // hides the product from GCC, which would otherwise contract it into an FMA.
      __m512 p = _mm512_mul_ps(s, r);
      __asm__("" : "+v"(p));
      _mm512_mask_storeu_ps(res + j, m, _mm512_sub_ps(x, p));
    }
  }
  return scale;
}

}  // namespace

void quantize_rows_avx512(const QuantizeRowsArgs& a, ThreadPool& pool) {
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 8192 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> buf(static_cast<std::size_t>(a.cols));
    float* v = buf.data();
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * a.ldx;
      const float* src = x;
      if (a.col_scale != nullptr) {
        for (std::int64_t j = 0; j < a.cols; j += 16) {
          const __mmask16 m = lanes(a.cols - j);
          _mm512_mask_storeu_ps(v + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, a.col_scale + j)));
        }
        src = v;
      }
      a.scales[r] = quantize_row(src, a.cols, a.q + r * a.ldq, a.q2 != nullptr ? v : nullptr);
      if (a.q2 != nullptr) a.scales2[r] = quantize_row(v, a.cols, a.q2 + r * a.ldq2, nullptr);
    }
  });
}

void dequantize_sum_avx512(const DequantizeSumArgs& a, ThreadPool& pool) {
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 4096 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      __m512 sa[DequantizeSumArgs::kMaxTerms];
      for (int t = 0; t < a.num_terms; ++t) sa[t] = _mm512_set1_ps(a.terms[t].a_scales[i]);
      for (std::int64_t j = 0; j < a.cols; j += 16) {
        const __mmask16 m = lanes(a.cols - j);
        __m512 v = _mm512_setzero_ps();
        for (int t = 0; t < a.num_terms; ++t) {
          const DequantizeSumArgs::Term& term = a.terms[t];
          const __m512 acc = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, term.acc + i * term.ld + j));
          v = _mm512_add_ps(v, _mm512_mul_ps(acc, _mm512_mul_ps(sa[t], _mm512_maskz_loadu_ps(m, term.b_scales + j))));
        }
        if (a.bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, a.bias + j));
        _mm512_mask_storeu_ps(a.y + i * a.ldy + j, m, simd::vact<V>(a.activation, v));
      }
    }
  });
}

void norm_f32_avx512(const NormArgs& a, ThreadPool& pool) {
  const std::int64_t n = a.cols;
  const bool layer = a.kind == NormKind::kLayerNorm;
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / n), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> buf(static_cast<std::size_t>(n));
    float* h = buf.data();
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = static_cast<const float*>(a.x) + r * a.ldx;
      const float* res = a.residual ? static_cast<const float*>(a.residual) + r * a.ld_residual : nullptr;
      float* rout = a.residual_out ? static_cast<float*>(a.residual_out) + r * a.ld_residual_out : nullptr;
      __m512 sum = _mm512_setzero_ps();
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        __m512 v = _mm512_maskz_loadu_ps(m, x + j);
        if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + j));
        _mm512_mask_storeu_ps(h + j, m, v);
        sum = _mm512_add_ps(sum, v);
      }
      if (rout) std::copy(h, h + n, rout);
      const float mean = layer ? V::reduce_add(sum) / static_cast<float>(n) : 0.0f;
      const __m512 vmean = _mm512_set1_ps(mean);
      __m512 ss = _mm512_setzero_ps();
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, h + j), vmean);
        ss = _mm512_fmadd_ps(d, d, ss);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(V::reduce_add(ss) / static_cast<float>(n) + a.eps));
      float* y = static_cast<float*>(a.y) + r * a.ldy;
      for (std::int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes(n - j);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, h + j), vmean), inv);
        if (a.gamma) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, a.gamma + j));
        if (layer && a.beta) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, a.beta + j));
        _mm512_mask_storeu_ps(y + j, m, v);
      }
    }
  });
}

}  // namespace parley::kernels::cpu::detail
