// CUDA GELU (erf/tanh), SiLU, ReLU and the gated forms (SwiGLU, GeGLU), element-wise.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/activation.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_activation(const ActivationArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
