// AVX-512 VNNI Q4 GEMM: per tile, 4 (4-bit codes, + 1-2 high-bit planes merged in with a shift and
// a mask) or 8 (Q8_0) 64-byte weight loads -> 8 vectors of 4 codes x 16 lanes; vpdpbusd against
// the lane-ordered activations sums each lane's 4-value groups, so the lane scales apply as one
// 16-lane multiply-add per tile (two for Q6_K's per-16 scales).
// Why: batch-1 decode reads every weight once; this keeps the per-block work to a few uops so the
// loop runs at memory speed. Compiled with -mavx512f/bw/vl/vnni (CMake); depends on
// gemm_q4_internal.h.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_q4_internal.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags

// acc += u8 x s8 dot products of 4-byte groups. Inline asm: GCC 12's intrinsic wraps each
// vpdpbusd in register copies (see gemm_int8_avx512.cc).
inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

inline __m512 load_f16x16(const std::uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

enum Kind { kQ40 = 0, kQ41, kQ80, kQ50, kQ51, kQ4K, kQ5K, kQ6K };

constexpr DType kind_type(int k) {
  constexpr DType t[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ5_0,
                         DType::kQ5_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  return t[k];
}

// The 8 code vectors of a tile (vector c = values 4c..4c+3 of every lane), unsigned.
template <int KIND>
inline void load_codes(const std::uint8_t* tile, __m512i* w) {
  constexpr Q4TileLayout lay = q4_tile_layout(kind_type(KIND));
  const __m512i low = _mm512_set1_epi8(0x0F);
  if constexpr (KIND == kQ80) {
    for (int c = 0; c < 8; ++c) w[c] = _mm512_loadu_si512(tile + 64 * c);
    return;
  }
  for (int i = 0; i < 4; ++i) {
    const __m512i v = _mm512_loadu_si512(tile + 64 * i);
    w[2 * i] = _mm512_and_si512(v, low);
    w[2 * i + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
  }
  if constexpr (lay.high == 64) {
    // bit c of each byte -> bit 4 of vector c (16-bit shifts: the bits that cross a byte are masked)
    const __m512i h = _mm512_loadu_si512(tile + lay.codes);
    const __m512i b4 = _mm512_set1_epi8(0x10);
    w[0] = _mm512_or_si512(w[0], _mm512_and_si512(_mm512_slli_epi16(h, 4), b4));
    w[1] = _mm512_or_si512(w[1], _mm512_and_si512(_mm512_slli_epi16(h, 3), b4));
    w[2] = _mm512_or_si512(w[2], _mm512_and_si512(_mm512_slli_epi16(h, 2), b4));
    w[3] = _mm512_or_si512(w[3], _mm512_and_si512(_mm512_slli_epi16(h, 1), b4));
    w[4] = _mm512_or_si512(w[4], _mm512_and_si512(h, b4));
    w[5] = _mm512_or_si512(w[5], _mm512_and_si512(_mm512_srli_epi16(h, 1), b4));
    w[6] = _mm512_or_si512(w[6], _mm512_and_si512(_mm512_srli_epi16(h, 2), b4));
    w[7] = _mm512_or_si512(w[7], _mm512_and_si512(_mm512_srli_epi16(h, 3), b4));
  } else if constexpr (lay.high == 128) {
    // plane p, bits 2k..2k+1 -> bits 4-5 of vector 4p+k
    const __m512i b45 = _mm512_set1_epi8(0x30);
    for (int p = 0; p < 2; ++p) {
      const __m512i h = _mm512_loadu_si512(tile + lay.codes + 64 * p);
      w[4 * p + 0] = _mm512_or_si512(w[4 * p + 0], _mm512_and_si512(_mm512_slli_epi16(h, 4), b45));
      w[4 * p + 1] = _mm512_or_si512(w[4 * p + 1], _mm512_and_si512(_mm512_slli_epi16(h, 2), b45));
      w[4 * p + 2] = _mm512_or_si512(w[4 * p + 2], _mm512_and_si512(h, b45));
      w[4 * p + 3] = _mm512_or_si512(w[4 * p + 3], _mm512_and_si512(_mm512_srli_epi16(h, 2), b45));
    }
  }
}

// Lanes 0-7 take element 0 of v, lanes 8-15 element 1 (the K-quants' two super-blocks).
inline __m512 spread2(__m128 v, int first) {
  const __m512i idx = _mm512_set_epi32(first + 1, first + 1, first + 1, first + 1, first + 1, first + 1, first + 1,
                                       first + 1, first, first, first, first, first, first, first, first);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

inline __m512 u8x16_to_ps(const std::uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 i8x16_to_ps(const std::uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// acc[r] (16 lanes) += the tile lanes' partial dot products for tokens i0..i0+MR-1 over the row
// group starting at wg (nq tiles).
template <int KIND, int MR>
inline void row_group(const GemmQ4Plan& p, const std::uint8_t* wg, std::int64_t i0, __m512* acc) {
  constexpr Q4TileLayout lay = q4_tile_layout(kind_type(KIND));
  constexpr std::int64_t kScales = lay.codes + lay.high;  // fields only: no inline calls at run time
  const std::int8_t* act[MR];
  const float* da[MR];
  const float* sa[MR];
  for (int r = 0; r < MR; ++r) {
    acc[r] = _mm512_setzero_ps();
    act[r] = p.act + (i0 + r) * p.act_ld;
    da[r] = p.da + (i0 + r) * p.nq * 16;
    sa[r] = KIND == kQ6K ? p.sh + (i0 + r) * p.nq * 32 : p.sa + (i0 + r) * p.nq * 16;
  }
  for (std::int64_t q = 0; q < p.nq; ++q) {
    const std::uint8_t* tile = wg + q * p.tile_bytes;
    const std::uint8_t* so = tile + kScales;
    __m512i w[8];
    load_codes<KIND>(tile, w);
    // d16: the lane's weight scale (Q6_K: of values 0-15, dh of 16-31); b16: the factor of the
    // activation sum s = d_a * sum(q) (Q6_K: bh of the second half's sum).
    __m512 d16, b16, dh = _mm512_setzero_ps(), bh = _mm512_setzero_ps();
    if constexpr (KIND == kQ4K || KIND == kQ5K) {
      std::uint64_t bits;
      std::memcpy(&bits, so + 32, 8);
      const __m128 f = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(bits)));  // dA dB mA mB
      d16 = _mm512_mul_ps(u8x16_to_ps(so), spread2(f, 0));
      b16 = _mm512_mul_ps(u8x16_to_ps(so + 16), _mm512_sub_ps(_mm512_setzero_ps(), spread2(f, 2)));
    } else if constexpr (KIND == kQ6K) {
      std::uint32_t bits;
      std::memcpy(&bits, so + 32, 4);
      const __m512 d = spread2(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(bits))), 0);
      d16 = _mm512_mul_ps(i8x16_to_ps(so), d);
      dh = _mm512_mul_ps(i8x16_to_ps(so + 16), d);
      b16 = _mm512_mul_ps(d16, _mm512_set1_ps(-32.0f));
      bh = _mm512_mul_ps(dh, _mm512_set1_ps(-32.0f));
    } else {
      d16 = load_f16x16(so);
      if constexpr (KIND == kQ41 || KIND == kQ51) {
        b16 = load_f16x16(so + 32);
      } else {
        const float f = KIND == kQ40 ? -8.0f : KIND == kQ50 ? -16.0f : -128.0f;
        b16 = _mm512_mul_ps(d16, _mm512_set1_ps(f));
      }
    }
    for (int r = 0; r < MR; ++r) {
      const std::int8_t* ap = act[r] + q * 512;
      // Two chains (values 0-15 and 16-31) so the 8 dependent vpdpbusd do not serialize.
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        s0 = dpbusd(s0, w[c], _mm512_loadu_si512(ap + 64 * c));
        s1 = dpbusd(s1, w[c + 4], _mm512_loadu_si512(ap + 64 * c + 256));
      }
      const __m512 dar = _mm512_loadu_ps(da[r] + q * 16);
      if constexpr (KIND == kQ6K) {
        const __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), dh, _mm512_mul_ps(_mm512_cvtepi32_ps(s0), d16));
        acc[r] = _mm512_fmadd_ps(t, dar, acc[r]);
        acc[r] = _mm512_fmadd_ps(b16, _mm512_loadu_ps(sa[r] + q * 32), acc[r]);
        acc[r] = _mm512_fmadd_ps(bh, _mm512_loadu_ps(sa[r] + q * 32 + 16), acc[r]);
      } else {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
        acc[r] = _mm512_fmadd_ps(dot, _mm512_mul_ps(d16, dar), acc[r]);
        acc[r] = _mm512_fmadd_ps(b16, _mm512_loadu_ps(sa[r] + q * 16), acc[r]);
      }
    }
  }
}

// Sums each group of G adjacent lanes (lane r*G + j -> row r) and stores the R row values (+ bias).
inline void store_rows(const GemmQ4Plan& p, __m512 acc, std::int64_t row0, std::int64_t i) {
  if (p.g >= 2) acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1));
  if (p.g >= 4) acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0x4E));
  if (p.g >= 8) acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, 0xB1));
  if (p.g >= 16) acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, 0x4E));
  static constexpr __mmask16 kFirstOfGroup[17] = {0, 0xFFFF, 0x5555, 0, 0x1111, 0, 0, 0, 0x0101,
                                                  0, 0, 0, 0, 0, 0, 0, 0x0001};
  __m512 v = _mm512_maskz_compress_ps(kFirstOfGroup[p.g], acc);
  const std::int64_t rows = std::min<std::int64_t>(p.r, p.args->n - row0);
  const auto mask = static_cast<__mmask16>((1u << rows) - 1u);
  if (p.args->bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, p.args->bias + row0));
  _mm512_mask_storeu_ps(p.args->c + i * p.args->ldc + row0, mask, v);
}

template <int KIND>
void run(const GemmQ4Plan& p, ThreadPool& pool) {
  const auto* w = static_cast<const std::uint8_t*>(p.args->b);
  const std::int64_t m = p.args->m;
  pool.parallel_for(p.groups, q4_grain(p), [&](std::int64_t g0, std::int64_t g1) {
    __m512 acc[4];
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      const std::uint8_t* wg = w + grp * p.nq * p.tile_bytes;
      for (std::int64_t i = 0; i < m; i += 4) {
        const int mr = static_cast<int>(std::min<std::int64_t>(4, m - i));
        switch (mr) {
          case 1: row_group<KIND, 1>(p, wg, i, acc); break;
          case 2: row_group<KIND, 2>(p, wg, i, acc); break;
          case 3: row_group<KIND, 3>(p, wg, i, acc); break;
          default: row_group<KIND, 4>(p, wg, i, acc); break;
        }
        for (int r = 0; r < mr; ++r) store_rows(p, acc[r], grp * p.r, i + r);
      }
    }
  });
}

}  // namespace

void gemm_q4_avx512_vnni(const GemmQ4Plan& p, ThreadPool& pool) {
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
