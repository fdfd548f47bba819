// Reductions and scans along one axis of a [outer, n, inner] view: sum, mean, max, min, prod,
// sum of squares, cumulative sum. Why: normalisation statistics (ReduceMean), masks and lengths
// (ReduceSum/ReduceMax) and alignment paths (CumSum) in graph models. Depends on
// kernels/ops/common.h, kernels/ops/elementwise.h (ElemType).
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"
#include "kernels/ops/elementwise.h"

namespace parley::kernels {

enum class ReduceKind : std::uint8_t { kSum = 0, kMean, kMax, kMin, kProd, kSumSquare, kCumSum };

/// x: [outer, n, inner] contiguous. Reductions write y [outer, inner] (n == 0: the identity of
/// the reduction; mean of nothing is NaN). kCumSum writes y [outer, n, inner] with the running
/// sum along n (exclusive: shifted by one, starting at 0; reverse: from the end).
/// Types: f32 (accumulated in f64) or i64; x and y share the type.
struct ReduceArgs {
  ReduceKind kind = ReduceKind::kSum;
  std::int64_t outer = 0, n = 0, inner = 0;
  ElemType type = ElemType::kF32;
  const void* x = nullptr;
  void* y = nullptr;
  bool exclusive = false;  ///< kCumSum only
  bool reverse = false;    ///< kCumSum only
};

Status validate(const ReduceArgs& args);

namespace cpu {
Status reduce(const ReduceArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
