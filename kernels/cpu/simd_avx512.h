// AVX-512 vector traits (16 x f32) for the templated kernels. Include ONLY from files compiled
// with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mfma -mf16c (the *_avx512.cc files).
// Why: one kernel template (gemm_f32_impl.h, simd_math.h) serves AVX2 and AVX-512.
// Depends on <immintrin.h>.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace parley::kernels::cpu::simd {
// Internal linkage on purpose: this header is compiled under different -m flags in different
// files, and shared (weak) inline definitions could make the linker keep an AVX-512 copy for all.
namespace {

struct Avx512 {
  using R = __m512;
  static constexpr int W = 16;
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static R load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, R v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  // Shuffle trees instead of _mm512_reduce_*: GCC 12's versions extract with an undefined source
  // and trip -Werror=uninitialized.
  static float reduce_add(R a) {
    a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0x4E));
    a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0xB1));
    __m128 s = _mm512_castps512_ps128(a);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(R a) {
    a = _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, 0x4E));
    a = _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, 0xB1));
    __m128 s = _mm512_castps512_ps128(a);
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  /// 2^n * y for integral-valued n.
  static R ldexp(R y, R n) { return _mm512_scalef_ps(y, n); }
  static R round(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  /// x < 0 ? a : b
  static R select_neg(R x, R a, R b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), b, a);
  }

  /// One GGUF block (32 values, ggml layout) -> 32 floats. t: 0 = q8_0, 1 = q4_0, 2 = q4_1.
  static void dequant_block(const std::uint8_t* blk, int t, float* out) {
    std::uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh));
    if (t == 0) {
      const __m128i* q = reinterpret_cast<const __m128i*>(blk + 2);
      _mm512_storeu_ps(out, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)))));
      _mm512_storeu_ps(out + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)))));
      return;
    }
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (t == 1 ? 2 : 4)));
    const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
    __m512 flo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
    __m512 fhi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
    if (t == 1) {
      flo = _mm512_sub_ps(flo, _mm512_set1_ps(8.0f));
      fhi = _mm512_sub_ps(fhi, _mm512_set1_ps(8.0f));
      _mm512_storeu_ps(out, _mm512_mul_ps(d, flo));
      _mm512_storeu_ps(out + 16, _mm512_mul_ps(d, fhi));
    } else {
      std::uint16_t mh;
      std::memcpy(&mh, blk + 2, 2);
      const __m512 m = _mm512_set1_ps(_cvtsh_ss(mh));
      // Separate multiply and add (not FMA): the same rounding as ggml and the scalar path.
      _mm512_storeu_ps(out, _mm512_add_ps(_mm512_mul_ps(d, flo), m));
      _mm512_storeu_ps(out + 16, _mm512_add_ps(_mm512_mul_ps(d, fhi), m));
    }
  }

  static R load_f16(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static R load_bf16(const std::uint16_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  static void store_f16(std::uint16_t* p, R v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void store_bf16(std::uint16_t* p, R v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    r = _mm512_srli_epi32(r, 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(r));
  }
};

}  // namespace
}  // namespace parley::kernels::cpu::simd
