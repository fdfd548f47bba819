// f32 conv1d and transposed conv1d (groups == 1) as GEMMs: im2col in column chunks for the
// convolution, x^T . W then col2im for the transposed one (the fused input transform in those
// copies, the residual with the activation after). Why: vocoders (HiFi-GAN in VITS
// voices) spend nearly all their time in these; the direct loops of conv1d.cc run at scalar
// speed, the packed GEMM at the ISA's FMA rate. Depends on ops/conv1d.h, ops/gemm.h,
// act_math.h, thread_pool.h.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/conv1d.h"
#include "kernels/ops/gemm.h"

namespace parley::kernels::cpu {

/// True when conv1d_gemm handles `a` (conv1d.cc dispatches on it).
bool conv1d_gemm_applies(const Conv1dArgs& a) {
  return a.dtype == DType::kF32 && a.groups == 1 && a.in_channels * a.kernel_size >= 16 && a.out_channels >= 8;
}

namespace {

// y[b] rows = bias (or 0), so the GEMMs can accumulate with beta = 1.
void init_rows(float* y, std::int64_t rows, std::int64_t len, const float* bias) {
  for (std::int64_t r = 0; r < rows; ++r) std::fill(y + r * len, y + (r + 1) * len, bias ? bias[r] : 0.0f);
}

// The fused residual, then the activation: y = act(y + residual), rows in parallel.
void finish_rows(const Conv1dArgs& a, ThreadPool& pool, float* yb, const float* rb, std::int64_t rows, std::int64_t len) {
  if (rb == nullptr && a.activation == Activation::kNone) return;
  pool.parallel_for(rows, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      float* yr = yb + r * len;
      if (rb != nullptr) {
        const float* rr = rb + r * len;
        for (std::int64_t i = 0; i < len; ++i) yr[i] += rr[i];
      }
      act_apply_n(a.activation, yr, len);
    }
  });
}

Status conv_forward(const Conv1dArgs& a, std::int64_t lout, const ExecContext& ctx) {
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t kdim = cin * ks;
  const float* x = static_cast<const float*>(a.x);
  const float* w = static_cast<const float*>(a.w);
  float* y = static_cast<float*>(a.y);
  const bool xform = conv1d_has_input_transform(a);
  const bool direct = ks == 1 && a.stride == 1 && a.padding == 0 && !xform;
  // Column chunk: the im2col block stays within ~1 MiB.
  const std::int64_t chunk = std::max<std::int64_t>(256, (std::int64_t{1} << 18) / std::max<std::int64_t>(kdim, 1) / 64 * 64);
  std::vector<float> col(direct ? 0 : static_cast<std::size_t>(kdim * std::min(chunk, lout)));
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* xb = x + b * cin * lin;
    float* yb = y + b * cout * lout;
    init_rows(yb, cout, lout, a.bias);
    for (std::int64_t t0 = 0; t0 < lout; t0 += chunk) {
      const std::int64_t nc = std::min(chunk, lout - t0);
      GemmArgs g;
      g.m = cout;
      g.n = nc;
      g.k = kdim;
      g.a = w;
      g.lda = kdim;
      g.b_transposed = false;
      g.c = yb + t0;
      g.ldc = lout;
      g.beta = 1.0f;
      if (direct) {
        g.b = xb + t0;
        g.ldb = lin;
      } else {
        pool.parallel_for(kdim, 8, [&](std::int64_t r0, std::int64_t r1) {
          for (std::int64_t r = r0; r < r1; ++r) {
            const std::int64_t c = r / ks, k = r % ks;
            const float* xr = xb + c * lin;
            float* dst = col.data() + r * nc;
            const std::int64_t off = k * a.dilation - a.padding;
            for (std::int64_t j = 0; j < nc; ++j) {
              const std::int64_t i = (t0 + j) * a.stride + off;
              dst[j] = i >= 0 && i < lin ? xr[i] : 0.0f;
            }
            if (xform) {
              for (std::int64_t j = 0; j < nc; ++j) dst[j] = conv1d_input_transform(a, dst[j]);
            }
          }
        });
        g.b = col.data();
        g.ldb = nc;
      }
      PARLEY_RETURN_IF_ERROR(gemm(g, ctx));
    }
    finish_rows(a, pool, yb, a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr, cout, lout);
  }
  return Status::ok();
}

Status conv_transposed(const Conv1dArgs& a, std::int64_t lout, const ExecContext& ctx) {
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t cin = a.in_channels, cout = a.out_channels, ks = a.kernel_size, lin = a.in_length;
  const std::int64_t ncol = cout * ks;  // W is [cin, cout, ks] = [K = cin, N = cout*ks] row-major
  const float* x = static_cast<const float*>(a.x);
  const float* w = static_cast<const float*>(a.w);
  float* y = static_cast<float*>(a.y);
  const std::int64_t chunk = std::max<std::int64_t>(64, (std::int64_t{1} << 18) / std::max<std::int64_t>(ncol, 1));
  std::vector<float> xt(static_cast<std::size_t>(std::min(chunk, lin) * cin));
  std::vector<float> col(static_cast<std::size_t>(std::min(chunk, lin) * ncol));
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* xb = x + b * cin * lin;
    float* yb = y + b * cout * lout;
    init_rows(yb, cout, lout, a.bias);
    for (std::int64_t t0 = 0; t0 < lin; t0 += chunk) {
      const std::int64_t nt = std::min(chunk, lin - t0);
      // x^T rows for this chunk: xt[t, c] = x[c, t0 + t].
      for (std::int64_t c = 0; c < cin; ++c) {
        for (std::int64_t t = 0; t < nt; ++t) xt[static_cast<std::size_t>(t * cin + c)] = xb[c * lin + t0 + t];
      }
      if (conv1d_has_input_transform(a)) {
        for (std::int64_t i = 0; i < nt * cin; ++i) xt[static_cast<std::size_t>(i)] = conv1d_input_transform(a, xt[static_cast<std::size_t>(i)]);
      }
      GemmArgs g;
      g.m = nt;
      g.n = ncol;
      g.k = cin;
      g.a = xt.data();
      g.lda = cin;
      g.b = w;
      g.ldb = ncol;
      g.b_transposed = false;
      g.c = col.data();
      g.ldc = ncol;
      PARLEY_RETURN_IF_ERROR(gemm(g, ctx));
      // col2im: y[co, (t0+t)*stride - padding + k*dilation] += col[t, co*ks + k]; rows of y are
      // independent, so output channels run in parallel without conflicts.
      pool.parallel_for(cout, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t co = c0; co < c1; ++co) {
          float* yr = yb + co * lout;
          for (std::int64_t t = 0; t < nt; ++t) {
            const float* cr = col.data() + t * ncol + co * ks;
            const std::int64_t base = (t0 + t) * a.stride - a.padding;
            for (std::int64_t k = 0; k < ks; ++k) {
              const std::int64_t o = base + k * a.dilation;
              if (o >= 0 && o < lout) yr[o] += cr[k];
            }
          }
        }
      });
    }
    finish_rows(a, pool, yb, a.residual ? static_cast<const float*>(a.residual) + b * cout * lout : nullptr, cout, lout);
  }
  return Status::ok();
}

}  // namespace

Status conv1d_gemm(const Conv1dArgs& a, std::int64_t lout, const ExecContext& ctx) {
  return a.transposed ? conv_transposed(a, lout, ctx) : conv_forward(a, lout, ctx);
}

}  // namespace parley::kernels::cpu
