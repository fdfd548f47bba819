// Device decoding of GGUF Q8_0 / Q4_0 / Q4_1 blocks (layout in kernels/ops/quantize.h).
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

/// Value `c` of a row of GGUF blocks starting at `row`.
__device__ __forceinline__ float gguf_value(engine::DType t, const std::uint8_t* row, std::int64_t c) {
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
    default:
      return 0.0f;
  }
}

}  // namespace parley::kernels::cuda
