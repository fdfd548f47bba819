// ONNX-style affine (zero-point) quantization: QuantizeLinear, DequantizeLinear and the two fused
// into one float -> float round trip, per tensor or per channel, uint8 / int8 (and int32 input).
// Why: QDQ-quantized ONNX models (smart-turn's end-of-turn model) carry uint8 activations with
// zero points and int8 per-channel weights; the symmetric int8 ops of quantize.h cannot express
// them. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// The quantized element type: uint8 [0, 255], int8 [-128, 127], int32 (dequantize input only).
enum class AffineType : std::uint8_t { kU8 = 0, kI8 = 1, kI32 = 2 };
std::string_view affine_type_name(AffineType t);

/// kQuantize:   y[q_type] = saturate(round_half_even(x / scale[c]) + zero_point[c])
/// kDequantize: y[f32]    = (x[q_type] - zero_point[c]) * scale[c]
/// kRoundTrip:  y[f32]    = dequantize(quantize(x)) in one pass (a QuantizeLinear whose only
///              readers are DequantizeLinears with the same scale and zero point).
enum class AffineMode : std::uint8_t { kQuantize = 0, kDequantize = 1, kRoundTrip = 2 };

/// x and y are contiguous [outer, channels, inner]; element (o, c, i) uses scale[c] and
/// zero_point[c] (channels = 1: per tensor). zero_point has q_type elements (nullptr = 0).
/// y may alias x only for kRoundTrip. Empty sizes are valid and do nothing.
struct AffineQuantizeArgs {
  AffineMode mode = AffineMode::kQuantize;
  AffineType q_type = AffineType::kU8;
  std::int64_t outer = 0, channels = 1, inner = 0;
  const void* x = nullptr;
  void* y = nullptr;
  const float* scale = nullptr;
  const void* zero_point = nullptr;
};

Status validate(const AffineQuantizeArgs& args);

namespace cpu {
Status affine_quantize(const AffineQuantizeArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
