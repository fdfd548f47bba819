// Device side of the fused GEMM epilogue: activation math and the dequantize-store of one
// accumulator. Device code only. Depends on cuda_utils.cuh, gemm_types.h.
#pragma once

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/gemm_types.h"

namespace parley::kernels::cuda {

__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_tanh(float x) {
  const float k0 = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(k0 * (x + 0.044715f * x * x * x)));
}

__device__ __forceinline__ float silu(float x) { return x / (1.0f + __expf(-x)); }

__device__ __forceinline__ float apply_act(float v, EpilogueAct act) {
  switch (act) {
    case EpilogueAct::kRelu:
      return fmaxf(v, 0.0f);
    case EpilogueAct::kGeluErf:
      return gelu_erf(v);
    case EpilogueAct::kGeluTanh:
      return gelu_tanh(v);
    case EpilogueAct::kSilu:
      return silu(v);
    case EpilogueAct::kNone:
      break;
  }
  return v;
}

__device__ __forceinline__ void store_elem(void* base, ElemType t, std::int64_t idx, float v) {
  switch (t) {
    case ElemType::kF32:
      static_cast<float*>(base)[idx] = v;
      break;
    case ElemType::kF16:
      static_cast<__half*>(base)[idx] = __float2half_rn(v);
      break;
    case ElemType::kBF16:
      static_cast<__nv_bfloat16*>(base)[idx] = __float2bfloat16_rn(v);
      break;
  }
}

/// Dequantizes and stores one int32 accumulator at (row m, column n). Caller checks bounds.
__device__ __forceinline__ void epilogue_store(const DequantEpilogue& e, std::int64_t ldo,
                                               std::int64_t m, std::int64_t n, std::int32_t acc) {
  const float ws = e.w_scale != nullptr ? e.w_scale[e.w_per_tensor ? 0 : n] : e.w_scale_scalar;
  const float xs = e.x_scale != nullptr ? e.x_scale[e.x_per_tensor ? 0 : m] : e.x_scale_scalar;
  float v = static_cast<float>(acc) * ws * xs;
  if (e.bias != nullptr) v += e.bias[n];
  store_elem(e.out, e.out_type, m * ldo + n, apply_act(v, e.act));
}

}  // namespace parley::kernels::cuda
