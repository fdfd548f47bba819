// CUDA side of the bf16 linear (kernels/ops/bf16_linear.h): the f32 -> bf16 activation rounding
// that runs before cuBLASLt's bf16 x bf16 -> f32 GEMM (the weights are packed at load as bf16
// [n, k]). Why: the GEMM itself is cuBLASLt's; only the conversion is ours. Depends on cudart
// types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// y[r, c] = bf16_rne(x[r, c]) for a rows x cols f32 matrix (row strides in elements); y is
/// __nv_bfloat16 storage.
Status launch_f32_to_bf16(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, void* y,
                          std::int64_t ldy, cudaStream_t stream);

}  // namespace parley::kernels::cuda
