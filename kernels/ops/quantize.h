// Quantize / dequantize: symmetric int8 (per tensor, per row = per token or per output channel,
// per column) and GGUF blocks Q8_0, Q4_0, Q4_1 (bit-exact with ggml's reference quantizers).
// Why: INT8 engines quantize weights once at load and activations per token at run time; GGUF
// LMs arrive block-quantized. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Which values share one scale. kPerRow: one per row (per token for activations [M,K], per
/// output channel for weights [N,K]); kPerColumn: one per column (weights stored [K,N]).
enum class QuantGranularity : std::uint8_t { kPerTensor = 0, kPerRow = 1, kPerColumn = 2 };

/// Symmetric int8:  scale = absmax / 127 over the group (computed when compute_scales, else read
/// from `scales`);  inv = scale > 0 ? 1/scale : 0  (f32);  q = clamp(rne(x * inv), -127, 127)
/// with rne = round half to even. Never produces -128. x_type f32, f16, bf16.
/// scales: 1 (per tensor), rows (per row) or cols (per column) floats; written when
/// compute_scales, read otherwise (static activation scales).
struct QuantizeArgs {
  std::int64_t rows = 0, cols = 0;
  const void* x = nullptr;
  std::int64_t ldx = 0;
  DType x_type = DType::kF32;
  std::int8_t* y = nullptr;
  std::int64_t ldy = 0;
  float* scales = nullptr;
  QuantGranularity granularity = QuantGranularity::kPerRow;
  bool compute_scales = true;
};

/// y = q * scale (granularity as above). y_type f32, f16, bf16.
struct DequantizeArgs {
  std::int64_t rows = 0, cols = 0;
  const std::int8_t* x = nullptr;
  std::int64_t ldx = 0;
  const float* scales = nullptr;
  QuantGranularity granularity = QuantGranularity::kPerRow;
  void* y = nullptr;
  std::int64_t ldy = 0;
  DType y_type = DType::kF32;
};

/// GGUF block formats (32 values per block, little-endian, no padding; identical to ggml):
///   Q8_0 (34 B): f16 d; int8 qs[32].         x = d * qs[i].     d = absmax/127, qs = roundf(x/d)
///   Q4_0 (18 B): f16 d; uint8 qs[16].        x[i] = d * ((qs[i] & 15) - 8), x[i+16] = d * ((qs[i] >> 4) - 8)
///                d = m / -8 where m is the value of largest magnitude; q = min(15, (int8)(x/d + 8.5))
///   Q4_1 (20 B): f16 d; f16 m; uint8 qs[16]. x[i] = d * (qs[i] & 15) + m, x[i+16] = d * (qs[i] >> 4) + m
///                d = (max - min)/15, m = min; q = min(15, (int8)((x - min)/d + 0.5))
/// (low nibbles hold the first 16 values of the block, high nibbles the last 16).
/// cols % 32 == 0. Row r of the quantized matrix starts at byte r * row_bytes (0 = dense).
struct GgufQuantizeArgs {
  std::int64_t rows = 0, cols = 0;
  const float* x = nullptr;
  std::int64_t ldx = 0;
  DType type = DType::kQ8_0;
  void* y = nullptr;
  std::int64_t y_row_bytes = 0;
};

struct GgufDequantizeArgs {
  std::int64_t rows = 0, cols = 0;
  const void* x = nullptr;
  std::int64_t x_row_bytes = 0;
  DType type = DType::kQ8_0;
  void* y = nullptr;
  std::int64_t ldy = 0;
  DType y_type = DType::kF32;  ///< f32, f16, bf16
};

Status validate(const QuantizeArgs& args);
Status validate(const DequantizeArgs& args);
Status validate(const GgufQuantizeArgs& args);
Status validate(const GgufDequantizeArgs& args);

namespace cpu {
Status quantize(const QuantizeArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status dequantize(const DequantizeArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status gguf_quantize(const GgufQuantizeArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status gguf_dequantize(const GgufDequantizeArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
