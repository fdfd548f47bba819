// Float GEMM kernel template over a vector traits type V, instantiated by gemm_avx2.cc and
// gemm_avx512.cc. Include only from ISA files.
// Why: one blocked algorithm for both ISAs:
//  - M <= 8 with [N,K] weights (decode, GEMV-like): dot products straight from the weight rows,
//    4 weight rows x up to 4 tokens at a time, no packing (B is read from memory once).
//  - otherwise GotoBLAS-style: tasks of MC x NC output, K in KC blocks; each task packs its
//    B block into NR-wide panels (converting f16/bf16/GGUF to f32 on the way) and runs an
//    MR x NR register-tiled micro-kernel; the f32 accumulators of a task stay in a private tile,
//    and the epilogue (alpha, beta, bias, activation, output dtype) runs once per row.
// Depends on simd_math.h, dtype_io.h, thread_pool.h, ops/gemm.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/simd_math.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"

namespace parley::kernels::cpu::simd {
// Internal linkage on purpose: this header is compiled under different -m flags in different
// files, and shared (weak) inline definitions could make the linker keep an AVX-512 copy for all.
namespace {

template <class V, int MR>
struct GemmF32 {
  using R = typename V::R;
  static constexpr int W = V::W;
  static constexpr int NR = 2 * W;
  static constexpr std::int64_t KC = 256;
  static_assert(KC % engine::kSuperBlock == 0, "K blocks must hold whole GGUF super-blocks");
  static constexpr std::int64_t MC = MR * 12;
  static constexpr std::int64_t NC = 256;
  static_assert(NC % NR == 0, "NC must hold whole panels");
  /// Up to this many rows, dot products on the unpacked weights beat packing them.
  static constexpr std::int64_t kSmallM = 8;

  // ---- small-M path -------------------------------------------------------------------------

  template <int M>
  static void dot_tile(const float* const* arow, const float* const* brow, std::int64_t k, float out[4][4]) {
    R acc[M][4];
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < 4; ++c) acc[r][c] = V::zero();
    std::int64_t kk = 0;
    for (; kk + W <= k; kk += W) {
      R b[4];
      for (int c = 0; c < 4; ++c) b[c] = V::load(brow[c] + kk);
      for (int r = 0; r < M; ++r) {
        const R a = V::load(arow[r] + kk);
        for (int c = 0; c < 4; ++c) acc[r][c] = V::fma(a, b[c], acc[r][c]);
      }
    }
    if (kk < k) {
      const int w = static_cast<int>(k - kk);
      R b[4];
      for (int c = 0; c < 4; ++c) b[c] = V::load_partial(brow[c] + kk, w);
      for (int r = 0; r < M; ++r) {
        const R a = V::load_partial(arow[r] + kk, w);
        for (int c = 0; c < 4; ++c) acc[r][c] = V::fma(a, b[c], acc[r][c]);
      }
    }
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < 4; ++c) out[r][c] = V::reduce_add(acc[r][c]);
  }

  static void small_m(const GemmArgs& a, ThreadPool& pool) {
    const std::int64_t k = a.k;
    // A rows as f32 (converted once; tiny).
    std::unique_ptr<float[]> abuf;
    const float* arow[kSmallM] = {};
    if (a.a_type == engine::DType::kF32) {
      for (std::int64_t i = 0; i < a.m; ++i) arow[i] = static_cast<const float*>(a.a) + i * a.lda;
    } else {
      abuf.reset(new float[static_cast<std::size_t>(a.m * k)]);
      for (std::int64_t i = 0; i < a.m; ++i) {
        vload_row<V>(offset_f(a.a, a.a_type, i * a.lda), a.a_type, k, abuf.get() + i * k);
        arow[i] = abuf.get() + i * k;
      }
    }
    const bool b_f32 = a.b_type == engine::DType::kF32;
    const std::int64_t b_row_bytes =
        a.ldb / engine::block_size(a.b_type) * engine::block_bytes(a.b_type);
    const std::int64_t groups = (a.n + 3) / 4;
    const std::int64_t grain = std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, k));
    pool.parallel_for(groups, grain, [&](std::int64_t g0, std::int64_t g1) {
      std::unique_ptr<float[]> bbuf(b_f32 ? nullptr : new float[static_cast<std::size_t>(4 * k)]);
      alignas(64) float accrow[16];  // W-sized so full-width loads stay in bounds
      for (std::int64_t g = g0; g < g1; ++g) {
        const std::int64_t j0 = g * 4;
        const int nc = static_cast<int>(std::min<std::int64_t>(4, a.n - j0));
        const float* brow[4];
        for (int c = 0; c < 4; ++c) {
          const std::int64_t j = j0 + std::min(c, nc - 1);
          const char* src = static_cast<const char*>(a.b) + j * b_row_bytes;
          if (b_f32) {
            brow[c] = reinterpret_cast<const float*>(src);
          } else {
            if (c < nc) vload_row<V>(src, a.b_type, k, bbuf.get() + c * k);
            brow[c] = bbuf.get() + std::min(c, nc - 1) * k;
          }
        }
        // Row groups of 4 share the 4 weight rows while they are hot in L1.
        for (std::int64_t i0 = 0; i0 < a.m; i0 += 4) {
          float out[4][4];
          switch (std::min<std::int64_t>(4, a.m - i0)) {
            case 1: dot_tile<1>(arow + i0, brow, k, out); break;
            case 2: dot_tile<2>(arow + i0, brow, k, out); break;
            case 3: dot_tile<3>(arow + i0, brow, k, out); break;
            default: dot_tile<4>(arow + i0, brow, k, out); break;
          }
          for (std::int64_t i = i0; i < std::min<std::int64_t>(a.m, i0 + 4); ++i) {
            for (int c = 0; c < nc; ++c) accrow[c] = out[i - i0][c];
            epilogue_row<V>(accrow, nc, a.alpha, a.beta, a.bias ? a.bias + j0 : nullptr, a.activation,
                            offset_f(a.c, a.c_type, i * a.ldc + j0), a.c_type);
          }
        }
      }
    });
  }

  // ---- packed path --------------------------------------------------------------------------

  /// acc[MR x NR] (+)= A[MR rows, kc] . Bp[kc x NR]; arow[r] points at A(r, k0).
  static void micro(std::int64_t kc, const float* const* arow, const float* bp, float* cbuf, std::int64_t ldcb,
                    bool accumulate) {
    R c0[MR], c1[MR];
    for (int r = 0; r < MR; ++r) {
      c0[r] = accumulate ? V::load(cbuf + r * ldcb) : V::zero();
      c1[r] = accumulate ? V::load(cbuf + r * ldcb + W) : V::zero();
    }
    for (std::int64_t k = 0; k < kc; ++k) {
      const R b0 = V::load(bp + k * NR);
      const R b1 = V::load(bp + k * NR + W);
      for (int r = 0; r < MR; ++r) {
        const R av = V::set1(arow[r][k]);
        c0[r] = V::fma(av, b0, c0[r]);
        c1[r] = V::fma(av, b1, c1[r]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      V::store(cbuf + r * ldcb, c0[r]);
      V::store(cbuf + r * ldcb + W, c1[r]);
    }
  }

  /// Packs B(k0..k0+kc, j0..j0+nc) into panels of NR columns: bp[p][k][NR] (zero-padded).
  static void pack_b(const GemmArgs& a, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
                     float* bp, float* rowtmp) {
    const std::int64_t panels = (nc + NR - 1) / NR;
    const std::int64_t b_row_bytes =
        a.ldb / engine::block_size(a.b_type) * engine::block_bytes(a.b_type);
    for (std::int64_t p = 0; p < panels; ++p) {
      float* dst = bp + p * kc * NR;
      const int cols = static_cast<int>(std::min<std::int64_t>(NR, nc - p * NR));
      if (a.b_transposed) {
        for (int c = 0; c < cols; ++c) {
          const std::int64_t j = j0 + p * NR + c;
          const char* row = static_cast<const char*>(a.b) + j * b_row_bytes;
          const float* src;
          if (a.b_type == engine::DType::kF32) {
            src = reinterpret_cast<const float*>(row) + k0;
          } else if (engine::is_block_quantized(a.b_type)) {
            vload_row<V>(row + k0 / engine::block_size(a.b_type) * engine::block_bytes(a.b_type), a.b_type, kc, rowtmp);
            src = rowtmp;
          } else {
            vload_row<V>(offset_f(row, a.b_type, k0), a.b_type, kc, rowtmp);
            src = rowtmp;
          }
          for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + c] = src[k];
        }
        for (int c = cols; c < NR; ++c)
          for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + c] = 0.0f;
      } else {
        for (std::int64_t k = 0; k < kc; ++k) {
          const void* src = offset_f(a.b, a.b_type, (k0 + k) * a.ldb + j0 + p * NR);
          for (int c = 0; c < NR; c += W) {
            const int w = std::clamp(cols - c, 0, W);
            V::store(dst + k * NR + c, w > 0 ? vload<V>(offset_f(src, a.b_type, c), a.b_type, w) : V::zero());
          }
        }
      }
    }
  }

  static void packed(const GemmArgs& a, ThreadPool& pool) {
    const std::int64_t mt = (a.m + MC - 1) / MC, nt = (a.n + NC - 1) / NC;
    pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
      std::unique_ptr<float[]> bp(new float[static_cast<std::size_t>(KC * NC)]);
      std::unique_ptr<float[]> cbuf(new float[static_cast<std::size_t>(MC * NC)]);
      std::unique_ptr<float[]> rowtmp(new float[static_cast<std::size_t>(KC)]);
      std::unique_ptr<float[]> abuf(a.a_type == engine::DType::kF32 ? nullptr : new float[static_cast<std::size_t>(MC * KC)]);
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t i0 = (t / nt) * MC, j0 = (t % nt) * NC;
        const std::int64_t mc = std::min(MC, a.m - i0), nc = std::min(NC, a.n - j0);
        const std::int64_t panels = (nc + NR - 1) / NR;
        for (std::int64_t k0 = 0; k0 < a.k; k0 += KC) {
          const std::int64_t kc = std::min(KC, a.k - k0);
          pack_b(a, k0, kc, j0, nc, bp.get(), rowtmp.get());
          if (abuf) {
            for (std::int64_t i = 0; i < mc; ++i) {
              vload_row<V>(offset_f(a.a, a.a_type, (i0 + i) * a.lda + k0), a.a_type, kc, abuf.get() + i * KC);
            }
          }
          for (std::int64_t ir = 0; ir < mc; ir += MR) {
            const float* arow[MR];
            for (int r = 0; r < MR; ++r) {
              const std::int64_t i = std::min<std::int64_t>(ir + r, mc - 1);  // clamp: extra rows discarded
              arow[r] = !abuf ? static_cast<const float*>(a.a) + (i0 + i) * a.lda + k0 : abuf.get() + i * KC;
            }
            for (std::int64_t p = 0; p < panels; ++p) {
              float* ct = cbuf.get() + ir * NC + p * NR;
              if (ir + MR <= mc) {
                micro(kc, arow, bp.get() + p * kc * NR, ct, NC, k0 > 0);
              } else {
                // Edge rows: run into a scratch tile so rows past mc never touch cbuf's bounds.
                alignas(64) float tile[MR * NR];
                for (std::int64_t r = 0; r < MR; ++r)
                  for (int c = 0; c < NR; ++c) tile[r * NR + c] = (ir + r < mc && k0 > 0) ? ct[r * NC + c] : 0.0f;
                micro(kc, arow, bp.get() + p * kc * NR, tile, NR, k0 > 0);
                for (std::int64_t r = 0; ir + r < mc && r < MR; ++r)
                  for (int c = 0; c < NR; ++c) ct[r * NC + c] = tile[r * NR + c];
              }
            }
          }
        }
        if (a.k == 0) std::memset(cbuf.get(), 0, sizeof(float) * static_cast<std::size_t>(MC * NC));
        for (std::int64_t i = 0; i < mc; ++i) {
          epilogue_row<V>(cbuf.get() + i * NC, nc, a.alpha, a.beta, a.bias ? a.bias + j0 : nullptr, a.activation,
                          offset_f(a.c, a.c_type, (i0 + i) * a.ldc + j0), a.c_type);
        }
      }
    });
  }

  static void run(const GemmArgs& a, ThreadPool& pool) {
    if (a.m <= kSmallM && a.b_transposed && a.k > 0) {
      small_m(a, pool);
    } else {
      packed(a, pool);
    }
  }
};

}  // namespace
}  // namespace parley::kernels::cpu::simd
