// CPU masked, scaled softmax, row-parallel (f32 rows on AVX-512 CPUs: pointwise_avx512.cc). Why: see ops/softmax.h.
// Depends on ops/softmax.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {

Status softmax(const SoftmaxArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (a.dtype == DType::kF32 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::softmax_f32_avx512(a, pool);
    return Status::ok();
  }
  const std::int64_t n = a.cols;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / n), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> z(static_cast<std::size_t>(n));
    for (std::int64_t r = r0; r < r1; ++r) {
      load_row(offset_f(a.x, a.dtype, r * a.ldx), a.dtype, n, z.data());
      const float* mask = a.mask ? a.mask + ((r / a.mask_row_div) % a.mask_rows) * a.ld_mask : nullptr;
      std::int64_t limit = n;  // keys [limit, n) are causally masked
      if (a.causal) limit = std::clamp<std::int64_t>((r % a.causal_queries) + a.causal_offset + 1, 0, n);
      float mx = neg_inf;
      for (std::int64_t j = 0; j < n; ++j) {
        float v = a.scale * z[static_cast<std::size_t>(j)];
        if (mask) v += mask[j];
        if (j >= limit) v = neg_inf;
        z[static_cast<std::size_t>(j)] = v;
        mx = std::max(mx, v);
      }
      if (mx == neg_inf) {
        std::fill(z.begin(), z.end(), 0.0f);
      } else {
        float sum = 0.0f;
        for (std::int64_t j = 0; j < n; ++j) {
          const float e = std::exp(z[static_cast<std::size_t>(j)] - mx);
          z[static_cast<std::size_t>(j)] = e;
          sum += e;
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < n; ++j) z[static_cast<std::size_t>(j)] *= inv;
      }
      store_row(z.data(), n, offset_f(a.y, a.dtype, r * a.ldy), a.dtype);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
