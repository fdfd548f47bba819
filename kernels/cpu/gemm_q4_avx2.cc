// AVX2 Q4 GEMM: the AVX-512 tile loop on two 8-lane halves, with vpmaddubsw + vpmaddwd for the
// 4-byte dot products. vpmaddubsw sums stay within int16 as long as codes x 127 x 2 x (vectors
// summed) < 32768: 8 vectors of 4-bit codes, 4 of 5-bit, 2 of 6-bit (Q6_K), then one vpmaddwd;
// Q8_0 uses |w| x sign(a, w) per vector (the +128 of the packed bytes is undone, so no block-sum
// correction). In a half all 8 lanes belong to one K-quant super-block (A: lanes 0-7, B: 8-15).
// Why: CPUs without AVX-512 VNNI. Compiled with -mavx2 -mfma -mf16c (CMake); depends on
// gemm_q4_internal.h.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_q4_internal.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX2 flags

enum Kind { kQ40 = 0, kQ41, kQ80, kQ50, kQ51, kQ4K, kQ5K, kQ6K };

constexpr DType kind_type(int k) {
  constexpr DType t[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ5_0,
                         DType::kQ5_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  return t[k];
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256 load_f16x8(const std::uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float f16_scalar(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
inline __m256 u8x8_to_ps(const std::uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 i8x8_to_ps(const std::uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// The 8 code vectors (vector c = values 4c..4c+3 of lanes 8h..8h+7), unsigned except Q8_0.
template <int KIND>
inline void load_codes(const std::uint8_t* tile, int h, __m256i* w) {
  constexpr Q4TileLayout lay = q4_tile_layout(kind_type(KIND));
  const __m256i low = _mm256_set1_epi8(0x0F);
  if constexpr (KIND == kQ80) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int c = 0; c < 8; ++c) w[c] = _mm256_xor_si256(load256(tile + 64 * c + 32 * h), flip);
    return;
  }
  for (int i = 0; i < 4; ++i) {
    const __m256i v = load256(tile + 64 * i + 32 * h);
    w[2 * i] = _mm256_and_si256(v, low);
    w[2 * i + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  }
  if constexpr (lay.high == 64) {
    const __m256i hb = load256(tile + lay.codes + 32 * h);
    const __m256i b4 = _mm256_set1_epi8(0x10);
    w[0] = _mm256_or_si256(w[0], _mm256_and_si256(_mm256_slli_epi16(hb, 4), b4));
    w[1] = _mm256_or_si256(w[1], _mm256_and_si256(_mm256_slli_epi16(hb, 3), b4));
    w[2] = _mm256_or_si256(w[2], _mm256_and_si256(_mm256_slli_epi16(hb, 2), b4));
    w[3] = _mm256_or_si256(w[3], _mm256_and_si256(_mm256_slli_epi16(hb, 1), b4));
    w[4] = _mm256_or_si256(w[4], _mm256_and_si256(hb, b4));
    w[5] = _mm256_or_si256(w[5], _mm256_and_si256(_mm256_srli_epi16(hb, 1), b4));
    w[6] = _mm256_or_si256(w[6], _mm256_and_si256(_mm256_srli_epi16(hb, 2), b4));
    w[7] = _mm256_or_si256(w[7], _mm256_and_si256(_mm256_srli_epi16(hb, 3), b4));
  } else if constexpr (lay.high == 128) {
    const __m256i b45 = _mm256_set1_epi8(0x30);
    for (int p = 0; p < 2; ++p) {
      const __m256i hb = load256(tile + lay.codes + 64 * p + 32 * h);
      w[4 * p + 0] = _mm256_or_si256(w[4 * p + 0], _mm256_and_si256(_mm256_slli_epi16(hb, 4), b45));
      w[4 * p + 1] = _mm256_or_si256(w[4 * p + 1], _mm256_and_si256(_mm256_slli_epi16(hb, 2), b45));
      w[4 * p + 2] = _mm256_or_si256(w[4 * p + 2], _mm256_and_si256(hb, b45));
      w[4 * p + 3] = _mm256_or_si256(w[4 * p + 3], _mm256_and_si256(_mm256_srli_epi16(hb, 2), b45));
    }
  }
}

// int32 lane sums of codes x activations over vectors [c0, c0 + n) (unsigned codes).
template <int N>
inline __m256i dot_u(const __m256i* w, const std::int8_t* ap, int c0) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s16 = _mm256_maddubs_epi16(w[c0], load256(ap + 64 * c0));
  for (int c = c0 + 1; c < c0 + N; ++c) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[c], load256(ap + 64 * c)));
  return _mm256_madd_epi16(s16, ones);
}

// acc[r][h] (8 lanes: tile lanes 8h..8h+7) for tokens i0..i0+MR-1 over one row group.
template <int KIND, int MR>
inline void row_group(const GemmQ4Plan& p, const std::uint8_t* wg, std::int64_t i0, __m256 (*acc)[2]) {
  constexpr Q4TileLayout lay = q4_tile_layout(kind_type(KIND));
  constexpr std::int64_t kScales = lay.codes + lay.high;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (std::int64_t q = 0; q < p.nq; ++q) {
    const std::uint8_t* tile = wg + q * p.tile_bytes;
    const std::uint8_t* so = tile + kScales;
    for (int h = 0; h < 2; ++h) {
      __m256i w[8];
      load_codes<KIND>(tile, h, w);
      __m256 d8, b8, dh = _mm256_setzero_ps(), bh = _mm256_setzero_ps();
      if constexpr (KIND == kQ4K || KIND == kQ5K) {
        d8 = _mm256_mul_ps(u8x8_to_ps(so + 8 * h), _mm256_set1_ps(f16_scalar(so + 32 + 2 * h)));
        b8 = _mm256_mul_ps(u8x8_to_ps(so + 16 + 8 * h), _mm256_set1_ps(-f16_scalar(so + 36 + 2 * h)));
      } else if constexpr (KIND == kQ6K) {
        const __m256 d = _mm256_set1_ps(f16_scalar(so + 32 + 2 * h));
        d8 = _mm256_mul_ps(i8x8_to_ps(so + 8 * h), d);
        dh = _mm256_mul_ps(i8x8_to_ps(so + 16 + 8 * h), d);
        b8 = _mm256_mul_ps(d8, _mm256_set1_ps(-32.0f));
        bh = _mm256_mul_ps(dh, _mm256_set1_ps(-32.0f));
      } else {
        d8 = load_f16x8(so + 16 * h);
        if constexpr (KIND == kQ41 || KIND == kQ51) {
          b8 = load_f16x8(so + 32 + 16 * h);
        } else if constexpr (KIND == kQ80) {
          b8 = _mm256_setzero_ps();
        } else {
          b8 = _mm256_mul_ps(d8, _mm256_set1_ps(KIND == kQ40 ? -8.0f : -16.0f));
        }
      }
      for (int r = 0; r < MR; ++r) {
        const std::int8_t* ap = p.act + (i0 + r) * p.act_ld + q * 512 + 32 * h;
        const std::int64_t so_a = (i0 + r) * p.nq * 16 + q * 16 + 8 * h;
        const __m256 da = _mm256_loadu_ps(p.da + so_a);
        if constexpr (KIND == kQ6K) {
          const __m256i lo = _mm256_add_epi32(dot_u<2>(w, ap, 0), dot_u<2>(w, ap, 2));
          const __m256i hi = _mm256_add_epi32(dot_u<2>(w, ap, 4), dot_u<2>(w, ap, 6));
          const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), dh, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d8));
          acc[r][h] = _mm256_fmadd_ps(t, da, acc[r][h]);
          const float* sh = p.sh + (i0 + r) * p.nq * 32 + q * 32 + 8 * h;
          acc[r][h] = _mm256_fmadd_ps(b8, _mm256_loadu_ps(sh), acc[r][h]);
          acc[r][h] = _mm256_fmadd_ps(bh, _mm256_loadu_ps(sh + 16), acc[r][h]);
          continue;
        }
        __m256i s;
        if constexpr (KIND == kQ80) {
          s = _mm256_setzero_si256();
          for (int c = 0; c < 8; ++c) {
            const __m256i a = load256(ap + 64 * c);
            s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w[c]), _mm256_sign_epi8(a, w[c])), ones));
          }
        } else if constexpr (lay.high == 0) {
          s = dot_u<8>(w, ap, 0);
        } else {
          s = _mm256_add_epi32(dot_u<4>(w, ap, 0), dot_u<4>(w, ap, 4));
        }
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d8, da), acc[r][h]);
        if constexpr (KIND != kQ80) acc[r][h] = _mm256_fmadd_ps(b8, _mm256_loadu_ps(p.sa + so_a), acc[r][h]);
      }
    }
  }
}

// Sums each group of G lanes of the 16 (two halves) and stores the R row values (+ bias).
inline void store_rows(const GemmQ4Plan& p, const __m256* acc, std::int64_t row0, std::int64_t i) {
  alignas(32) float lanes[16];
  for (int h = 0; h < 2; ++h) {
    __m256 v = acc[h];
    if (p.g >= 2) v = _mm256_add_ps(v, _mm256_permute_ps(v, 0xB1));
    if (p.g >= 4) v = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4E));
    if (p.g >= 8) v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 1));
    _mm256_store_ps(lanes + 8 * h, v);
  }
  if (p.g == 16) lanes[0] += lanes[8];
  const std::int64_t rows = std::min<std::int64_t>(p.r, p.args->n - row0);
  float* c = p.args->c + i * p.args->ldc + row0;
  const float* bias = p.args->bias ? p.args->bias + row0 : nullptr;
  for (std::int64_t r = 0; r < rows; ++r) c[r] = lanes[r * p.g] + (bias ? bias[r] : 0.0f);
}

template <int KIND>
void run(const GemmQ4Plan& p, ThreadPool& pool) {
  const auto* w = static_cast<const std::uint8_t*>(p.args->b);
  const std::int64_t m = p.args->m;
  pool.parallel_for(p.groups, q4_grain(p), [&](std::int64_t g0, std::int64_t g1) {
    __m256 acc[2][2];
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      const std::uint8_t* wg = w + grp * p.nq * p.tile_bytes;
      for (std::int64_t i = 0; i < m; i += 2) {
        const int mr = static_cast<int>(std::min<std::int64_t>(2, m - i));
        if (mr == 2) row_group<KIND, 2>(p, wg, i, acc);
        else row_group<KIND, 1>(p, wg, i, acc);
        for (int r = 0; r < mr; ++r) store_rows(p, acc[r], grp * p.r, i + r);
      }
    }
  });
}

}  // namespace

void gemm_q4_avx2(const GemmQ4Plan& p, ThreadPool& pool) {
  switch (p.args->b_type) {
    case DType::kQ4_0: run<kQ40>(p, pool); break;
    case DType::kQ4_1: run<kQ41>(p, pool); break;
    case DType::kQ5_0: run<kQ50>(p, pool); break;
    case DType::kQ5_1: run<kQ51>(p, pool); break;
    case DType::kQ4_K: run<kQ4K>(p, pool); break;
    case DType::kQ5_K: run<kQ5K>(p, pool); break;
    case DType::kQ6_K: run<kQ6K>(p, pool); break;
    default: run<kQ80>(p, pool); break;
  }
}

}  // namespace parley::kernels::cpu::detail
