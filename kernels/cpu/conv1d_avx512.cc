// AVX-512 direct 1-D convolution (f32, groups 1, stride 1, any dilation/padding): register tiles
// of 8 output channels x 32 time steps, one unaligned input load per 8 FMAs, weights broadcast
// (reordered to [cin][ks][cout] for long outputs, read in place for short text-rate ones); the
// fused input transform runs in the padded input copy, the fused residual at the tile's store.
// Transposed convolutions (dilation 1) run as `stride` interleaved stride-1 convolutions (one per
// output phase) on the same tiles. Why: vocoder convolutions have few channels (32-128) and
// long time axes; as GEMMs their small M or N leaves the packed kernel at 30-60 GFLOP/s per core
// (the transposed ones, GEMM + col2im, at 15-45), this tiling keeps both FMA ports busy without
// im2col or packing. Everything here is in an anonymous namespace but the entry points (see
// simd_avx512.h on ISA-specific linkage).
// Depends on conv1d_direct.h, ops/conv1d.h, thread_pool.h, <immintrin.h>.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/conv1d_direct.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/conv1d.h"

namespace parley::kernels::cpu::detail {
namespace {

constexpr int kCo = 8;   // output channels per tile
constexpr int kT = 32;   // time steps per tile (2 zmm)

// One tile: rows co0..co0+nco of y, times t0..t0+nt (nt <= kT), from the padded input xp
// ([cin][lp], position t of the output reads xp[c][t + k*dil]).
// Weight of (channel co0 + r, input c, tap k) = wbase[r * rs + (c * ks + k) * cks]: the model's own
// [cout][cin][ks] rows (rs = cin*ks, cks = 1) or a [cin][ks][cout] copy (rs = 1, cks = cout).
// `res` (y-shaped, or nullptr) is added at the store: the fused residual Add.
inline void tile(const float* xp, std::int64_t lp, const float* wbase, std::int64_t rs, std::int64_t cks, std::int64_t cin,
                 std::int64_t ks, std::int64_t dil, const float* bias, std::int64_t co0, int nco, std::int64_t t0, int nt,
                 float* y, std::int64_t lout, const float* res) {
  __m512 acc0[kCo], acc1[kCo];
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    const float b = (r < nco && bias) ? bias[co0 + r] : 0.0f;
    acc0[r] = _mm512_set1_ps(b);
    acc1[r] = _mm512_set1_ps(b);
  }
  const __mmask16 m0 = nt >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nt) - 1u);
  const __mmask16 m1 = nt >= 32 ? 0xFFFF : (nt <= 16 ? 0 : static_cast<__mmask16>((1u << (nt - 16)) - 1u));
  for (std::int64_t c = 0; c < cin; ++c) {
    const float* xr = xp + c * lp + t0;
    for (std::int64_t k = 0; k < ks; ++k) {
      const __m512 x0 = _mm512_maskz_loadu_ps(m0, xr + k * dil);
      const __m512 x1 = _mm512_maskz_loadu_ps(m1, xr + k * dil + 16);
      const float* wk = wbase + (c * ks + k) * cks;
#pragma GCC unroll 8
      for (int r = 0; r < kCo; ++r) {
        const __m512 wv = _mm512_set1_ps(wk[r * rs]);
        acc0[r] = _mm512_fmadd_ps(wv, x0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(wv, x1, acc1[r]);
      }
    }
  }
  // Constant indices only (fully unrolled): the accumulators stay in registers.
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

// Few output channels (a vocoder's last convolution, 32 -> 1): the 8 accumulator rows of tile()
// become 8 consecutive time tiles of one channel, so the weight broadcast serves 16 FMAs instead
// of 2 (tile() would waste 7 of its 8 rows). Outputs t0 .. t0+n (n <= kCo * kT) of channel row
// `wrow` ([cin][ks]); stores add the residual row when there is one.
inline void tile_narrow(const float* xp, std::int64_t lp, const float* wrow, std::int64_t cin, std::int64_t ks,
                        std::int64_t dil, float bias, std::int64_t t0, std::int64_t n, float* yrow, const float* rrow) {
  __m512 acc0[kCo], acc1[kCo];
  __mmask16 m0[kCo], m1[kCo];
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    const std::int64_t nt = std::clamp<std::int64_t>(n - r * kT, 0, kT);
    m0[r] = nt >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nt) - 1u);
    m1[r] = nt >= 32 ? 0xFFFF : (nt <= 16 ? 0 : static_cast<__mmask16>((1u << (nt - 16)) - 1u));
    acc0[r] = _mm512_set1_ps(bias);
    acc1[r] = _mm512_set1_ps(bias);
  }
  for (std::int64_t c = 0; c < cin; ++c) {
    for (std::int64_t k = 0; k < ks; ++k) {
      const __m512 wv = _mm512_set1_ps(wrow[c * ks + k]);
      const float* xr = xp + c * lp + t0 + k * dil;
#pragma GCC unroll 8
      for (int r = 0; r < kCo; ++r) {
        acc0[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m0[r], xr + r * kT), acc0[r]);
        acc1[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m1[r], xr + r * kT + 16), acc1[r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    float* yr = yrow + t0 + r * kT;
    if (rrow != nullptr) {
      const float* rr = rrow + t0 + r * kT;
      acc0[r] = _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(m0[r], rr));
      acc1[r] = _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(m1[r], rr + 16));
    }
    _mm512_mask_storeu_ps(yr, m0[r], acc0[r]);
    _mm512_mask_storeu_ps(yr + 16, m1[r], acc1[r]);
  }
}

// dst[i] = f(src[i]) (ops/conv1d.h's input transform), 16 lanes at a time.
void transform_row(const Conv1dArgs& a, const float* src, float* dst, std::int64_t n) {
  const __m512 scale = _mm512_set1_ps(a.input_scale), slope = _mm512_set1_ps(a.input_leaky ? a.input_slope : 1.0f);
  const __m512 zero = _mm512_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(src + i), scale);
    const __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
    _mm512_storeu_ps(dst + i, _mm512_mask_mul_ps(v, neg, v, slope));
  }
  for (; i < n; ++i) dst[i] = conv1d_input_transform(a, src[i]);
}

}  // namespace

namespace {

constexpr int kScratchSlots = 2;
constexpr std::size_t kScratchKeepBytes = std::size_t{64} << 20;

struct ScratchSlot {
  void* data = nullptr;
  std::size_t bytes = 0;
  bool busy = false;
  ~ScratchSlot() { ::operator delete(data, std::align_val_t{64}); }
};

thread_local ScratchSlot t_scratch[kScratchSlots];

}  // namespace

ConvScratch::ConvScratch(int slot, std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 64);
  if (slot >= 0 && slot < kScratchSlots && !t_scratch[slot].busy && bytes <= kScratchKeepBytes) {
    ScratchSlot& s = t_scratch[slot];
    if (s.bytes < bytes) {
      ::operator delete(s.data, std::align_val_t{64});
      s.data = nullptr;
      s.bytes = 0;
      s.data = ::operator new(bytes, std::align_val_t{64});
      s.bytes = bytes;
    }
    s.busy = true;
    data_ = s.data;
    slot_ = slot;
    return;
  }
  data_ = ::operator new(bytes, std::align_val_t{64});
}

ConvScratch::~ConvScratch() {
  if (slot_ >= 0) {
    t_scratch[slot_].busy = false;
  } else {
    ::operator delete(data_, std::align_val_t{64});
  }
}

// conv1d_direct.h. Both convolution kinds (and the bf16 kernels) read it.
void pad_rows(const Conv1dArgs& a, const float* x, std::int64_t cin, std::int64_t lin, std::int64_t off,
              std::int64_t lp, float* xp, ThreadPool& pool) {
  const bool xform = conv1d_has_input_transform(a);
  pool.parallel_for(cin, 4, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      float* row = xp + c * lp;
      std::fill(row, row + off, 0.0f);
      if (xform) {
        transform_row(a, x + c * lin, row + off, lin);
      } else {
        std::memcpy(row + off, x + c * lin, static_cast<std::size_t>(lin) * sizeof(float));
      }
      std::fill(row + off + lin, row + lp, 0.0f);
    }
  });
}

void conv1d_direct_f32_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool) {
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t pad = a.padding, dil = a.dilation;
  // Padded input rows: pad zeros, the row, then zeros up to every position a tile may load.
  const std::int64_t lp = std::max(lin + 2 * pad, lout + (ks - 1) * dil) + kT;
  const float* w = static_cast<const float*>(a.w);
  // Long outputs: reorder the weights to [cin][ks][cout] once (the 8 weights of a step are then
  // adjacent); short ones (text-rate layers) read the model's rows, a copy would cost more than
  // the arithmetic. kCo floats of slack keep a partial channel block in bounds.
  const bool narrow = cout < kCo && lout >= kCo * kT;
  const bool reorder = lout >= 512 && !narrow;
  std::vector<float> wt, wtail;
  if (!reorder && !narrow && cout % kCo != 0) {
    const std::int64_t first = cout / kCo * kCo;
    wtail.assign(static_cast<std::size_t>(kCo * cin * ks), 0.0f);
    std::memcpy(wtail.data(), w + first * cin * ks, static_cast<std::size_t>((cout - first) * cin * ks) * sizeof(float));
  }
  if (reorder) {
    wt.assign(static_cast<std::size_t>(cin * ks * cout + kCo), 0.0f);
    for (std::int64_t o = 0; o < cout; ++o) {
      for (std::int64_t i = 0; i < cin * ks; ++i) wt[static_cast<std::size_t>(i * cout + o)] = w[o * cin * ks + i];
    }
  }
  const ConvScratch xp(0, static_cast<std::size_t>(cin * lp) * sizeof(float));  // pad_rows writes all of it
  const std::int64_t cb = (cout + kCo - 1) / kCo, tb = (lout + kT - 1) / kT;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* x = static_cast<const float*>(a.x) + b * cin * lin;
    float* y = static_cast<float*>(a.y) + b * cout * lout;
    const float* res = a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr;
    pad_rows(a, x, cin, lin, pad, lp, xp.as<float>(), pool);
    if (narrow) {
      // Narrow: tasks are (channel, kCo * kT outputs).
      constexpr std::int64_t kSpan = kCo * kT;
      const std::int64_t spans = (lout + kSpan - 1) / kSpan;
      pool.parallel_for(cout * spans, 1, [&](std::int64_t q0, std::int64_t q1) {
        for (std::int64_t q = q0; q < q1; ++q) {
          const std::int64_t co = q / spans, t0 = (q % spans) * kSpan;
          tile_narrow(xp.as<float>(), lp, w + co * cin * ks, cin, ks, dil, a.bias ? a.bias[co] : 0.0f, t0,
                      std::min(kSpan, lout - t0), y + co * lout, res ? res + co * lout : nullptr);
        }
      });
    } else {
      // Tasks: time blocks of 8 tiles x all channel blocks, so one task reuses its input rows.
      constexpr std::int64_t kTilesPerTask = 8;
      const std::int64_t tasks = (tb + kTilesPerTask - 1) / kTilesPerTask;
      pool.parallel_for(tasks * cb, 1, [&](std::int64_t q0, std::int64_t q1) {
        for (std::int64_t q = q0; q < q1; ++q) {
          const std::int64_t task = q / cb, cblk = q % cb;
          const std::int64_t co0 = cblk * kCo;
          const int nco = static_cast<int>(std::min<std::int64_t>(kCo, cout - co0));
          for (std::int64_t tt = task * kTilesPerTask; tt < std::min(tb, (task + 1) * kTilesPerTask); ++tt) {
            const std::int64_t t0 = tt * kT;
            const int nt = static_cast<int>(std::min<std::int64_t>(kT, lout - t0));
            if (reorder) {
              tile(xp.as<float>(), lp, wt.data() + co0, 1, cout, cin, ks, dil, a.bias, co0, nco, t0, nt, y, lout, res);
            } else {
              // A partial channel block reads a zero-padded copy of its rows, not past the end.
              const float* wb = nco == kCo ? w + co0 * cin * ks : wtail.data();
              tile(xp.as<float>(), lp, wb, cin * ks, 1, cin, ks, dil, a.bias, co0, nco, t0, nt, y, lout, res);
            }
          }
        }
      });
    }
    if (a.activation != Activation::kNone) {
      pool.parallel_for(cout, 1, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) act_apply_n(a.activation, y + r * lout, lout);
      });
    }
  }
}

namespace {

// One tile of one phase of a transposed convolution: outputs j = j0 .. j0+nt of phase `ph`
// (output position o = j * stride + ph - padding), channels co0 .. co0+nco, accumulated exactly
// as tile() does from xs (the padded input, shifted so that tap m of output j reads xs[c][j + m])
// and the phase's flipped, reordered weights wp[(c * taps + m) * cout + co]; then stored with
// the output's stride, the residual and the activation applied per value.
inline void tile_transposed(const Conv1dArgs& a, const float* xs, std::int64_t lp, const float* wp, std::int64_t cout,
                            std::int64_t cin, std::int64_t taps, std::int64_t co0, int nco, std::int64_t j0, int nt,
                            std::int64_t ph, std::int64_t lout, float* y, const float* res) {
  __m512 acc0[kCo], acc1[kCo];
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    const float b = (r < nco && a.bias) ? a.bias[co0 + r] : 0.0f;
    acc0[r] = _mm512_set1_ps(b);
    acc1[r] = _mm512_set1_ps(b);
  }
  const __mmask16 m0 = nt >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nt) - 1u);
  const __mmask16 m1 = nt >= 32 ? 0xFFFF : (nt <= 16 ? 0 : static_cast<__mmask16>((1u << (nt - 16)) - 1u));
  for (std::int64_t c = 0; c < cin; ++c) {
    const float* xr = xs + c * lp + j0;
    for (std::int64_t m = 0; m < taps; ++m) {
      const __m512 x0 = _mm512_maskz_loadu_ps(m0, xr + m);
      const __m512 x1 = _mm512_maskz_loadu_ps(m1, xr + m + 16);
      const float* wk = wp + (c * taps + m) * cout + co0;
#pragma GCC unroll 8
      for (int r = 0; r < kCo; ++r) {
        const __m512 wv = _mm512_set1_ps(wk[r]);
        acc0[r] = _mm512_fmadd_ps(wv, x0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(wv, x1, acc1[r]);
      }
    }
  }
  alignas(64) float buf[kCo][kT];
#pragma GCC unroll 8
  for (int r = 0; r < kCo; ++r) {
    _mm512_store_ps(buf[r], acc0[r]);
    _mm512_store_ps(buf[r] + 16, acc1[r]);
  }
  const std::int64_t stride = a.stride, base = j0 * stride + ph - a.padding;
  for (int r = 0; r < nco; ++r) {
    float* yr = y + (co0 + r) * lout;
    const float* rr = res ? res + (co0 + r) * lout : nullptr;
    for (int t = 0; t < nt; ++t) {
      const std::int64_t o = base + t * stride;
      float v = buf[r][t];
      if (rr) v += rr[o];
      yr[o] = act_apply(a.activation, v);
    }
  }
}

}  // namespace

// Transposed convolution (f32, groups 1, dilation 1) as `stride` interleaved stride-1
// convolutions: output o = j * stride + ph - padding gets sum over c and taps k = ph + m * stride
// of x[c][j - m] * w[c][co][k]. Each phase runs the direct tiles above over j with its own flipped
// weights; no col2im, no zero-upsampled input.
TransposedPlan plan_transposed(const Conv1dArgs& a, std::int64_t lout, std::int64_t tile) {
  const std::int64_t ks = a.kernel_size, s = a.stride, pad = a.padding;
  auto ceil_div = [](std::int64_t n, std::int64_t d) { return n >= 0 ? (n + d - 1) / d : -((-n) / d); };
  TransposedPlan plan;
  plan.phases.resize(static_cast<std::size_t>(s));
  std::int64_t need = a.in_length;  // xs[c][u] = x[c][u - off]; rows hold `need` + slack positions
  for (std::int64_t ph = 0; ph < s; ++ph) {
    TransposedPhase& p = plan.phases[static_cast<std::size_t>(ph)];
    p.taps = ph < ks ? (ks - ph + s - 1) / s : 0;
    p.j_lo = ceil_div(pad - ph, s);
    p.j_hi = std::max(p.j_lo, ceil_div(lout - ph + pad, s));
    // Output j, tap m reads x[j - (taps - 1) + m] = xs[j - (taps - 1) + m + off].
    if (p.taps > 0) plan.off = std::max(plan.off, p.taps - 1 - p.j_lo);
  }
  for (const TransposedPhase& p : plan.phases) {
    need = std::max(need, p.j_hi + plan.off);
    plan.tiles = std::max(plan.tiles, (p.j_hi - p.j_lo + tile - 1) / tile);
  }
  plan.lp = need + plan.off + tile;
  return plan;
}

void transposed_bias_only(const Conv1dArgs& a, std::int64_t j0, int nt, std::int64_t ph, std::int64_t co0, int nco,
                          std::int64_t lout, float* y, const float* res) {
  for (int r = 0; r < nco; ++r) {
    for (int t = 0; t < nt; ++t) {
      const std::int64_t o = (j0 + t) * a.stride + ph - a.padding, i = (co0 + r) * lout + o;
      const float v = (a.bias ? a.bias[co0 + r] : 0.0f) + (res ? res[i] : 0.0f);
      y[i] = act_apply(a.activation, v);
    }
  }
}

void conv1d_transposed_f32_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool) {
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t s = a.stride;
  const float* w = static_cast<const float*>(a.w);
  const TransposedPlan plan = plan_transposed(a, lout, kT);
  const std::int64_t off = plan.off, lp = plan.lp, tiles = plan.tiles;
  // Per phase: weights [cin][taps][cout] + kCo slack, tap m = kernel tap ph + (taps - 1 - m) * s.
  std::vector<std::vector<float>> pw(static_cast<std::size_t>(s));
  for (std::int64_t ph = 0; ph < s; ++ph) {
    const std::int64_t taps = plan.phases[static_cast<std::size_t>(ph)].taps;
    if (taps == 0) continue;
    std::vector<float>& pwp = pw[static_cast<std::size_t>(ph)];
    pwp.assign(static_cast<std::size_t>(cin * taps * cout + kCo), 0.0f);
    for (std::int64_t c = 0; c < cin; ++c) {
      for (std::int64_t m = 0; m < taps; ++m) {
        const std::int64_t k = ph + (taps - 1 - m) * s;
        for (std::int64_t o = 0; o < cout; ++o) pwp[static_cast<std::size_t>((c * taps + m) * cout + o)] = w[(c * cout + o) * ks + k];
      }
    }
  }
  const ConvScratch xp(0, static_cast<std::size_t>(cin * lp) * sizeof(float));  // pad_rows writes all of it
  const std::int64_t cb = (cout + kCo - 1) / kCo;
  constexpr std::int64_t kTilesPerTask = 2;
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* x = static_cast<const float*>(a.x) + b * cin * lin;
    float* y = static_cast<float*>(a.y) + b * cout * lout;
    const float* res = a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr;
    pad_rows(a, x, cin, lin, off, lp, xp.as<float>(), pool);
    // Tasks: (block of kTilesPerTask time tiles, channel block), every phase inside one task: the
    // phases of a tile write interleaved positions of the same output cache lines, which then
    // stay with one core.
    const std::int64_t tasks = (tiles + kTilesPerTask - 1) / kTilesPerTask;
    pool.parallel_for(tasks * cb, 1, [&](std::int64_t q0, std::int64_t q1) {
      for (std::int64_t q = q0; q < q1; ++q) {
        const std::int64_t task = q / cb, cblk = q % cb;
        const std::int64_t co0 = cblk * kCo;
        const int nco = static_cast<int>(std::min<std::int64_t>(kCo, cout - co0));
        for (std::int64_t tt = task * kTilesPerTask; tt < std::min(tiles, (task + 1) * kTilesPerTask); ++tt) {
          for (std::int64_t ph = 0; ph < s; ++ph) {
            const TransposedPhase& p = plan.phases[static_cast<std::size_t>(ph)];
            const std::int64_t j0 = p.j_lo + tt * kT;
            if (j0 >= p.j_hi) continue;
            const int nt = static_cast<int>(std::min<std::int64_t>(kT, p.j_hi - j0));
            if (p.taps == 0) {  // no kernel tap lands on this phase: bias (+ residual) only
              transposed_bias_only(a, j0, nt, ph, co0, nco, lout, y, res);
              continue;
            }
            // xs row position of output j's tap 0 is j - (taps - 1) + off: shift the base so the
            // tile reads xs[c][j + m].
            const float* xs = xp.as<float>() + (off - (p.taps - 1));
            tile_transposed(a, xs, lp, pw[static_cast<std::size_t>(ph)].data(), cout, cin, p.taps, co0, nco, j0, nt, ph,
                            lout, y, res);
          }
        }
      }
    });
  }
}

}  // namespace parley::kernels::cpu::detail
