// Tests for shared/audio/pcm.h: int16 <-> float round trips, clamping, NaN, wire bytes, downmix.
// Why: every service converts audio with these; an off-by-one scale shifts every model input.
// Depends on shared/audio, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "shared/audio/pcm.h"

namespace parley::audio {
namespace {

TEST(Pcm, Int16RoundTripIsExactForEveryValue) {
  std::vector<std::int16_t> all;
  for (int v = -32768; v <= 32767; ++v) all.push_back(static_cast<std::int16_t>(v));
  auto f = pcm16_to_float(all);
  EXPECT_FLOAT_EQ(f.front(), -1.0f);
  EXPECT_FLOAT_EQ(f[32768], 0.0f);
  auto back = float_to_pcm16(f);
  EXPECT_EQ(back, all);
}

TEST(Pcm, ClampAndNaN) {
  std::vector<float> x = {2.0f, -2.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f, -1.0f,
                          std::numeric_limits<float>::infinity()};
  auto q = float_to_pcm16(x);
  EXPECT_EQ(q, (std::vector<std::int16_t>{32767, -32768, 0, 32767, -32768, 32767}));
  EXPECT_EQ(first_non_finite(x), 2);
  EXPECT_EQ(first_non_finite(std::vector<float>{0.0f, 1.0f}), -1);
}

TEST(Pcm, WireBytes) {
  auto f = decode_pcm16_le(std::string("\x00\x40\x00\x80\xff\xff", 6));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<float>{0.5f, -1.0f, -1.0f / 32768.0f}));
  auto odd = decode_pcm16_le(std::string("\x00\x40\x00", 3));
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("3 bytes"), std::string::npos);
  std::string bytes;
  encode_pcm16_le(*f, bytes);
  EXPECT_EQ(bytes, std::string("\x00\x40\x00\x80\xff\xff", 6));

  std::string fb;
  encode_f32_le(std::vector<float>{0.25f, -3.0f}, fb);
  auto g = decode_f32_le(fb);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<float>{0.25f, -3.0f}));
  EXPECT_FALSE(decode_f32_le(fb.substr(0, 7)).ok());
  EXPECT_TRUE(decode_f32_le("")->empty());
}

TEST(Pcm, Downmix) {
  auto m = downmix(std::vector<float>{1.0f, 0.0f, 0.5f, 0.5f, -1.0f, 1.0f}, 2);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (std::vector<float>{0.5f, 0.5f, 0.0f}));
  auto three = downmix(std::vector<float>{0.3f, 0.3f, 0.3f}, 3);
  ASSERT_TRUE(three.ok());
  EXPECT_NEAR((*three)[0], 0.3f, 1e-7);
  EXPECT_FALSE(downmix(std::vector<float>{1.0f, 2.0f, 3.0f}, 2).ok());
  EXPECT_FALSE(downmix(std::vector<float>{1.0f}, 0).ok());
}

}  // namespace
}  // namespace parley::audio
