// GGUF block codecs on the host: one block of any engine GGUF format (Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1 of 32 values; Q2_K, Q3_K, Q4_K, Q5_K, Q6_K of 256) to f32 and back.
// Why: the CPU ops (gguf_quantize / gguf_dequantize, embedding, the float GEMM on GGUF weights,
// gemm_q4's packing) and the tests share one definition of every byte layout
// (kernels/ops/quantize.h documents them). Depends on shared/engine/dtype.h, half.h.
#pragma once

#include <cstdint>

#include "shared/engine/dtype.h"

namespace parley::kernels::cpu {

/// block_size(t) values of one block (ggml's layout) -> f32, computed as ggml dequantizes
/// (scale products in f32, then one multiply-add per value). `t` must be block-quantized.
void dequantize_gguf_block(const std::uint8_t* block, engine::DType t, float* out);

/// block_size(t) f32 values -> one block. Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 are bit-exact with ggml's
/// reference quantizers; the K-quants use a simpler rule than ggml's iterative scale search (see
/// quantize.h): valid blocks that any reader decodes, not necessarily ggml's bytes.
void quantize_gguf_block(const float* x, engine::DType t, std::uint8_t* out);

/// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's 12 scale bytes.
inline void kquant_scale_min(const std::uint8_t* s, int j, std::uint8_t& sc, std::uint8_t& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = static_cast<std::uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    mn = static_cast<std::uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

/// The signed 6-bit scale (-32..31) of sub-block j (0..15) of a Q3_K block's 12 scale bytes.
inline int q3k_scale(const std::uint8_t* s, int j) {
  const int low = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace parley::kernels::cpu
