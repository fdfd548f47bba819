// Conv1d / transposed conv1d (PyTorch semantics): one thread per output value, f32 accumulate,
// bias + activation fused, and the input transform / residual of ops/conv1d.h. Every input index is range-checked. Depends on cuda_utils.cuh, conv1d.h.
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/cuda_utils.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

// ops/conv1d.h's input transform f(x), on the device.
__device__ __forceinline__ float input_transform(const Conv1dArgs& a, float v) {
  v *= a.input_scale;
  return a.input_leaky && v < 0.0f ? v * a.input_slope : v;
}

template <typename T>
__global__ void conv1d_kernel(Conv1dArgs a, std::int64_t out_len) {
  const std::int64_t total = a.batch * a.out_channels * out_len;
  const std::int64_t cin_g = a.in_channels / a.groups;
  const std::int64_t cout_g = a.out_channels / a.groups;
  const T* x = static_cast<const T*>(a.x);
  const T* w = static_cast<const T*>(a.w);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = i % out_len;
    const std::int64_t oc = (i / out_len) % a.out_channels;
    const std::int64_t b = i / (out_len * a.out_channels);
    const std::int64_t grp = oc / cout_g;
    float acc = 0.0f;
    for (std::int64_t ci = 0; ci < cin_g; ++ci) {
      const std::int64_t ic = grp * cin_g + ci;
      const T* xr = x + (b * a.in_channels + ic) * a.in_length;
      for (std::int64_t k = 0; k < a.kernel_size; ++k) {
        if (!a.transposed) {
          const std::int64_t pos = t * a.stride - a.padding + k * a.dilation;
          if (pos < 0 || pos >= a.in_length) continue;
          acc += input_transform(a, to_f32(xr[pos])) * to_f32(w[(oc * cin_g + ci) * a.kernel_size + k]);
        } else {
          // y[t] gets x[s] * w[ic, oc_in_group, k] where s*stride - padding + k*dilation = t.
          const std::int64_t num = t + a.padding - k * a.dilation;
          if (num < 0 || num % a.stride != 0) continue;
          const std::int64_t s = num / a.stride;
          if (s >= a.in_length) continue;
          acc += input_transform(a, to_f32(xr[s])) * to_f32(w[(ic * cout_g + (oc - grp * cout_g)) * a.kernel_size + k]);
        }
      }
    }
    if (a.bias != nullptr) acc += a.bias[oc];
    if (a.residual != nullptr) acc += to_f32(static_cast<const T*>(a.residual)[i]);
    static_cast<T*>(a.y)[i] = from_f32<T>(activate(a.activation, acc));
  }
}

}  // namespace

Status launch_conv1d(const Conv1dArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t out_len = conv1d_output_length(a);
  const std::int64_t total = a.batch * a.out_channels * out_len;
  if (total <= 0) return Status::ok();
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    conv1d_kernel<T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(a, out_len);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
