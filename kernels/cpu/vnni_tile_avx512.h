// The VNNI outer-product micro-kernel shared by gemm_int8's packed path (gemm_int8_avx512.cc) and
// int8_linear (int8_linear_avx512.cc): MR rows x 32 channels, 2 x MR zmm accumulators, 4 bytes of
// a row broadcast against one 128-byte panel step (4 inputs x 32 channels) per vpdpbusd pair.
// Include ONLY from files compiled with -mavx512f -mavx512bw -mavx512vnni (the *_avx512.cc files).
// Why one copy: the two kernels differ only in which operand is the unsigned one.
// Depends on <immintrin.h>.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace parley::kernels::cpu::detail::vnni {
// Internal linkage on purpose (see simd_avx512.h): AVX-512 code must not become a weak inline
// definition the linker could pick for a baseline file.
namespace {

// acc += u8 x s8 dot products of 4-byte groups (vpdpbusd). Inline asm with the accumulator tied
// in place: GCC 12's intrinsic adds a register copy around every vpdpbusd and keeps accumulator
// arrays in memory, which halves the throughput of the micro-kernels.
inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

// One 4-byte step of one row against both 16-channel halves of the panel.
template <bool kRowsUnsigned>
__attribute__((always_inline)) inline void step(__m512i& c0, __m512i& c1, __m512i row4, __m512i b0, __m512i b1) {
  if constexpr (kRowsUnsigned) {
    c0 = dpbusd(c0, row4, b0);
    c1 = dpbusd(c1, row4, b1);
  } else {
    c0 = dpbusd(c0, b0, row4);
    c1 = dpbusd(c1, b1, row4);
  }
}

/// acc[r][g] = sum over k of rows[r][k] x panel channel (16 g + c) at input k, for r < MR.
/// panel: byte (channel c, input 4 q + t) at q * 128 + c * 4 + t (zero past k). kRowsUnsigned:
/// the rows are the unsigned operand and the panel signed (int8_linear's uint8 activations x
/// int8 weights); otherwise the panel is unsigned and the rows signed (gemm_int8's flipped
/// weights x int8 activations). Rows are read up to k only (the k % 4 tail is copied).
template <int MR, bool kRowsUnsigned, typename Row>
inline void tile(const Row* const* rows, const void* panel_bytes, std::int64_t k, __m512i (*acc)[2]) {
  const auto* panel = static_cast<const std::uint8_t*>(panel_bytes);
  __m512i c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_si512();
  const std::int64_t full_q = k / 4;
  for (std::int64_t q = 0; q < full_q; ++q) {
    const __m512i b0 = _mm512_loadu_si512(panel + q * 128);
    const __m512i b1 = _mm512_loadu_si512(panel + q * 128 + 64);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      std::int32_t a4;
      std::memcpy(&a4, rows[r] + 4 * q, 4);
      step<kRowsUnsigned>(c0[r], c1[r], _mm512_set1_epi32(a4), b0, b1);
    }
  }
  if (full_q * 4 < k) {  // k % 4: the row tails, zero-padded (the panel is zero there too)
    const __m512i b0 = _mm512_loadu_si512(panel + full_q * 128);
    const __m512i b1 = _mm512_loadu_si512(panel + full_q * 128 + 64);
    for (int r = 0; r < MR; ++r) {
      std::uint8_t t[4] = {0, 0, 0, 0};
      std::memcpy(t, rows[r] + 4 * full_q, static_cast<std::size_t>(k - 4 * full_q));
      std::int32_t a4;
      std::memcpy(&a4, t, 4);
      step<kRowsUnsigned>(c0[r], c1[r], _mm512_set1_epi32(a4), b0, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = c0[r];
    acc[r][1] = c1[r];
  }
}

}  // namespace
}  // namespace parley::kernels::cpu::detail::vnni
