// Row load/store and GGUF block dequantization (ggml's layouts). Depends on dtype_io.h.
#include "kernels/cpu/dtype_io.h"

#include <cstring>

namespace parley::kernels::cpu {

void dequantize_block(const void* block, DType t, float* out) {
  const auto* p = static_cast<const std::uint8_t*>(block);
  std::uint16_t dbits = 0;
  std::memcpy(&dbits, p, 2);
  const float d = engine::f16_to_f32(dbits);
  switch (t) {
    case DType::kQ8_0: {
      const auto* q = reinterpret_cast<const std::int8_t*>(p + 2);
      for (int i = 0; i < 32; ++i) out[i] = static_cast<float>(q[i]) * d;
      break;
    }
    case DType::kQ4_0: {
      const std::uint8_t* q = p + 2;
      for (int i = 0; i < 16; ++i) {
        out[i] = static_cast<float>((q[i] & 15) - 8) * d;
        out[i + 16] = static_cast<float>((q[i] >> 4) - 8) * d;
      }
      break;
    }
    case DType::kQ4_1: {
      std::uint16_t mbits = 0;
      std::memcpy(&mbits, p + 2, 2);
      const float m = engine::f16_to_f32(mbits);
      const std::uint8_t* q = p + 4;
      for (int i = 0; i < 16; ++i) {
        out[i] = static_cast<float>(q[i] & 15) * d + m;
        out[i + 16] = static_cast<float>(q[i] >> 4) * d + m;
      }
      break;
    }
    default:
      for (int i = 0; i < 32; ++i) out[i] = 0.0f;
      break;
  }
}

void load_row(const void* src, DType t, std::int64_t n, float* dst) {
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float)); return;
    case DType::kF16:
      engine::f16_to_f32_n(static_cast<const std::uint16_t*>(src), dst, static_cast<std::size_t>(n));
      return;
    case DType::kBF16:
      engine::bf16_to_f32_n(static_cast<const std::uint16_t*>(src), dst, static_cast<std::size_t>(n));
      return;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1: {
      const auto* p = static_cast<const std::uint8_t*>(src);
      const std::int64_t bb = engine::block_bytes(t);
      for (std::int64_t b = 0; b < n / 32; ++b) dequantize_block(p + b * bb, t, dst + b * 32);
      return;
    }
    default:
      for (std::int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
      return;
  }
}

void store_row(const float* src, std::int64_t n, void* dst, DType t) {
  switch (t) {
    case DType::kF16:
      engine::f32_to_f16_n(src, static_cast<std::uint16_t*>(dst), static_cast<std::size_t>(n));
      return;
    case DType::kBF16:
      engine::f32_to_bf16_n(src, static_cast<std::uint16_t*>(dst), static_cast<std::size_t>(n));
      return;
    default: std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float)); return;
  }
}

}  // namespace parley::kernels::cpu
