// Strided n-d copy of elements of any size (transpose, slice, expand/broadcast, concat, pad,
// split, fill). Why: graph models move data between layouts constantly; one op with source and
// destination strides covers all of them on every backend. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

inline constexpr int kCopyMaxRank = 8;

/// dst[i] = src[i] for every index i of `dims`, addresses = base + sum(i_d * stride_d) * elem_bytes.
/// Strides in ELEMENTS and may be negative (reversed slices) or 0 on the source (broadcast; all
/// zero = fill from one element). Destination elements must not overlap each other, nor the
/// source. Empty dims are valid and do nothing.
struct StridedCopyArgs {
  int rank = 0;
  std::int64_t dims[kCopyMaxRank] = {};
  std::int64_t elem_bytes = 4;
  const void* src = nullptr;
  std::int64_t src_strides[kCopyMaxRank] = {};
  void* dst = nullptr;
  std::int64_t dst_strides[kCopyMaxRank] = {};
};

Status validate(const StridedCopyArgs& args);

namespace cpu {
Status strided_copy(const StridedCopyArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
