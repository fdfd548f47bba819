// AVX-512 VNNI INT8 linear on weights packed at load (see kernels/ops/int8_linear.h).
// Why: vpdpbusd multiplies unsigned by signed bytes, which is exactly a QDQ model's uint8
// activations times its int8 weights, so nothing is flipped or corrected but the zero point
// (a_zero * the channel's weight sum, summed once at packing). The micro-kernel is gemm_int8's
// packed one (vnni_tile_avx512.h, rows as the unsigned operand) without its per-call packing,
// which at smart-turn's sizes (400 rows) cost as much as the products.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni (CMake); depends on simd_avx512.h.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"
#include "kernels/cpu/vnni_tile_avx512.h"
#include "kernels/ops/int8_linear.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;

constexpr int kMr = 12;
constexpr std::int64_t kRowBlock = kMr * 8;

}  // namespace

void int8_linear_avx512(const Int8LinearArgs& a, ThreadPool& pool, bool amx) {
  const std::int64_t m = a.m, n = a.n, k = a.k, q_count = (k + 3) / 4, np = (n + 31) / 32;
  const auto* panels = static_cast<const std::int8_t*>(a.w);
  const auto* colsum = reinterpret_cast<const std::int32_t*>(panels + np * q_count * 128);
  // Column block: 64 channels, or 32 so both threads get work on small problems.
  const std::int64_t mt = (m + kRowBlock - 1) / kRowBlock;
  std::int64_t nb = 64;
  if (mt * ((n + nb - 1) / nb) < 4 * pool.size()) nb = 32;
  const std::int64_t nt = (n + nb - 1) / nb;
  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    amx::TileScope tiles(amx);
    alignas(64) std::int32_t block[32 * 32];
    __m512i acc[kMr][2];
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t i_begin = (t % mt) * kRowBlock, i_end = std::min(m, i_begin + kRowBlock);
      const std::int64_t j_begin = (t / mt) * nb, j_end = std::min(n, j_begin + nb);
      for (std::int64_t j = j_begin; j < j_end; j += 32) {
        const int cols = static_cast<int>(std::min<std::int64_t>(32, j_end - j));
        const std::int8_t* panel = panels + (j / 32) * q_count * 128;
        __m512i zero_corr[2];
        __m512 scale[2], bias[2];
        __mmask16 mask[2];
        for (int g = 0; g < 2; ++g) {
          const int c = std::clamp(cols - g * 16, 0, 16);
          mask[g] = static_cast<__mmask16>((1u << c) - 1u);
          zero_corr[g] = _mm512_mullo_epi32(_mm512_set1_epi32(a.a_zero), _mm512_maskz_loadu_epi32(mask[g], colsum + j + g * 16));
          scale[g] = _mm512_maskz_loadu_ps(mask[g], a.scales + j + g * 16);
          bias[g] = a.bias ? _mm512_maskz_loadu_ps(mask[g], a.bias + j + g * 16) : _mm512_setzero_ps();
        }
        // Rows in blocks of 32 on AMX tiles (tdpbusd: unsigned rows x signed panel), else of 12
        // on the vpdpbusd micro-kernel; the same epilogue.
        const std::int64_t step = amx ? 32 : kMr;
        for (std::int64_t i = i_begin; i < i_end; i += step) {
          const int mr = static_cast<int>(std::min<std::int64_t>(step, i_end - i));
          if (amx) {
            amx::int8_block(amx::Int8Signs::kRowsUnsigned, a.a + i * a.lda, a.lda, mr, k,
                            reinterpret_cast<const std::uint8_t*>(panel), block);
          } else {
            const std::uint8_t* arow[kMr];
            for (int r = 0; r < kMr; ++r) arow[r] = a.a + (i + std::min(r, mr - 1)) * a.lda;
            if (mr > 6) vnni::tile<kMr, true>(arow, panel, k, acc);
            else if (mr > 3) vnni::tile<6, true>(arow, panel, k, acc);
            else vnni::tile<3, true>(arow, panel, k, acc);
          }
          for (int r = 0; r < mr; ++r) {
            for (int g = 0; g < 2 && g * 16 < cols; ++g) {
              const __m512i sum = amx ? _mm512_load_si512(block + r * 32 + g * 16) : acc[r][g];
              __m512i s = _mm512_sub_epi32(sum, zero_corr[g]);
              if (a.row_offsets) s = _mm512_add_epi32(s, _mm512_set1_epi32(a.row_offsets[i + r]));
              // With per-row scales: cvt(sum) * (row scale * channel scale), gemm_int8's order.
              const __m512 sc = a.row_scales ? _mm512_mul_ps(_mm512_set1_ps(a.row_scales[i + r]), scale[g]) : scale[g];
              __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), sc);
              if (a.bias) v = _mm512_add_ps(v, bias[g]);
              v = simd::vact<V>(a.activation, v);
              _mm512_mask_storeu_ps(a.c + (i + r) * a.ldc + j + g * 16, mask[g], v);
            }
          }
        }
      }
    }
  });
}

}  // namespace parley::kernels::cpu::detail
