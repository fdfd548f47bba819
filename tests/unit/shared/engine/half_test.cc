// f16 / bf16 conversions: every f16 value round-trips; f32 -> f16 rounds to nearest even
// (checked against the hardware-independent definition on many values), inf/NaN/subnormals.
#include "shared/engine/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace parley::engine {
namespace {

// Round-to-nearest-even by brute force: the closest f16 value (ties to even mantissa).
std::uint16_t slow_f16(float f) {
  if (std::isnan(f)) return 0x7e00;
  std::uint16_t best = 0;
  double best_err = 1e300;
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const double err = std::fabs(static_cast<double>(f16_to_f32(static_cast<std::uint16_t>(h))) - std::fabs(static_cast<double>(f)));
    if (err < best_err || (err == best_err && (h & 1) == 0)) {
      best_err = err;
      best = static_cast<std::uint16_t>(h);
    }
  }
  // Beyond the largest finite value by at least half an ulp: infinity.
  if (std::fabs(static_cast<double>(f)) >= 65520.0) best = 0x7c00;
  return static_cast<std::uint16_t>(best | sign);
}

TEST(HalfTest, EveryF16RoundTrips) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = f16_to_f32(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), bits) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(HalfTest, F32ToF16RoundsToNearestEven) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> exp(-27, 17);
  for (int i = 0; i < 300; ++i) {
    const float f = std::ldexp(mant(rng), exp(rng)) * (i % 2 ? -1.0f : 1.0f);
    ASSERT_EQ(f32_to_f16(f), slow_f16(f)) << f;
  }
  // Exact ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> even (1.0).
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
}

TEST(HalfTest, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even -> 1.0; 1 + 3*2^-8 -> 1 + 2^-6.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  std::vector<float> src = {0.5f, -2.0f, 3.0f}, back(3);
  std::vector<std::uint16_t> mid(3);
  f32_to_bf16_n(src.data(), mid.data(), 3);
  bf16_to_f32_n(mid.data(), back.data(), 3);
  EXPECT_EQ(back, src);
}

}  // namespace
}  // namespace parley::engine
