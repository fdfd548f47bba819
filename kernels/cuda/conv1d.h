// CUDA 1-D convolution and transposed convolution with bias + activation: one thread per output.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/conv1d.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_conv1d(const Conv1dArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
