// Host-visible parameter types shared by the CUDA GEMM paths (INT8 dequant epilogue, own INT8
// fallback GEMM, 2:4 sparse GEMM). No device code: included by host and .cu files alike.
// Depends on nothing but <cstdint>.
#pragma once

#include <cstdint>

namespace parley::kernels::cuda {

/// Element types of activations the CUDA kernels read and write.
enum class ElemType : std::uint8_t { kF32, kF16, kBF16 };

/// Activation applied in a fused epilogue.
enum class EpilogueAct : std::uint8_t { kNone, kRelu, kGeluErf, kGeluTanh, kSilu };

/// out[m, n] = act(acc[m, n] * w_scale[n] * x_scale[m] + bias[n]), written as `out_type`.
/// A null scale pointer means "use the scalar"; a null bias means no bias. Row stride of out is
/// `ldo` elements (0 = N). Scales and bias are f32.
struct DequantEpilogue {
  const float* w_scale = nullptr;  ///< [N] per output channel, or [1] when w_per_tensor
  bool w_per_tensor = false;
  float w_scale_scalar = 1.0f;     ///< used when w_scale is null (host value)
  const float* x_scale = nullptr;  ///< [M] per token, or [1] when x_per_tensor
  bool x_per_tensor = false;
  float x_scale_scalar = 1.0f;
  const float* bias = nullptr;     ///< [N]
  EpilogueAct act = EpilogueAct::kNone;
  void* out = nullptr;
  ElemType out_type = ElemType::kF32;
  std::int64_t ldo = 0;
};

}  // namespace parley::kernels::cuda
