// Row load/store and GGUF block dequantization (ggml's layouts). Depends on dtype_io.h,
// gguf_blocks.h.
#include "kernels/cpu/dtype_io.h"

#include <cstring>

#include "kernels/cpu/gguf_blocks.h"

namespace parley::kernels::cpu {

void dequantize_block(const void* block, DType t, float* out) {
  dequantize_gguf_block(static_cast<const std::uint8_t*>(block), t, out);
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
    default: {
      if (!engine::is_block_quantized(t)) {
        for (std::int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
        return;
      }
      const auto* p = static_cast<const std::uint8_t*>(src);
      const std::int64_t bb = engine::block_bytes(t), bs = engine::block_size(t);
      for (std::int64_t b = 0; b < n / bs; ++b) dequantize_gguf_block(p + b * bb, t, dst + b * bs);
      return;
    }
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
