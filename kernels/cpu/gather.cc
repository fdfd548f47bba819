// CPU Gather / GatherElements / GatherND / ScatterND (see ops/gather.h). Why: index-driven data
// movement in graph models; every index is checked first so a bad one is an OutOfRange naming
// its position, never a read outside the tensor. Depends on ops/gather.h, thread_pool.h.
#include "kernels/ops/gather.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

// Normalises a possibly negative index against `dim`; false when out of range.
bool norm_index(std::int64_t& i, std::int64_t dim) {
  if (i < 0) i += dim;
  return i >= 0 && i < dim;
}

Status bad_index(const char* op, std::int64_t pos, std::int64_t value, std::int64_t dim) {
  return out_of_range(std::string(op) + ": index " + std::to_string(value) + " at position " + std::to_string(pos) +
                      " is outside [-" + std::to_string(dim) + ", " + std::to_string(dim) + ")");
}

}  // namespace

Status gather(const GatherArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t eb = a.elem_bytes;
  const char* x = static_cast<const char*>(a.x);
  char* y = static_cast<char*>(a.y);
  switch (a.kind) {
    case GatherKind::kGather: {
      for (std::int64_t j = 0; j < a.n; ++j) {
        std::int64_t i = a.indices[j];
        if (!norm_index(i, a.axis_dim)) return bad_index("Gather", j, a.indices[j], a.axis_dim);
      }
      const std::int64_t row = a.inner * eb;
      pool.parallel_for(a.outer * a.n, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(row, 1)),
                        [&](std::int64_t t0, std::int64_t t1) {
                          for (std::int64_t t = t0; t < t1; ++t) {
                            const std::int64_t o = t / a.n, j = t % a.n;
                            std::int64_t i = a.indices[j];
                            if (i < 0) i += a.axis_dim;
                            std::memcpy(y + t * row, x + (o * a.axis_dim + i) * row, static_cast<std::size_t>(row));
                          }
                        });
      return Status::ok();
    }
    case GatherKind::kGatherElements: {
      std::int64_t total = 1, xs[kGatherMaxRank], is[kGatherMaxRank];
      for (int d = 0; d < a.rank; ++d) total *= a.idx_dims[d];
      xs[a.rank - 1] = 1;
      for (int d = a.rank - 2; d >= 0; --d) xs[d] = xs[d + 1] * a.x_dims[d + 1];
      is[a.rank - 1] = 1;
      for (int d = a.rank - 2; d >= 0; --d) is[d] = is[d + 1] * a.idx_dims[d + 1];
      for (std::int64_t p = 0; p < total; ++p) {
        std::int64_t i = a.indices[p];
        if (!norm_index(i, a.x_dims[a.axis])) return bad_index("GatherElements", p, a.indices[p], a.x_dims[a.axis]);
      }
      for (std::int64_t p = 0; p < total; ++p) {
        std::int64_t off = 0, rem = p;
        for (int d = 0; d < a.rank; ++d) {
          const std::int64_t c = rem / is[d];
          rem %= is[d];
          if (d == a.axis) {
            std::int64_t i = a.indices[p];
            if (i < 0) i += a.x_dims[d];
            off += i * xs[d];
          } else {
            off += c * xs[d];
          }
        }
        std::memcpy(y + p * eb, x + off * eb, static_cast<std::size_t>(eb));
      }
      return Status::ok();
    }
    case GatherKind::kGatherNd:
    case GatherKind::kScatterNd: {
      // x (or y for scatter) per batch: [x_dims[0..rank), inner]; indices [outer, n, rank].
      std::int64_t slab = a.inner;
      for (int d = 0; d < a.rank; ++d) slab *= a.x_dims[d];
      const char* op = a.kind == GatherKind::kGatherNd ? "GatherND" : "ScatterND";
      for (std::int64_t t = 0; t < a.outer * a.n; ++t) {
        for (int d = 0; d < a.rank; ++d) {
          std::int64_t i = a.indices[t * a.rank + d];
          if (!norm_index(i, a.x_dims[d])) return bad_index(op, t * a.rank + d, a.indices[t * a.rank + d], a.x_dims[d]);
        }
      }
      const std::int64_t row = a.inner * eb;
      for (std::int64_t t = 0; t < a.outer * a.n; ++t) {
        const std::int64_t b = t / a.n;
        std::int64_t off = 0;
        for (int d = 0; d < a.rank; ++d) {
          std::int64_t i = a.indices[t * a.rank + d];
          if (i < 0) i += a.x_dims[d];
          off = off * a.x_dims[d] + i;
        }
        const std::int64_t pos = (b * slab + off * a.inner) * eb;
        if (a.kind == GatherKind::kGatherNd) {
          std::memcpy(y + t * row, x + pos, static_cast<std::size_t>(row));
        } else {
          std::memcpy(y + pos, x + t * row, static_cast<std::size_t>(row));
        }
      }
      return Status::ok();
    }
  }
  return invalid_argument("gather: unknown kind");
}

}  // namespace parley::kernels::cpu
