// What the bf16 products of bf16_linear and of gemm() under ExecContext::bf16_gemm share between
// their two kernels, the vdpbf16ps register tiles (bf16_linear_avx512.cc) and the AMX tiles
// (amx_tiles.cc): the run description, the row conversion to bf16 and the f32 epilogue.
// Include ONLY from files compiled with the AVX-512 flags plus -mavx512bf16 (see simd_avx512.h).
// Depends on simd_avx512.h, simd_math.h, thread_pool.h.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/common.h"

namespace parley::kernels::cpu::detail {

/// What one run of the tiles computes: C = act(alpha * bf16(A) . panels + beta * C + bias).
struct Bf16TileRun {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const std::uint16_t* panels = nullptr;  // bf16_linear.h's CPU layout
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float alpha = 1.0f, beta = 0.0f;
  float* c = nullptr;
  std::int64_t ldc = 0;
};

/// The run on AMX tiles (amx_tiles.cc; needs amx_ready()).
void run_bf16_tiles_amx(const Bf16TileRun& run, ThreadPool& pool);

namespace bf16_tiles {
// Internal linkage on purpose (see simd_avx512.h).
namespace {

inline __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

/// Row `src` (k f32) -> `dst` rounded to bf16 (nearest even), zero-filled from k up to `width`.
inline void row_to_bf16(const float* src, std::int64_t k, std::uint16_t* dst, std::int64_t width) {
  for (std::int64_t x = 0; x < width; x += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(lanes(k - x), src + x);
    _mm256_mask_storeu_epi16(dst + x, lanes(width - x), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  }
}

/// Runs tasks [t0, t1) of a run cut into blocks of `row_block` rows x `col_block` channels (nt
/// column blocks), row-block-major so that consecutive tasks reuse converted rows: each row
/// block's rows are rounded to bf16 once into `abuf` (row stride `width`, zero-filled from k),
/// then body(i0, rows, j0, j1) computes channels [j0, j1) of rows [i0, i0 + rows).
template <typename Body>
inline void for_each_task(const Bf16TileRun& a, std::int64_t t0, std::int64_t t1, std::int64_t nt, std::int64_t row_block,
                          std::int64_t col_block, std::uint16_t* abuf, std::int64_t width, Body&& body) {
  std::int64_t cached_block = -1;
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t ib = t / nt, i0 = ib * row_block, rows = std::min(row_block, a.m - i0);
    const std::int64_t j0 = (t % nt) * col_block, j1 = std::min(a.n, j0 + col_block);
    if (ib != cached_block) {
      for (std::int64_t r = 0; r < rows; ++r) row_to_bf16(a.a + (i0 + r) * a.lda, a.k, abuf + r * width, width);
      cached_block = ib;
    }
    body(i0, rows, j0, j1);
  }
}

/// Writes one row of up to 32 channels: out[g*16 + l] = act(alpha * acc + beta * out + bias),
/// cols of them; `bias` holds the two 16-lane halves (zero when there is none). beta == 0: C
/// is not read (it may hold NaN), as gemm.h promises.
inline void store_row(const Bf16TileRun& a, const __m512 acc[2], const __m512 bias[2], float* out, int cols) {
  using V = simd::Avx512;
  const bool plain = a.alpha == 1.0f && a.beta == 0.0f;
  for (int g = 0; g < 2; ++g) {
    const __mmask16 m = lanes(cols - 16 * g);
    if (m == 0) break;
    __m512 v = acc[g];
    if (!plain) {
      v = _mm512_mul_ps(v, _mm512_set1_ps(a.alpha));
      if (a.beta != 0.0f) v = _mm512_fmadd_ps(_mm512_set1_ps(a.beta), _mm512_maskz_loadu_ps(m, out + 16 * g), v);
    }
    _mm512_mask_storeu_ps(out + 16 * g, m, simd::vact<V>(a.activation, _mm512_add_ps(v, bias[g])));
  }
}

/// The bias of channels j .. j+31 (cols of them) as two halves; zeros without a bias.
inline void load_bias(const Bf16TileRun& a, std::int64_t j, int cols, __m512 bias[2]) {
  for (int g = 0; g < 2; ++g) {
    bias[g] = a.bias ? _mm512_maskz_loadu_ps(lanes(cols - 16 * g), a.bias + j + 16 * g) : _mm512_setzero_ps();
  }
}

}  // namespace
}  // namespace bf16_tiles
}  // namespace parley::kernels::cpu::detail
