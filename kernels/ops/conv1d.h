// 1-D convolution and transposed convolution (stride, padding, dilation, groups), with fused
// bias + activation. Why: audio models (ASR front ends, HiFi-GAN/VITS vocoders) are built from them.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// PyTorch semantics and layouts (all contiguous):
///   x: [batch, in_channels, in_length]
///   conv:       w [out_channels, in_channels/groups, kernel_size]
///               out_length = (in_length + 2*padding - dilation*(kernel_size-1) - 1)/stride + 1
///   transposed: w [in_channels, out_channels/groups, kernel_size]
///               out_length = (in_length-1)*stride - 2*padding + dilation*(kernel_size-1)
///                            + output_padding + 1
///   y: [batch, out_channels, out_length] = act(conv(f(x), w) + bias + residual)
/// x, w, y share dtype (f32, f16, bf16); accumulation f32; bias f32 [out_channels] or nullptr.
/// in_channels and out_channels must be multiples of groups; output_padding < max(stride, dilation).
/// Fusions (the element-wise ops vocoders put around every convolution, applied where the kernel
/// copies or stores anyway, so they cost no pass over memory of their own):
///   f(x) = x * input_scale, then LeakyReLU with slope input_slope when input_leaky (identity by
///          default; padding positions stay 0, as f(0) = 0);
///   residual: y-shaped, y's dtype, added after the bias (nullptr = none; must not alias y).
struct Conv1dArgs {
  bool transposed = false;
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, in_length = 0, kernel_size = 0;
  std::int64_t stride = 1, padding = 0, dilation = 1, groups = 1, output_padding = 0;
  DType dtype = DType::kF32;
  const void* x = nullptr;
  const void* w = nullptr;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  void* y = nullptr;
  bool input_leaky = false;
  float input_slope = 0.0f;
  float input_scale = 1.0f;
  const void* residual = nullptr;
};

/// f(x) of the input transform above (scalar; the kernels vectorize the same formula).
inline float conv1d_input_transform(const Conv1dArgs& a, float v) {
  v *= a.input_scale;
  return a.input_leaky && v < 0.0f ? v * a.input_slope : v;
}
inline bool conv1d_has_input_transform(const Conv1dArgs& a) { return a.input_leaky || a.input_scale != 1.0f; }

/// out_length by the formulas above (may be <= 0 for bad arguments; validate() rejects those).
std::int64_t conv1d_output_length(const Conv1dArgs& args);

Status validate(const Conv1dArgs& args);

namespace cpu {
Status conv1d(const Conv1dArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
