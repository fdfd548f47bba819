// AVX-512 BF16 linear: tasks of 48 rows x 64 channels; each task rounds its rows to bf16 once,
// then 12 x 32 register tiles (24 zmm accumulators) run vdpbf16ps over the pre-packed weight
// panels with 4-byte activation-pair broadcasts; epilogue bias + activation in registers. The
// same tiles serve f32 GEMMs the caller lets multiply in bf16 (ExecContext::bf16_gemm: mixed-
// precision training), with B packed per call from either layout and an alpha/beta epilogue.
// Why: see bf16_linear.h. Compiled with the AVX-512 flags plus -mavx512bf16 (CMake); everything
// has internal linkage except the detail:: entry points (ops_internal.h). Where the CPU has AMX
// (use_amx), the same runs go to the AMX tiles instead (amx_tiles.cc).
// Depends on bf16_tiles_avx512.h, simd_avx512.h, simd_math.h, ops_internal.h.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/bf16_tiles_avx512.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

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

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16") != 0;
  return has;
}

namespace {

using bf16_tiles::lanes;

void run_tiles(const Bf16TileRun& a, ThreadPool& pool, bool amx) {
  if (amx) {
    run_bf16_tiles_amx(a, pool);
    return;
  }
  const std::int64_t k_pairs = (a.k + 1) / 2;
  const std::int64_t kp2 = 2 * k_pairs;  // bf16 row length (even)
  const std::int64_t mt = (a.m + kRowBlock - 1) / kRowBlock, nt = (a.n + kColBlock - 1) / kColBlock;
  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<std::uint16_t> abuf(static_cast<std::size_t>(kRowBlock * kp2));
    __m512 acc[kMr][2];
    bf16_tiles::for_each_task(a, t0, t1, nt, kRowBlock, kColBlock, abuf.data(), kp2,
                              [&](std::int64_t i0, std::int64_t rows, std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; j += 32) {
        const std::uint16_t* panel = a.panels + (j / 32) * k_pairs * 64;
        const int cols = static_cast<int>(std::min<std::int64_t>(32, a.n - j));
        __m512 bias[2];
        bf16_tiles::load_bias(a, j, cols, bias);
        for (std::int64_t i = 0; i < rows; i += kMr) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kMr, rows - i));
          const std::uint16_t* arow[kMr];
          for (int r = 0; r < kMr; ++r) arow[r] = abuf.data() + (i + std::min(r, mr - 1)) * kp2;
          if (mr > 8) tile<kMr>(arow, panel, k_pairs, acc);
          else if (mr > 4) tile<8>(arow, panel, k_pairs, acc);
          else tile<4>(arow, panel, k_pairs, acc);
          for (int r = 0; r < mr; ++r) bf16_tiles::store_row(a, acc[r], bias, a.c + (i0 + i + r) * a.ldc + j, cols);
        }
      }
    });
  });
}

// 16 f32 -> 16 bf16 (round to nearest even), as 16 uint16 in a ymm.
inline __m256i bf16x16(__m512 v) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)); }

// Packs B of a GemmArgs (f32, either layout) into the panels run_tiles reads: panel p, pair kp
// holds 32 channels x (input 2kp, input 2kp+1); channels past n and the odd input past k are 0.
void pack_b(const GemmArgs& g, std::uint16_t* panels, ThreadPool& pool) {
  const std::int64_t k_pairs = (g.k + 1) / 2, np = (g.n + 31) / 32;
  const auto* b = static_cast<const float*>(g.b);
  constexpr std::int64_t kPairsPerTask = 64;
  const std::int64_t kt = (k_pairs + kPairsPerTask - 1) / kPairsPerTask;
  pool.parallel_for(np * kt, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t p = t / kt, kp0 = (t % kt) * kPairsPerTask, kp1 = std::min(k_pairs, kp0 + kPairsPerTask);
      const std::int64_t j0 = p * 32, cols = std::min<std::int64_t>(32, g.n - j0);
      std::uint16_t* dst = panels + p * k_pairs * 64;
      if (!g.b_transposed) {
        // B is [K, N]: inputs 2kp and 2kp+1 are two rows, each 32 channels contiguous.
        for (std::int64_t kp = kp0; kp < kp1; ++kp) {
          const float* r0 = b + (2 * kp) * g.ldb + j0;
          const bool has1 = 2 * kp + 1 < g.k;
          const float* r1 = b + (2 * kp + 1) * g.ldb + j0;
          for (int h = 0; h < 2; ++h) {
            const __mmask16 m = lanes(cols - 16 * h);
            const __m512i lo = _mm512_cvtepu16_epi32(bf16x16(_mm512_maskz_loadu_ps(m, r0 + 16 * h)));
            const __m512i hi = has1 ? _mm512_cvtepu16_epi32(bf16x16(_mm512_maskz_loadu_ps(m, r1 + 16 * h)))
                                    : _mm512_setzero_si512();
            _mm512_storeu_si512(dst + kp * 64 + 32 * h, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
          }
        }
      } else {
        // B is [N, K]: each channel's inputs are contiguous; convert 16 inputs (8 pairs) at a
        // time and spread the pairs over the panel's 32-channel rows. (Gathering 8 channels'
        // pairs per load instead measured no faster: packing is bound by reading W.)
        for (std::int64_t c = 0; c < 32; ++c) {
          const float* row = c < cols ? b + (j0 + c) * g.ldb : nullptr;
          for (std::int64_t kp = kp0; kp < kp1; kp += 8) {
            const std::int64_t pairs = std::min<std::int64_t>(8, kp1 - kp);
            alignas(32) std::uint32_t pr[8];
            if (row != nullptr) {
              const __m512 v = _mm512_maskz_loadu_ps(lanes(g.k - 2 * kp), row + 2 * kp);
              _mm256_store_si256(reinterpret_cast<__m256i*>(pr), bf16x16(v));
            } else {
              std::memset(pr, 0, sizeof(pr));
            }
            for (std::int64_t q = 0; q < pairs; ++q) std::memcpy(dst + ((kp + q) * 32 + c) * 2, &pr[q], 4);
          }
        }
      }
    }
  });
}

}  // namespace

void bf16_linear_avx512(const Bf16LinearArgs& a, ThreadPool& pool, bool amx) {
  run_tiles({.m = a.m, .n = a.n, .k = a.k, .a = a.a, .lda = a.lda, .panels = static_cast<const std::uint16_t*>(a.w),
             .bias = a.bias, .activation = a.activation, .c = a.c, .ldc = a.ldc},
            pool, amx);
}

void gemm_f32_as_bf16_avx512(const GemmArgs& a, ThreadPool& pool, bool amx) {
  // The packed B lives in the calling thread's scratch, kept between calls: training repeats the
  // same shapes every step, so after the first step nothing is allocated or faulted in.
  thread_local std::vector<std::uint16_t> panels;
  const std::size_t need = static_cast<std::size_t>((a.n + 31) / 32 * ((a.k + 1) / 2) * 64);
  if (panels.size() < need) panels.resize(need);
  pack_b(a, panels.data(), pool);
  run_tiles({.m = a.m, .n = a.n, .k = a.k, .a = static_cast<const float*>(a.a), .lda = a.lda, .panels = panels.data(),
             .bias = a.bias, .activation = a.activation, .alpha = a.alpha, .beta = a.beta,
             .c = static_cast<float*>(a.c), .ldc = a.ldc},
            pool, amx);
}

}  // namespace parley::kernels::cpu::detail
