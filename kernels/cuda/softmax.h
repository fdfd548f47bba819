// CUDA Masked, scaled, optionally causal softmax over rows: one block per row.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/softmax.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_softmax(const SoftmaxArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
