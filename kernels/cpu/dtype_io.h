// Scalar element load/store for f32/f16/bf16 and row (de)quantization helpers for the CPU ops.
// Why: every CPU op reads and writes the three float formats; one set of helpers keeps the
// rounding identical everywhere (f32 -> f16/bf16: round to nearest even).
// Depends on shared/engine/half.h, shared/engine/dtype.h.
#pragma once

#include <cstdint>

#include "shared/engine/dtype.h"
#include "shared/engine/half.h"

namespace parley::kernels::cpu {

using engine::DType;

inline float load_f(const void* p, DType t, std::int64_t i) {
  switch (t) {
    case DType::kF16: return engine::f16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
    case DType::kBF16: return engine::bf16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

inline void store_f(void* p, DType t, std::int64_t i, float v) {
  switch (t) {
    case DType::kF16: static_cast<std::uint16_t*>(p)[i] = engine::f32_to_f16(v); break;
    case DType::kBF16: static_cast<std::uint16_t*>(p)[i] = engine::f32_to_bf16(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

/// v rounded to the precision of `t` (identity for f32).
inline float round_to(DType t, float v) {
  if (t == DType::kF16) return engine::f16_to_f32(engine::f32_to_f16(v));
  if (t == DType::kBF16) return engine::bf16_to_f32(engine::f32_to_bf16(v));
  return v;
}

/// Byte offset of element `i` in a row of a float-typed array.
inline const void* offset_f(const void* p, DType t, std::int64_t i) {
  return static_cast<const char*>(p) + i * engine::block_bytes(t);
}
inline void* offset_f(void* p, DType t, std::int64_t i) { return static_cast<char*>(p) + i * engine::block_bytes(t); }

/// n values (f32/f16/bf16, or any GGUF block type with n % block_size == 0) -> f32.
void load_row(const void* src, DType t, std::int64_t n, float* dst);
/// n f32 values -> f32/f16/bf16.
void store_row(const float* src, std::int64_t n, void* dst, DType t);

/// Dequantizes one GGUF block (ggml's layout; block_size(t) values) to f32.
void dequantize_block(const void* block, DType t, float* out);

}  // namespace parley::kernels::cpu
