// AVX-512 BF16 direct 1-D convolution (f32 in and out, groups 1, stride 1, any dilation/padding):
// the input and the weights are rounded to bf16 (round to nearest even) and multiplied in pairs
// of input channels by vdpbf16ps, accumulating in f32. Same register tiles as the f32 kernel
// (conv1d_avx512.cc: 8 output channels x 32 time steps), but each instruction does two
// multiply-adds per lane, so the vocoder convolutions, which run the f32 kernel at the FMA
// ports' peak, go about twice as fast. Used only when the caller allows bf16 products
// (ExecContext::allow_bf16) and the CPU has AVX512_BF16.
// Layouts: input pairs xq[cin/2][lp][2] (channels 2p and 2p+1 of one time step side by side),
// weight pairs wq[cin/2][ks][cout8][2]; an odd last channel is paired with zeros.
// Depends on conv1d_direct.h, ops/conv1d.h, act_math.h, thread_pool.h, <immintrin.h>; compiled
// with -mavx512bf16 (CMake).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/conv1d_direct.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/conv1d.h"

namespace parley::kernels::cpu::detail {
namespace {

constexpr int kCo = 8;
constexpr int kT = 32;

// acc += pairs(a) . pairs(b). Inline asm with the accumulator tied in place (as bf16_linear).
inline __m512 dpbf16(__m512 acc, __m512i a, __m512i b) {
  __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// f32 -> bf16 bits, round to nearest even (finite values; what vcvtneps2bf16 does).
inline std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
inline __m512i to_bf16_lanes(__m512 v) {  // 16 lanes, the bf16 in each lane's low half
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
}

// Accumulators of one tile: output channels co0..co0+7 (bias of those < nco), times t0..t0+nt,
// from input pairs xq ([cp][lp] of 32-bit pairs; tap k of output t reads xq[p][t + k * dil]) and
// weight pairs wq ([cp][taps][cout8]).
inline void accumulate(const std::uint32_t* xq, std::int64_t lp, const std::uint32_t* wq, std::int64_t cout8,
                       std::int64_t pairs, std::int64_t taps, std::int64_t dil, const float* bias, std::int64_t co0,
                       int nco, std::int64_t t0, __mmask16 m0, __mmask16 m1, __m512 acc0[kCo], __m512 acc1[kCo]) {
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    const float b = (r < nco && bias) ? bias[co0 + r] : 0.0f;
    acc0[r] = _mm512_set1_ps(b);
    acc1[r] = _mm512_set1_ps(b);
  }
  for (std::int64_t p = 0; p < pairs; ++p) {
    const std::uint32_t* xr = xq + p * lp + t0;
    for (std::int64_t k = 0; k < taps; ++k) {
      const __m512i x0 = _mm512_maskz_loadu_epi32(m0, xr + k * dil);
      const __m512i x1 = _mm512_maskz_loadu_epi32(m1, xr + k * dil + 16);
      const std::uint32_t* wk = wq + (p * taps + k) * cout8 + co0;
#pragma GCC unroll 8
      for (int r = 0; r < kCo; ++r) {
        const __m512i wv = _mm512_set1_epi32(static_cast<int>(wk[r]));
        acc0[r] = dpbf16(acc0[r], wv, x0);
        acc1[r] = dpbf16(acc1[r], wv, x1);
      }
    }
  }
}

inline __mmask16 mask_lo(int nt) { return nt >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nt) - 1u); }
inline __mmask16 mask_hi(int nt) {
  return nt >= 32 ? 0xFFFF : (nt <= 16 ? 0 : static_cast<__mmask16>((1u << (nt - 16)) - 1u));
}

// A stride-1 tile, stored contiguously with the residual added (activation: a pass afterwards).
inline void tile(const std::uint32_t* xq, std::int64_t lp, const std::uint32_t* wq, std::int64_t cout8,
                 std::int64_t pairs, std::int64_t ks, std::int64_t dil, const float* bias, std::int64_t co0, int nco,
                 std::int64_t t0, int nt, float* y, std::int64_t lout, const float* res) {
  __m512 acc0[kCo], acc1[kCo];
  const __mmask16 m0 = mask_lo(nt), m1 = mask_hi(nt);
  accumulate(xq, lp, wq, cout8, pairs, ks, dil, bias, co0, nco, t0, m0, m1, acc0, acc1);
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    if (r < nco) {
      float* yr = y + (co0 + r) * lout + t0;
      if (res != nullptr) {
        const float* rr = res + (co0 + r) * lout + t0;
        acc0[r] = _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(m0, rr));
        acc1[r] = _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(m1, rr + 16));
      }
      _mm512_mask_storeu_ps(yr, m0, acc0[r]);
      _mm512_mask_storeu_ps(yr + 16, m1, acc1[r]);
    }
  }
}

// A tile of one phase of a transposed convolution (outputs j0..j0+nt of phase ph, o = j * stride
// + ph - padding), stored with the output's stride, residual and activation per value.
inline void tile_transposed(const Conv1dArgs& a, const std::uint32_t* xs, std::int64_t lp, const std::uint32_t* wp,
                            std::int64_t cout8, std::int64_t pairs, std::int64_t taps, std::int64_t co0, int nco,
                            std::int64_t j0, int nt, std::int64_t ph, std::int64_t lout, float* y, const float* res) {
  __m512 acc0[kCo], acc1[kCo];
  accumulate(xs, lp, wp, cout8, pairs, taps, 1, a.bias, co0, nco, j0, mask_lo(nt), mask_hi(nt), acc0, acc1);
  alignas(64) float buf[kCo][kT];
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    _mm512_store_ps(buf[r], acc0[r]);
    _mm512_store_ps(buf[r] + 16, acc1[r]);
  }
  const std::int64_t base = j0 * a.stride + ph - a.padding;
  for (int r = 0; r < nco; ++r) {
    float* yr = y + (co0 + r) * lout;
    const float* rr = res ? res + (co0 + r) * lout : nullptr;
    for (int t = 0; t < nt; ++t) {
      const std::int64_t o = base + t * a.stride;
      float v = buf[r][t];
      if (rr) v += rr[o];
      yr[o] = act_apply(a.activation, v);
    }
  }
}

// One channel's value at padded position t: `off` zeros, the row through the input transform,
// zeros after (pad_rows' layout, conv1d_direct.h).
inline float padded(const Conv1dArgs& a, const float* row, std::int64_t lin, std::int64_t off, std::int64_t t) {
  const std::int64_t s = t - off;
  return row != nullptr && s >= 0 && s < lin ? conv1d_input_transform(a, row[s]) : 0.0f;
}

// The input as bf16 pairs in one pass: what pad_rows then pack_pair would give, without the f32
// padded copy in between (one write and one read of cin x lp floats less per call).
void pad_pack_rows(const Conv1dArgs& a, const float* x, std::int64_t cin, std::int64_t lin, std::int64_t off,
                   std::int64_t lp, std::uint32_t* xq, ThreadPool& pool) {
  const bool xform = conv1d_has_input_transform(a);
  const __m512 scale = _mm512_set1_ps(a.input_scale), slope = _mm512_set1_ps(a.input_leaky ? a.input_slope : 1.0f);
  const __m512 zero = _mm512_setzero_ps();
  auto load = [&](const float* src) {
    const __m512 v = _mm512_loadu_ps(src);
    if (!xform) return v;
    const __m512 w = _mm512_mul_ps(v, scale);
    return _mm512_mask_mul_ps(w, _mm512_cmp_ps_mask(w, zero, _CMP_LT_OQ), w, slope);
  };
  pool.parallel_for((cin + 1) / 2, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* lo_row = x + 2 * p * lin;
      const float* hi_row = 2 * p + 1 < cin ? x + (2 * p + 1) * lin : nullptr;
      std::uint32_t* out = xq + p * lp;
      // Zeros before the row, the row's edges one at a time, its interior 16 at a time.
      const std::int64_t body0 = std::min(lp, off), body1 = std::min(lp, off + lin);
      std::int64_t t = 0;
      for (; t < body0; ++t) out[t] = 0;
      for (; t + 16 <= body1; t += 16) {
        const __m512i lo = to_bf16_lanes(load(lo_row + (t - off)));
        const __m512i hi = hi_row ? _mm512_slli_epi32(to_bf16_lanes(load(hi_row + (t - off))), 16) : _mm512_setzero_si512();
        _mm512_storeu_si512(out + t, _mm512_or_si512(lo, hi));
      }
      for (; t < body1; ++t) {
        out[t] = to_bf16(padded(a, lo_row, lin, off, t)) |
                 (hi_row ? static_cast<std::uint32_t>(to_bf16(padded(a, hi_row, lin, off, t))) << 16 : 0u);
      }
      for (; t < lp; ++t) out[t] = 0;
    }
  });
}

}  // namespace

void conv1d_direct_bf16_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool) {
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t pad = a.padding, dil = a.dilation;
  const std::int64_t lp = std::max(lin + 2 * pad, lout + (ks - 1) * dil) + kT;
  const std::int64_t pairs = (cin + 1) / 2;
  const std::int64_t cout8 = (cout + kCo - 1) / kCo * kCo;
  const float* w = static_cast<const float*>(a.w);
  // Weight pairs, once per call (the f32 kernel reorders its weights per call too).
  std::vector<std::uint32_t> wq(static_cast<std::size_t>(pairs * ks * cout8), 0u);
  for (std::int64_t o = 0; o < cout; ++o) {
    for (std::int64_t c = 0; c < cin; ++c) {
      const int half = static_cast<int>(c & 1);
      for (std::int64_t k = 0; k < ks; ++k) {
        wq[static_cast<std::size_t>(((c / 2) * ks + k) * cout8 + o)] |= static_cast<std::uint32_t>(to_bf16(w[(o * cin + c) * ks + k]))
                                                                        << (16 * half);
      }
    }
  }
  const ConvScratch xq(1, static_cast<std::size_t>(pairs * lp) * sizeof(std::uint32_t));  // pad_pack_rows writes all
  const std::int64_t cb = cout8 / kCo, tb = (lout + kT - 1) / kT;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* x = static_cast<const float*>(a.x) + b * cin * lin;
    float* y = static_cast<float*>(a.y) + b * cout * lout;
    const float* res = a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr;
    pad_pack_rows(a, x, cin, lin, pad, lp, xq.as<std::uint32_t>(), pool);
    // Tasks: time blocks of 8 tiles x all channel blocks (one task reuses its input rows).
    constexpr std::int64_t kTilesPerTask = 8;
    const std::int64_t tasks = (tb + kTilesPerTask - 1) / kTilesPerTask;
    pool.parallel_for(tasks * cb, 1, [&](std::int64_t q0, std::int64_t q1) {
      for (std::int64_t q = q0; q < q1; ++q) {
        const std::int64_t task = q / cb, cblk = q % cb;
        const std::int64_t co0 = cblk * kCo;
        const int nco = static_cast<int>(std::min<std::int64_t>(kCo, cout - co0));
        for (std::int64_t tt = task * kTilesPerTask; tt < std::min(tb, (task + 1) * kTilesPerTask); ++tt) {
          const std::int64_t t0 = tt * kT;
          tile(xq.as<std::uint32_t>(), lp, wq.data(), cout8, pairs, ks, dil, a.bias, co0, nco, t0,
               static_cast<int>(std::min<std::int64_t>(kT, lout - t0)), y, lout, res);
        }
      }
    });
    if (a.activation != Activation::kNone) {
      pool.parallel_for(cout, 1, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) act_apply_n(a.activation, y + r * lout, lout);
      });
    }
  }
}

void conv1d_transposed_bf16_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool) {
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t s = a.stride;
  const std::int64_t pairs = (cin + 1) / 2;
  const std::int64_t cout8 = (cout + kCo - 1) / kCo * kCo;
  const float* w = static_cast<const float*>(a.w);  // [cin][cout][ks]
  const TransposedPlan plan = plan_transposed(a, lout, kT);
  // Per phase: weight pairs [cp][taps][cout8], tap m = kernel tap ph + (taps - 1 - m) * s.
  std::vector<std::vector<std::uint32_t>> pw(static_cast<std::size_t>(s));
  for (std::int64_t ph = 0; ph < s; ++ph) {
    const std::int64_t taps = plan.phases[static_cast<std::size_t>(ph)].taps;
    if (taps == 0) continue;
    std::vector<std::uint32_t>& q = pw[static_cast<std::size_t>(ph)];
    q.assign(static_cast<std::size_t>(pairs * taps * cout8), 0u);
    for (std::int64_t c = 0; c < cin; ++c) {
      const int half = static_cast<int>(c & 1);
      for (std::int64_t m = 0; m < taps; ++m) {
        const std::int64_t k = ph + (taps - 1 - m) * s;
        for (std::int64_t o = 0; o < cout; ++o) {
          q[static_cast<std::size_t>(((c / 2) * taps + m) * cout8 + o)] |=
              static_cast<std::uint32_t>(to_bf16(w[(c * cout + o) * ks + k])) << (16 * half);
        }
      }
    }
  }
  const std::int64_t off = plan.off, lp = plan.lp;
  const ConvScratch xq(1, static_cast<std::size_t>(pairs * lp) * sizeof(std::uint32_t));  // pad_pack_rows writes all
  const std::int64_t cb = cout8 / kCo;
  constexpr std::int64_t kTilesPerTask = 2;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* x = static_cast<const float*>(a.x) + b * cin * lin;
    float* y = static_cast<float*>(a.y) + b * cout * lout;
    const float* res = a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr;
    pad_pack_rows(a, x, cin, lin, off, lp, xq.as<std::uint32_t>(), pool);
    // Tasks as in the f32 kernel: every phase of a tile in one task (interleaved output lines).
    const std::int64_t tasks = (plan.tiles + kTilesPerTask - 1) / kTilesPerTask;
    pool.parallel_for(tasks * cb, 1, [&](std::int64_t q0, std::int64_t q1) {
      for (std::int64_t q = q0; q < q1; ++q) {
        const std::int64_t task = q / cb, co0 = (q % cb) * kCo;
        const int nco = static_cast<int>(std::min<std::int64_t>(kCo, cout - co0));
        for (std::int64_t tt = task * kTilesPerTask; tt < std::min(plan.tiles, (task + 1) * kTilesPerTask); ++tt) {
          for (std::int64_t ph = 0; ph < s; ++ph) {
            const TransposedPhase& p = plan.phases[static_cast<std::size_t>(ph)];
            const std::int64_t j0 = p.j_lo + tt * kT;
            if (j0 >= p.j_hi) continue;
            const int nt = static_cast<int>(std::min<std::int64_t>(kT, p.j_hi - j0));
            if (p.taps == 0) {
              transposed_bias_only(a, j0, nt, ph, co0, nco, lout, y, res);
              continue;
            }
            tile_transposed(a, xq.as<std::uint32_t>() + (off - (p.taps - 1)), lp, pw[static_cast<std::size_t>(ph)].data(), cout8, pairs,
                            p.taps, co0, nco, j0, nt, ph, lout, y, res);
          }
        }
      }
    });
  }
}

}  // namespace parley::kernels::cpu::detail
