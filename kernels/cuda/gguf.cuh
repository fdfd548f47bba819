// Device decoding of GGUF blocks: Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 and the K-quants Q2_K .. Q6_K
// (layouts in kernels/ops/quantize.h; the arithmetic is ggml's, as on the CPU).
// Device code only. Depends on cuda_fp16.h.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "shared/engine/dtype.h"

namespace parley::kernels::cuda {

__device__ __forceinline__ float half_bits_to_f32(const std::uint8_t* p) {
  // Blocks are 2-byte aligned (34/18/20-byte blocks from an even row start), so a 16-bit load is
  // safe; assembled from bytes anyway to make no assumption about the row start.
  const unsigned short bits = static_cast<unsigned short>(p[0] | (p[1] << 8));
  return __half2float(__ushort_as_half(bits));
}

/// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's 12 scale bytes.
__device__ __forceinline__ void kquant_scale_min(const std::uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

/// Value `v` (0..255) of one K-quant super-block.
__device__ __forceinline__ float kquant_value(engine::DType t, const std::uint8_t* b, int v) {
  const int h = v / 128, w = v % 128;
  switch (t) {
    case engine::DType::kQ2_K: {
      const int q = (b[16 + 32 * h + w % 32] >> (2 * (w / 32))) & 3;
      const int sc = b[v / 16];
      return half_bits_to_f32(b + 80) * static_cast<float>(sc & 0xF) * static_cast<float>(q) -
             half_bits_to_f32(b + 82) * static_cast<float>(sc >> 4);
    }
    case engine::DType::kQ3_K: {
      const int low = (b[32 + 32 * h + w % 32] >> (2 * (w / 32))) & 3;
      const int high = (b[v % 32] >> (v / 32)) & 1;
      const int j = v / 16;
      const std::uint8_t* s = b + 96;
      const int sc = ((j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4)) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
      return half_bits_to_f32(b + 108) * static_cast<float>(sc) * static_cast<float>(low - (high ? 0 : 4));
    }
    case engine::DType::kQ4_K:
    case engine::DType::kQ5_K: {
      const bool five = t == engine::DType::kQ5_K;
      const int j = v / 32, l = v % 32;
      int sc = 0, mn = 0;
      kquant_scale_min(b + 4, j, sc, mn);
      int q = (b[(five ? 48 : 16) + 32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
      if (five) q |= ((b[16 + l] >> j) & 1) << 4;
      return half_bits_to_f32(b) * static_cast<float>(sc) * static_cast<float>(q) -
             half_bits_to_f32(b + 2) * static_cast<float>(mn);
    }
    case engine::DType::kQ6_K: {
      const int low = (b[64 * h + w % 64] >> (4 * (w / 64))) & 15;
      const int high = (b[128 + 32 * h + w % 32] >> (2 * (w / 32))) & 3;
      const float sc = static_cast<float>(static_cast<std::int8_t>(b[192 + v / 16]));
      return half_bits_to_f32(b + 208) * sc * static_cast<float>((low | (high << 4)) - 32);
    }
    default:
      return 0.0f;
  }
}

/// Value `c` of a row of GGUF blocks starting at `row`.
__device__ __forceinline__ float gguf_value(engine::DType t, const std::uint8_t* row, std::int64_t c) {
  if (engine::is_k_quant(t)) {
    return kquant_value(t, row + (c / 256) * engine::block_bytes(t), static_cast<int>(c % 256));
  }
  const std::int64_t blk = c / 32;
  const int i = static_cast<int>(c % 32);
  switch (t) {
    case engine::DType::kQ8_0: {
      const std::uint8_t* b = row + blk * 34;
      return half_bits_to_f32(b) * static_cast<float>(static_cast<std::int8_t>(b[2 + i]));
    }
    case engine::DType::kQ4_0: {
      const std::uint8_t* b = row + blk * 18;
      const int q = i < 16 ? (b[2 + i] & 15) : (b[2 + i - 16] >> 4);
      return half_bits_to_f32(b) * static_cast<float>(q - 8);
    }
    case engine::DType::kQ4_1: {
      const std::uint8_t* b = row + blk * 20;
      const int q = i < 16 ? (b[4 + i] & 15) : (b[4 + i - 16] >> 4);
      return half_bits_to_f32(b) * static_cast<float>(q) + half_bits_to_f32(b + 2);
    }
    case engine::DType::kQ5_0:
    case engine::DType::kQ5_1: {
      const bool one = t == engine::DType::kQ5_1;
      const std::uint8_t* b = row + blk * (one ? 24 : 22);
      const std::uint8_t* qh = b + (one ? 4 : 2);
      const std::uint8_t* qs = b + (one ? 8 : 6);
      const int q = (i < 16 ? (qs[i] & 15) : (qs[i - 16] >> 4)) | (((qh[i / 8] >> (i % 8)) & 1) << 4);
      return one ? half_bits_to_f32(b) * static_cast<float>(q) + half_bits_to_f32(b + 2)
                 : half_bits_to_f32(b) * static_cast<float>(q - 16);
    }
    default:
      return 0.0f;
  }
}

}  // namespace parley::kernels::cuda
