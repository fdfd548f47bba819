// CPU reductions and cumulative sums along one axis (see ops/reduce.h). Why: graph models'
// ReduceMean/Sum/Max and CumSum. Parallel over outer x inner; the reduced axis is walked with
// stride `inner`. Depends on ops/reduce.h, thread_pool.h.
#include "kernels/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

template <typename T, typename Acc>
void reduce_one(const ReduceArgs& a, const T* x, T* y, std::int64_t o, std::int64_t i) {
  const T* p = x + o * a.n * a.inner + i;
  if (a.kind == ReduceKind::kCumSum) {
    T* q = y + o * a.n * a.inner + i;
    Acc run = 0;
    for (std::int64_t j = 0; j < a.n; ++j) {
      const std::int64_t jj = a.reverse ? a.n - 1 - j : j;
      const T v = p[jj * a.inner];
      if (a.exclusive) {
        q[jj * a.inner] = static_cast<T>(run);
        run += v;
      } else {
        run += v;
        q[jj * a.inner] = static_cast<T>(run);
      }
    }
    return;
  }
  Acc acc;
  switch (a.kind) {
    case ReduceKind::kMax: acc = std::numeric_limits<Acc>::lowest(); break;
    case ReduceKind::kMin: acc = std::numeric_limits<Acc>::max(); break;
    case ReduceKind::kProd: acc = 1; break;
    default: acc = 0;
  }
  if constexpr (std::is_floating_point_v<Acc>) {
    if (a.n > 0 && (a.kind == ReduceKind::kMax || a.kind == ReduceKind::kMin)) acc = static_cast<Acc>(p[0]);
  }
  for (std::int64_t j = 0; j < a.n; ++j) {
    const Acc v = static_cast<Acc>(p[j * a.inner]);
    switch (a.kind) {
      case ReduceKind::kMax: acc = v > acc || v != v ? v : acc; break;
      case ReduceKind::kMin: acc = v < acc || v != v ? v : acc; break;
      case ReduceKind::kProd: acc *= v; break;
      case ReduceKind::kSumSquare: acc += v * v; break;
      default: acc += v;
    }
  }
  if (a.kind == ReduceKind::kMean) {
    if constexpr (std::is_floating_point_v<Acc>) {
      acc = a.n == 0 ? std::numeric_limits<Acc>::quiet_NaN() : acc / static_cast<Acc>(a.n);
    } else {
      acc = a.n == 0 ? 0 : acc / a.n;
    }
  }
  y[o * a.inner + i] = static_cast<T>(acc);
}

}  // namespace

Status reduce(const ReduceArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t tasks = a.outer * a.inner;
  if (tasks == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t grain = std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, a.n));
  pool.parallel_for(tasks, grain, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t o = t / a.inner, i = t % a.inner;
      if (a.type == ElemType::kF32) {
        reduce_one<float, double>(a, static_cast<const float*>(a.x), static_cast<float*>(a.y), o, i);
      } else {
        reduce_one<std::int64_t, std::int64_t>(a, static_cast<const std::int64_t*>(a.x), static_cast<std::int64_t*>(a.y), o, i);
      }
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
