// Quantize / dequantize: symmetric int8 (per tensor, per row = per token or per output channel,
// per column) and GGUF blocks Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (bit-exact with ggml's reference
// quantizers) and Q2_K..Q6_K (ggml's layouts and dequantization; a direct quantizer).
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
///   Q5_0 (22 B): f16 d; uint32 qh; uint8 qs[16]. q[i] = (qs[i] & 15) | bit i of qh << 4, q[i+16] = (qs[i] >> 4) |
///                bit i+16 of qh << 4; x = d * (q - 16). d = m / -16, q = min(31, (int8)(x/d + 16.5))
///   Q5_1 (24 B): f16 d; f16 m; uint32 qh; uint8 qs[16]. q as Q5_0; x = d * q + m.
///                d = (max - min)/31, m = min; q = (uint8)((x - min)/d + 0.5)
/// (low nibbles hold the first 16 values of the block, high nibbles the last 16).
/// K-quants: 256-value super-blocks; values v = 0..255, h = v / 128, w = v % 128:
///   Q2_K (84 B):  uint8 sc[16]; uint8 qs[64]; f16 d; f16 dmin. q = qs[32h + w%32] >> 2(w/32) & 3,
///                 x = d * (sc[v/16] & 15) * q - dmin * (sc[v/16] >> 4)
///   Q3_K (110 B): uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; f16 d. low = as Q2_K's q,
///                 hi = hmask[v%32] >> (v/32) & 1; s(j) = 6-bit scale j (low 4 bits: nibble j%8 of
///                 bytes 0..7, low nibbles first; high 2 bits: bits 2(j/4) of byte 8 + j%4) - 32;
///                 x = d * s(v/16) * (low - (hi ? 0 : 4))
///   Q4_K (144 B): f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128]. Sub-block j = v/32 has 6-bit
///                 scale sc_j and min m_j (j < 4: sc = scales[j] & 63, m = scales[j+4] & 63; j >= 4:
///                 sc = scales[j+4] & 15 | (scales[j-4] >> 6) << 4, m = scales[j+4] >> 4 |
///                 (scales[j] >> 6) << 4); q = qs[32(j/2) + v%32] >> 4(j%2) & 15;
///                 x = (d * sc_j) * q - dmin * m_j
///   Q5_K (176 B): f16 d; f16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]. As Q4_K with
///                 q |= (qh[v%32] >> j & 1) << 4.
///   Q6_K (210 B): uint8 ql[128]; uint8 qh[64]; int8 sc[16]; f16 d. q = (ql[64h + w%64] >> 4(w/64) & 15)
///                 | (qh[32h + w%32] >> 2(w/32) & 3) << 4; x = d * sc[v/16] * (q - 32)
/// Dequantization follows ggml's arithmetic. Q8_0/Q4_x/Q5_x quantization is bit-exact with ggml's
/// reference quantizers. K-quant quantization is this engine's own direct rule (ggml searches
/// scales iteratively, so its bytes differ): per sub-block the range [min(0, min x), max x]
/// (asymmetric: Q2_K/Q4_K/Q5_K) or the value of largest magnitude (symmetric: Q3_K/Q6_K) gives a
/// float scale; the super-block scales d (and dmin) = largest sub-block scale / (largest code of
/// the sub-block scale), sub-block scales rounded to their integer codes, then each value's code =
/// clamp(rne(x / (d*sc) [+ offset])) with the stored, rounded scales. Valid blocks for any reader.
/// cols % block_size == 0. Row r of the quantized matrix starts at byte r * row_bytes (0 = dense).
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
