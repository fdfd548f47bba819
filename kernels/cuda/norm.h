// CUDA LayerNorm / RMSNorm with fused residual add: one block per row, statistics in f32.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/norm.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_norm(const NormArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
