// AVX-512 BF16 linear: tasks of 48 rows x 64 channels; each task rounds its rows to bf16 once,
// then 12 x 32 register tiles (24 zmm accumulators) run vdpbf16ps over the pre-packed weight
// panels with 4-byte activation-pair broadcasts; epilogue bias + activation in registers.
// Why: see bf16_linear.h. Compiled with the AVX-512 flags plus -mavx512bf16 (CMake); everything
// has internal linkage except the detail:: entry points (ops_internal.h).
// Depends on simd_avx512.h, simd_math.h, ops_internal.h.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;
constexpr int kMr = 12;
constexpr std::int64_t kRowBlock = 48, kColBlock = 64;

// acc += pairs(a) . pairs(b) (vdpbf16ps). Inline asm with the accumulator tied in place, as the
// int8 kernel's vpdpbusd: GCC 12 copies registers around the intrinsic.
inline __m512 dpbf16(__m512 acc, __m512i a, __m512i b) {
  __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

inline std::int32_t pair_at(const std::uint16_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <int MR>
inline void tile(const std::uint16_t* const* arow, const std::uint16_t* panel, std::int64_t k_pairs, __m512 acc[kMr][2]) {
  __m512 c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (std::int64_t kp = 0; kp < k_pairs; ++kp) {
    const __m512i b0 = _mm512_loadu_si512(panel + kp * 64);
    const __m512i b1 = _mm512_loadu_si512(panel + kp * 64 + 32);
    for (int r = 0; r < MR; ++r) {
      const __m512i a = _mm512_set1_epi32(pair_at(arow[r] + 2 * kp));
      c0[r] = dpbf16(c0[r], a, b0);
      c1[r] = dpbf16(c1[r], a, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = c0[r];
    acc[r][1] = c1[r];
  }
}

inline __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16") != 0;
  return has;
}

void bf16_linear_avx512(const Bf16LinearArgs& a, ThreadPool& pool) {
  const auto* panels = static_cast<const std::uint16_t*>(a.w);
  const std::int64_t k_pairs = (a.k + 1) / 2;
  const std::int64_t kp2 = 2 * k_pairs;  // bf16 row length (even)
  const std::int64_t mt = (a.m + kRowBlock - 1) / kRowBlock, nt = (a.n + kColBlock - 1) / kColBlock;
  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<std::uint16_t> abuf(static_cast<std::size_t>(kRowBlock * kp2));
    std::int64_t cached_block = -1;
    __m512 acc[kMr][2];
    for (std::int64_t t = t0; t < t1; ++t) {
      // Row-block-major order: consecutive tasks of a chunk reuse the converted rows.
      const std::int64_t ib = t / nt, i0 = ib * kRowBlock, rows = std::min(kRowBlock, a.m - i0);
      const std::int64_t j0 = (t % nt) * kColBlock, j1 = std::min(a.n, j0 + kColBlock);
      if (ib != cached_block) {
        for (std::int64_t r = 0; r < rows; ++r) {
          const float* src = a.a + (i0 + r) * a.lda;
          std::uint16_t* dst = abuf.data() + r * kp2;
          for (std::int64_t x = 0; x < kp2; x += 16) {
            const __m512 v = _mm512_maskz_loadu_ps(lanes(a.k - x), src + x);
            _mm256_mask_storeu_epi16(dst + x, lanes(kp2 - x), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
          }
        }
        cached_block = ib;
      }
      for (std::int64_t j = j0; j < j1; j += 32) {
        const std::uint16_t* panel = panels + (j / 32) * k_pairs * 64;
        const int cols = static_cast<int>(std::min<std::int64_t>(32, a.n - j));
        __m512 bias[2];
        for (int g = 0; g < 2; ++g) {
          bias[g] = a.bias ? _mm512_maskz_loadu_ps(lanes(cols - 16 * g), a.bias + j + 16 * g) : _mm512_setzero_ps();
        }
        for (std::int64_t i = 0; i < rows; i += kMr) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kMr, rows - i));
          const std::uint16_t* arow[kMr];
          for (int r = 0; r < kMr; ++r) arow[r] = abuf.data() + (i + std::min(r, mr - 1)) * kp2;
          if (mr > 8) tile<kMr>(arow, panel, k_pairs, acc);
          else if (mr > 4) tile<8>(arow, panel, k_pairs, acc);
          else tile<4>(arow, panel, k_pairs, acc);
          for (int r = 0; r < kMr; ++r) {
            if (r >= mr) break;
            float* out = a.c + (i0 + i + r) * a.ldc + j;
            for (int g = 0; g < 2; ++g) {
              const __mmask16 m = lanes(cols - 16 * g);
              if (m == 0) break;
              _mm512_mask_storeu_ps(out + 16 * g, m, simd::vact<V>(a.activation, _mm512_add_ps(acc[r][g], bias[g])));
            }
          }
        }
      }
    }
  });
}

}  // namespace parley::kernels::cpu::detail
