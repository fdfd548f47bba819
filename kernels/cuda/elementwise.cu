// Element-wise kernels: activations (plain and gated) and the in-place GEMM bias/activation
// epilogue. Grid-stride loops over rows x cols; every index is checked against rows*cols.
// Depends on cuda_utils.cuh, activation.h, gemm_epilogue.h.
#include "kernels/cuda/activation.h"
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/gemm_epilogue.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

template <typename T>
__global__ void activation_kernel(Activation act, std::int64_t rows, std::int64_t cols,
                                  const T* x, std::int64_t ldx, const T* gate, std::int64_t ldg,
                                  T* y, std::int64_t ldy) {
  const std::int64_t total = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i - r * cols;
    const float xv = to_f32(x[r * ldx + c]);
    const float out = gate != nullptr ? activate(act, to_f32(gate[r * ldg + c])) * xv : activate(act, xv);
    y[r * ldy + c] = from_f32<T>(out);
  }
}

template <typename T>
__global__ void bias_act_kernel(T* c, std::int64_t m, std::int64_t n, std::int64_t ldc,
                                float pre_scale, const float* bias, Activation act) {
  const std::int64_t total = m * n;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / n, col = i - r * n;
    float v = pre_scale != 0.0f ? to_f32(c[r * ldc + col]) * pre_scale : 0.0f;
    if (bias != nullptr) v += bias[col];
    c[r * ldc + col] = from_f32<T>(activate(act, v));
  }
}

}  // namespace

Status launch_activation(const ActivationArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    activation_kernel<T><<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(
        a.activation, a.rows, a.cols, static_cast<const T*>(a.x), a.ldx,
        static_cast<const T*>(a.gate), a.ld_gate, static_cast<T*>(a.y), a.ldy);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

Status launch_bias_act_inplace(void* c, engine::DType c_type, std::int64_t m, std::int64_t n,
                               std::int64_t ldc, float pre_scale, const float* bias, Activation act,
                               cudaStream_t stream) {
  if (m == 0 || n == 0) return Status::ok();
  if (c == nullptr || ldc < n) return invalid_argument("bias_act: bad output");
  return dispatch_float(c_type, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    bias_act_kernel<T><<<grid_for(m * n, kThreads), kThreads, 0, stream>>>(static_cast<T*>(c), m, n, ldc,
                                                                          pre_scale, bias, act);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
