// CUDA In-place GEMM epilogue kernels: C = act(beta_pre * C + bias) for what cuBLASLt cannot fuse.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/common.h"
#include "kernels/cuda/gemm_types.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// c[M, N] (row stride ldc, dtype c_type) <- act(c * pre_scale + bias[n]); pre_scale 0 ignores c
/// (so NaN garbage in an unread C never leaks).
Status launch_bias_act_inplace(void* c, engine::DType c_type, std::int64_t m, std::int64_t n, std::int64_t ldc,
                               float pre_scale, const float* bias, Activation act, cudaStream_t stream);

}  // namespace parley::kernels::cuda
