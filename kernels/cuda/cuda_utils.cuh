// Device helpers shared by the CUDA kernels: element load/store as float, warp/block reductions,
// grid sizing. Device code only; included by .cu files, never by public headers.
// Depends on cuda_fp16.h, cuda_bf16.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace parley::kernels::cuda {

/// Element types our templated kernels take: float, __half, __nv_bfloat16. Arithmetic is f32.
template <typename T>
__device__ __forceinline__ float to_f32(T v);
template <>
__device__ __forceinline__ float to_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_f32<__half>(__half v) {
  return __half2float(v);
}
template <>
__device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// Sum over the block; every thread gets the result. `scratch` holds >= 32 floats; blockDim.x
/// must be a multiple of 32. Contains __syncthreads: call from all threads.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(total);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(m);
}

/// Grid size for a grid-stride loop over n elements, capped to keep launches cheap.
inline unsigned grid_for(std::int64_t n, int threads, unsigned cap = 65535u) {
  const std::int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) return 1u;
  return blocks > static_cast<std::int64_t>(cap) ? cap : static_cast<unsigned>(blocks);
}

}  // namespace parley::kernels::cuda

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// Calls f(T{}) with T = float, __half or __nv_bfloat16 for a float DType; UNIMPLEMENTED otherwise.
template <typename F>
Status dispatch_float(engine::DType t, F&& f) {
  switch (t) {
    case engine::DType::kF32:
      return f(float{});
    case engine::DType::kF16:
      return f(__half{});
    case engine::DType::kBF16:
      return f(__nv_bfloat16{});
    default:
      return unimplemented("CUDA kernel: dtype must be f32, f16 or bf16");
  }
}

/// Same activation math as kernels::activation_ref (f32).
__device__ __forceinline__ float activate(Activation a, float x) {
  switch (a) {
    case Activation::kRelu:
      return fmaxf(x, 0.0f);
    case Activation::kGeluErf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::kGeluTanh:
      return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Activation::kSilu:
      return x / (1.0f + expf(-x));
    case Activation::kNone:
      break;
  }
  return x;
}

}  // namespace parley::kernels::cuda
