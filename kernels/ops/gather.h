// Index-driven data movement: Gather along an axis, GatherElements, GatherND and ScatterND
// (ONNX semantics), on elements of any size with int64 indices. Why: embedding lookups,
// alignment paths and spline bins in graph models; indices come from the data, so every index
// is checked (negative ones count from the end) and a bad one is an OutOfRange naming it.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

inline constexpr int kGatherMaxRank = 8;

enum class GatherKind : std::uint8_t { kGather = 0, kGatherElements, kGatherNd, kScatterNd };

/// kGather:         x viewed as [outer, axis_dim, inner], indices [n] (any shape flattened):
///                  y [outer, n, inner] = x[o, idx[j], i].
/// kGatherElements: x dims x_dims[rank], indices and y dims idx_dims[rank] (contiguous):
///                  y[p] = x[p with coordinate `axis` replaced by idx[p]].
/// kGatherNd:       x viewed as [batch, x_dims...] where the first batch_dims dims of x_dims
///                  are batch dims; indices [batch, n, k]; each index tuple of k coordinates
///                  selects a slice of `inner` elements: y [batch, n, inner]. Here x_dims holds
///                  the k indexed dims (after the batch dims), inner the product of the rest,
///                  outer = batch (rank = k).
/// kScatterNd:      y (already a copy of data) dims x_dims[rank]; indices [n, k]; updates
///                  [n, inner]: y[idx tuple] slice = updates[j] (reduction none; later tuples win).
struct GatherArgs {
  GatherKind kind = GatherKind::kGather;
  std::int64_t elem_bytes = 4;
  int rank = 0;
  std::int64_t x_dims[kGatherMaxRank] = {};
  std::int64_t idx_dims[kGatherMaxRank] = {};
  int axis = 0;
  std::int64_t outer = 1, axis_dim = 0, inner = 1, n = 0;
  const void* x = nullptr;          ///< source (kScatterNd: updates)
  const std::int64_t* indices = nullptr;
  void* y = nullptr;
};

Status validate(const GatherArgs& args);

namespace cpu {
Status gather(const GatherArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
