// f32 -> bf16 rounding of activations for the CUDA bf16 linear (see bf16_linear.h); round to
// nearest even like the CPU packer and kernels. Depends on cuda_utils.cuh.
#include "kernels/cuda/bf16_linear.h"
#include "kernels/cuda/cuda_utils.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

__global__ void f32_to_bf16_kernel(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols,
                                   __nv_bfloat16* y, std::int64_t ldy) {
  const std::int64_t total = rows * cols;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = e / cols, c = e - r * cols;
    y[r * ldy + c] = __float2bfloat16_rn(x[r * ldx + c]);
  }
}

}  // namespace

Status launch_f32_to_bf16(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, void* y,
                          std::int64_t ldy, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return Status::ok();
  f32_to_bf16_kernel<<<grid_for(rows * cols, 256), 256, 0, stream>>>(x, ldx, rows, cols,
                                                                    static_cast<__nv_bfloat16*>(y), ldy);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
