// AVX-512 VNNI Q4 GEMM: per tile, 4 (Q4) or 8 (Q8_0) 64-byte weight loads -> 8 vectors of 4
// codes x 16 blocks; vpdpbusd against the lane-ordered activations sums each block's 4-value
// groups in its own lane, so the block scales apply as one 16-lane multiply-add per tile.
// Why: batch-1 decode reads every weight once; this keeps the per-block work to ~2.5 uops so the
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

enum Kind { kQ40 = 0, kQ41 = 1, kQ80 = 2 };

// acc[r] (16 lanes) += the tile lanes' partial dot products for tokens i0..i0+MR-1 over the row
// group starting at wg (nq tiles).
template <int KIND, int MR>
inline void row_group(const GemmQ4Plan& p, const std::uint8_t* wg, std::int64_t i0, __m512* acc) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  const std::int8_t* act[MR];
  const float* da[MR];
  const float* sa[MR];
  for (int r = 0; r < MR; ++r) {
    acc[r] = _mm512_setzero_ps();
    act[r] = p.act + (i0 + r) * p.act_ld;
    da[r] = p.da + (i0 + r) * p.nq * 16;
    sa[r] = p.sa + (i0 + r) * p.nq * 16;
  }
  constexpr std::int64_t kCodes = KIND == kQ80 ? 512 : 256;
  for (std::int64_t q = 0; q < p.nq; ++q) {
    const std::uint8_t* tile = wg + q * p.tile_bytes;
    __m512i w[8];
    if constexpr (KIND == kQ80) {
      for (int c = 0; c < 8; ++c) w[c] = _mm512_loadu_si512(tile + 64 * c);
    } else {
      for (int i = 0; i < 4; ++i) {
        const __m512i v = _mm512_loadu_si512(tile + 64 * i);
        w[2 * i] = _mm512_and_si512(v, low);
        w[2 * i + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      }
    }
    const __m512 d16 = load_f16x16(tile + kCodes);
    __m512 b16;  // per-lane weight of the activation block sum s = d_a * sum(q)
    if constexpr (KIND == kQ41) b16 = load_f16x16(tile + kCodes + 32);
    else b16 = _mm512_mul_ps(d16, _mm512_set1_ps(KIND == kQ40 ? -8.0f : -128.0f));
    for (int r = 0; r < MR; ++r) {
      const std::int8_t* ap = act[r] + q * 512;
      // Two chains so the 8 dependent vpdpbusd do not serialize on their latency.
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      for (int c = 0; c < 8; c += 2) {
        s0 = dpbusd(s0, w[c], _mm512_loadu_si512(ap + 64 * c));
        s1 = dpbusd(s1, w[c + 1], _mm512_loadu_si512(ap + 64 * c + 64));
      }
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
      acc[r] = _mm512_fmadd_ps(dot, _mm512_mul_ps(d16, _mm512_loadu_ps(da[r] + q * 16)), acc[r]);
      acc[r] = _mm512_fmadd_ps(b16, _mm512_loadu_ps(sa[r] + q * 16), acc[r]);
    }
  }
}

// Sums each group of G adjacent lanes (lane r*G + j -> row r) and stores the R row values.
inline void store_rows(const GemmQ4Plan& p, __m512 acc, std::int64_t row0, std::int64_t i) {
  if (p.g >= 2) acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1));
  if (p.g >= 4) acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0x4E));
  if (p.g >= 8) acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, 0xB1));
  if (p.g >= 16) acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, 0x4E));
  static constexpr __mmask16 kFirstOfGroup[17] = {0, 0xFFFF, 0x5555, 0, 0x1111, 0, 0, 0, 0x0101,
                                                  0, 0, 0, 0, 0, 0, 0, 0x0001};
  const __m512 v = _mm512_maskz_compress_ps(kFirstOfGroup[p.g], acc);
  const std::int64_t rows = std::min<std::int64_t>(p.r, p.args->n - row0);
  _mm512_mask_storeu_ps(p.args->c + i * p.args->ldc + row0, static_cast<__mmask16>((1u << rows) - 1u), v);
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
    default: run<kQ80>(p, pool); break;
  }
}

}  // namespace parley::kernels::cpu::detail
