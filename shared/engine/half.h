// Host conversions between f32 and the 16-bit float formats (IEEE f16, bfloat16).
// Why: weights arrive in f16/bf16 (safetensors, GGUF), and CPU kernels and tests convert on the
// host; one rounding rule (round to nearest even, NaN kept NaN) keeps backends comparable.
// Depends on nothing.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace parley::engine {

/// f32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t f32_to_bf16(float f) {
  std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// bfloat16 bits -> f32 (exact).
inline float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

/// f32 -> IEEE binary16 bits, round to nearest even, overflow to inf, subnormals kept.
std::uint16_t f32_to_f16(float f);
/// IEEE binary16 bits -> f32 (exact).
float f16_to_f32(std::uint16_t h);

/// Bulk conversions (n values; src and dst must not overlap).
void f16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t n);
void f32_to_f16_n(const float* src, std::uint16_t* dst, std::size_t n);
void bf16_to_f32_n(const std::uint16_t* src, float* dst, std::size_t n);
void f32_to_bf16_n(const float* src, std::uint16_t* dst, std::size_t n);

}  // namespace parley::engine
