// DType: the element types a Tensor or a kernel argument can hold, with byte-size helpers.
// Why: every op, model reader and backend must agree on one list, including GGUF's block-quantized
// formats whose size is per block of 32 values, not per element. Depends on nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::engine {

/// Element types. Plain types have one element per "block"; the GGUF formats pack 32 values into a
/// block whose layout is bit-exact with ggml's (see kernels/ops/quantize.h for the byte layout).
enum class DType : std::uint8_t {
  kF32 = 0,
  kF16 = 1,   ///< IEEE binary16, stored as uint16_t bits.
  kBF16 = 2,  ///< bfloat16, stored as uint16_t bits (upper half of an f32).
  kI8 = 3,
  kI32 = 4,
  kQ8_0 = 5,  ///< 32 values: f16 scale d + 32 x int8.                  34 bytes.
  kQ4_0 = 6,  ///< 32 values: f16 scale d + 16 bytes of nibbles (q-8).   18 bytes.
  kQ4_1 = 7,  ///< 32 values: f16 scale d, f16 min m + 16 bytes nibbles. 20 bytes.
};

inline constexpr int kDTypeCount = 8;
/// Values per GGUF block (Q8_0, Q4_0, Q4_1 all use 32).
inline constexpr std::int64_t kQuantBlock = 32;

/// "f32", "f16", "bf16", "i8", "i32", "q8_0", "q4_0", "q4_1".
std::string_view dtype_name(DType t);
/// Inverse of dtype_name (exact, lower case); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);

/// True for the block-quantized formats (Q8_0, Q4_0, Q4_1).
constexpr bool is_block_quantized(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1;
}
/// True for f32, f16, bf16.
constexpr bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

/// Elements per block: 32 for the GGUF formats, 1 otherwise.
constexpr std::int64_t block_size(DType t) { return is_block_quantized(t) ? kQuantBlock : 1; }

/// Bytes per block (for plain types: bytes per element).
constexpr std::int64_t block_bytes(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI8: return 1;
    case DType::kI32: return 4;
    case DType::kQ8_0: return 2 + 32;
    case DType::kQ4_0: return 2 + 16;
    case DType::kQ4_1: return 2 + 2 + 16;
  }
  return 0;
}

/// Bytes of one element for plain types; 0 for block-quantized types (use row_bytes()).
constexpr std::int64_t element_size(DType t) { return is_block_quantized(t) ? 0 : block_bytes(t); }

/// Bytes that `n` consecutive values occupy; -1 when `n` is not a multiple of block_size(t).
constexpr std::int64_t row_bytes(DType t, std::int64_t n) {
  const std::int64_t bs = block_size(t);
  if (n < 0 || n % bs != 0) return -1;
  return n / bs * block_bytes(t);
}

}  // namespace parley::engine
