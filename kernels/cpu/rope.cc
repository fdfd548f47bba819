// CPU rotary embeddings (half and interleaved pairing), token-parallel; angles in f64.
// Why: see ops/rope.h. Depends on ops/rope.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {

Status rope(const RopeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t rd = a.rotary_dim == 0 ? a.head_dim : a.rotary_dim;
  if (a.tokens == 0 || a.heads == 0 || rd == 0) return Status::ok();
  const std::int64_t half = rd / 2;
  std::vector<double> inv_freq(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    inv_freq[static_cast<std::size_t>(i)] =
        std::pow(static_cast<double>(a.theta), -2.0 * static_cast<double>(i) / static_cast<double>(rd));
  }
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.tokens, 16, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
    for (std::int64_t t = t0; t < t1; ++t) {
      const double pos = static_cast<double>(a.positions ? a.positions[t] : a.position_offset + t) *
                         static_cast<double>(a.position_scale);
      for (std::int64_t i = 0; i < half; ++i) {
        const double ang = pos * inv_freq[static_cast<std::size_t>(i)];
        cs[static_cast<std::size_t>(i)] = static_cast<float>(std::cos(ang));
        sn[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(ang));
      }
      for (std::int64_t h = 0; h < a.heads; ++h) {
        void* base = offset_f(a.x, a.dtype, t * a.token_stride + h * a.head_stride);
        for (std::int64_t i = 0; i < half; ++i) {
          const std::int64_t i0 = a.style == RopeStyle::kHalf ? i : 2 * i;
          const std::int64_t i1 = a.style == RopeStyle::kHalf ? i + half : 2 * i + 1;
          const float x0 = load_f(base, a.dtype, i0);
          const float x1 = load_f(base, a.dtype, i1);
          const float c = cs[static_cast<std::size_t>(i)], s = sn[static_cast<std::size_t>(i)];
          store_f(base, a.dtype, i0, x0 * c - x1 * s);
          store_f(base, a.dtype, i1, x0 * s + x1 * c);
        }
      }
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
