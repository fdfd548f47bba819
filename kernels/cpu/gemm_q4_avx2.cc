// AVX2 Q4 GEMM: the AVX-512 tile loop on two 8-lane halves, with vpmaddubsw + vpmaddwd for the
// 4-byte dot products. Q4 codes (0..15) times int8 activations stay within int16 even summed over
// all 8 vectors of a tile, so one vpmaddwd per half and token; Q8_0 uses |w| x sign(a, w) per
// vector (the +128 of the packed bytes is undone, so no block-sum correction).
// Why: CPUs without AVX-512 VNNI. Compiled with -mavx2 -mfma -mf16c (CMake); depends on
// gemm_q4_internal.h.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_q4_internal.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX2 flags

enum Kind { kQ40 = 0, kQ41 = 1, kQ80 = 2 };

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256 load_f16x8(const std::uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// acc[r][h] (8 lanes: tile lanes 8h..8h+7) for tokens i0..i0+MR-1 over one row group.
template <int KIND, int MR>
inline void row_group(const GemmQ4Plan& p, const std::uint8_t* wg, std::int64_t i0, __m256 (*acc)[2]) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  constexpr std::int64_t kCodes = KIND == kQ80 ? 512 : 256;
  for (std::int64_t q = 0; q < p.nq; ++q) {
    const std::uint8_t* tile = wg + q * p.tile_bytes;
    for (int h = 0; h < 2; ++h) {
      __m256i w[8];
      if constexpr (KIND == kQ80) {
        for (int c = 0; c < 8; ++c) w[c] = _mm256_xor_si256(load256(tile + 64 * c + 32 * h), flip);
      } else {
        for (int i = 0; i < 4; ++i) {
          const __m256i v = load256(tile + 64 * i + 32 * h);
          w[2 * i] = _mm256_and_si256(v, low);
          w[2 * i + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        }
      }
      const __m256 d8 = load_f16x8(tile + kCodes + 16 * h);
      for (int r = 0; r < MR; ++r) {
        const std::int8_t* ap = p.act + (i0 + r) * p.act_ld + q * 512 + 32 * h;
        const std::int64_t so = (i0 + r) * p.nq * 16 + q * 16 + 8 * h;
        __m256i s;
        if constexpr (KIND == kQ80) {
          s = _mm256_setzero_si256();
          for (int c = 0; c < 8; ++c) {
            const __m256i a = load256(ap + 64 * c);
            s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w[c]), _mm256_sign_epi8(a, w[c])), ones));
          }
        } else {
          __m256i s16 = _mm256_maddubs_epi16(w[0], load256(ap));
          for (int c = 1; c < 8; ++c) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[c], load256(ap + 64 * c)));
          s = _mm256_madd_epi16(s16, ones);
        }
        acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d8, _mm256_loadu_ps(p.da + so)), acc[r][h]);
        if constexpr (KIND == kQ41) {
          acc[r][h] = _mm256_fmadd_ps(load_f16x8(tile + kCodes + 32 + 16 * h), _mm256_loadu_ps(p.sa + so), acc[r][h]);
        } else if constexpr (KIND == kQ40) {
          acc[r][h] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_set1_ps(-8.0f)), _mm256_loadu_ps(p.sa + so), acc[r][h]);
        }
      }
    }
  }
}

// Sums each group of G lanes of the 16 (two halves) and stores the R row values.
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
  for (std::int64_t r = 0; r < rows; ++r) c[r] = lanes[r * p.g];
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
    default: run<kQ80>(p, pool); break;
  }
}

}  // namespace parley::kernels::cpu::detail
