// CPU LayerNorm / RMSNorm with fused residual add, row-parallel, f32 statistics (two-pass);
// f32 rows on AVX-512 CPUs go to encoder_ops_avx512.cc.
// Why: see ops/norm.h. Depends on ops/norm.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {

Status norm(const NormArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (a.dtype == DType::kF32 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::norm_f32_avx512(a, pool);
    return Status::ok();
  }
  const std::int64_t n = a.cols;
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / n);
  pool.parallel_for(a.rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> h(static_cast<std::size_t>(n)), tmp;
    if (a.residual) tmp.resize(static_cast<std::size_t>(n));
    for (std::int64_t r = r0; r < r1; ++r) {
      load_row(offset_f(a.x, a.dtype, r * a.ldx), a.dtype, n, h.data());
      if (a.residual) {
        load_row(offset_f(a.residual, a.dtype, r * a.ld_residual), a.dtype, n, tmp.data());
        for (std::int64_t j = 0; j < n; ++j) h[static_cast<std::size_t>(j)] += tmp[static_cast<std::size_t>(j)];
      }
      if (a.residual_out) store_row(h.data(), n, offset_f(a.residual_out, a.dtype, r * a.ld_residual_out), a.dtype);
      // Round h as stored when the residual stream is f16/bf16, so y normalizes what the next
      // block adds to (matches what a separate add + norm would do).
      if (a.residual_out && a.dtype != DType::kF32) {
        for (std::int64_t j = 0; j < n; ++j) h[static_cast<std::size_t>(j)] = round_to(a.dtype, h[static_cast<std::size_t>(j)]);
      }
      float mean = 0.0f;
      if (a.kind == NormKind::kLayerNorm) {
        const float* hp = h.data();
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (std::int64_t j = 0; j < n; ++j) s += hp[j];
        mean = s / static_cast<float>(n);
      }
      const float* hp = h.data();
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (std::int64_t j = 0; j < n; ++j) ss += (hp[j] - mean) * (hp[j] - mean);
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + a.eps);
      for (std::int64_t j = 0; j < n; ++j) {
        float v = (h[static_cast<std::size_t>(j)] - mean) * inv;
        if (a.gamma) v *= a.gamma[j];
        if (a.kind == NormKind::kLayerNorm && a.beta) v += a.beta[j];
        h[static_cast<std::size_t>(j)] = v;
      }
      store_row(h.data(), n, offset_f(a.y, a.dtype, r * a.ldy), a.dtype);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
