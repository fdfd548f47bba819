// DType: the element types a Tensor or a kernel argument can hold, with byte-size helpers.
// Why: every op, model reader and backend must agree on one list, including GGUF's block-quantized
// formats whose size is per block of 32 or 256 values, not per element. Depends on nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::engine {

/// Element types. Plain types have one element per "block"; the GGUF formats pack 32 (legacy) or
/// 256 (K-quants) values into a block whose layout is bit-exact with ggml's (see
/// kernels/ops/quantize.h for the byte layouts).
enum class DType : std::uint8_t {
  kF32 = 0,
  kF16 = 1,   ///< IEEE binary16, stored as uint16_t bits.
  kBF16 = 2,  ///< bfloat16, stored as uint16_t bits (upper half of an f32).
  kI8 = 3,
  kI32 = 4,
  kQ8_0 = 5,  ///< 32 values: f16 scale d + 32 x int8.                  34 bytes.
  kQ4_0 = 6,  ///< 32 values: f16 scale d + 16 bytes of nibbles (q-8).   18 bytes.
  kQ4_1 = 7,  ///< 32 values: f16 scale d, f16 min m + 16 bytes nibbles. 20 bytes.
  // Appended (issue 17): the other legacy formats and the K-quants of llama.cpp's files.
  kQ5_0 = 8,   ///< 32 values: f16 d, 4 bytes of 5th bits, 16 bytes nibbles (q-16).        22 bytes.
  kQ5_1 = 9,   ///< 32 values: f16 d, f16 m, 4 bytes of 5th bits, 16 bytes nibbles.        24 bytes.
  kQ2_K = 10,  ///< 256 values: 16 x (4-bit scale, 4-bit min), 2-bit codes, f16 d, dmin.   84 bytes.
  kQ3_K = 11,  ///< 256 values: high bits, 2-bit codes, 16 6-bit scales, f16 d.           110 bytes.
  kQ4_K = 12,  ///< 256 values: f16 d, dmin, 8 x (6-bit scale, min), 4-bit codes.         144 bytes.
  kQ5_K = 13,  ///< 256 values: as Q4_K + 32 bytes of 5th bits.                           176 bytes.
  kQ6_K = 14,  ///< 256 values: 4-bit low, 2-bit high codes (q-32), 16 int8 scales, f16 d. 210 bytes.
};

inline constexpr int kDTypeCount = 15;
/// Values per legacy GGUF block (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
inline constexpr std::int64_t kQuantBlock = 32;
/// Values per K-quant super-block (Q2_K .. Q6_K).
inline constexpr std::int64_t kSuperBlock = 256;

/// "f32", "f16", "bf16", "i8", "i32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k",
/// "q4_k", "q5_k", "q6_k" (ggml's names).
std::string_view dtype_name(DType t);
/// Inverse of dtype_name (exact, lower case); nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);

/// True for the K-quant formats (256-value super-blocks).
constexpr bool is_k_quant(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
}
/// True for every GGUF block-quantized format (legacy 32-value blocks and K-quants).
constexpr bool is_block_quantized(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 ||
         is_k_quant(t);
}
/// True for f32, f16, bf16.
constexpr bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

/// Elements per block: 32 for the legacy GGUF formats, 256 for the K-quants, 1 otherwise.
constexpr std::int64_t block_size(DType t) {
  return is_k_quant(t) ? kSuperBlock : is_block_quantized(t) ? kQuantBlock : 1;
}

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
    case DType::kQ5_0: return 2 + 4 + 16;
    case DType::kQ5_1: return 2 + 2 + 4 + 16;
    case DType::kQ2_K: return 16 + 64 + 2 + 2;
    case DType::kQ3_K: return 32 + 64 + 12 + 2;
    case DType::kQ4_K: return 2 + 2 + 12 + 128;
    case DType::kQ5_K: return 2 + 2 + 12 + 32 + 128;
    case DType::kQ6_K: return 128 + 64 + 16 + 2;
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
