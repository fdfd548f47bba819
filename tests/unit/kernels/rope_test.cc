// Rotary embeddings on the CPU against an f64 reference: both pairings, partial rotary, theta,
// explicit positions and offsets, strided layouts.
#include <gtest/gtest.h>

#include "kernels/ops/rope.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(RopeTest, MatchesReference) {
  for (RopeStyle style : {RopeStyle::kHalf, RopeStyle::kInterleaved}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (bool explicit_pos : {false, true}) {
        const std::int64_t tokens = 5, heads = 3, hd = 64, rd = 32, ts = heads * hd + 16, hs = hd;
        auto x = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(tokens * ts), 8));
        const std::vector<float> orig = x.values;
        std::vector<std::int32_t> pos = {7, 0, 4096, 3, 100};
        RopeArgs a;
        a.style = style; a.tokens = tokens; a.heads = heads; a.head_dim = hd; a.rotary_dim = rd; a.dtype = t;
        a.x = x.data(); a.token_stride = ts; a.head_stride = hs;
        a.positions = explicit_pos ? pos.data() : nullptr; a.position_offset = 11; a.theta = 500000.0f;
        ASSERT_TRUE(cpu::rope(a).is_ok());
        const auto got_all = testing::read_buffer(x, orig.size());
        std::vector<double> want;
        std::vector<float> got;
        for (std::int64_t tt = 0; tt < tokens; ++tt) {
          const double p = explicit_pos ? pos[static_cast<std::size_t>(tt)] : 11 + tt;
          for (std::int64_t h = 0; h < heads; ++h) {
            const std::int64_t base = tt * ts + h * hs;
            std::vector<double> v(orig.begin() + base, orig.begin() + base + hd);
            for (std::int64_t i = 0; i < rd / 2; ++i) {
              const std::int64_t i0 = style == RopeStyle::kHalf ? i : 2 * i, i1 = style == RopeStyle::kHalf ? i + rd / 2 : 2 * i + 1;
              const double ang = p * std::pow(500000.0, -2.0 * static_cast<double>(i) / rd);
              const double a0 = orig[static_cast<std::size_t>(base + i0)], a1 = orig[static_cast<std::size_t>(base + i1)];
              v[static_cast<std::size_t>(i0)] = a0 * std::cos(ang) - a1 * std::sin(ang);
              v[static_cast<std::size_t>(i1)] = a0 * std::sin(ang) + a1 * std::cos(ang);
            }
            for (std::int64_t d = 0; d < hd; ++d) {
              want.push_back(v[static_cast<std::size_t>(d)]);
              got.push_back(got_all[static_cast<std::size_t>(base + d)]);
            }
          }
        }
        SCOPED_TRACE(std::string(style == RopeStyle::kHalf ? "half " : "interleaved ") + std::string(engine::dtype_name(t)));
        EXPECT_TRUE(testing::all_close(got, want, 2e-6 + 2 * testing::eps_of(t), 2 * testing::eps_of(t)));
        // Padding between tokens untouched.
        for (std::int64_t tt = 0; tt < tokens; ++tt)
          for (std::int64_t j = heads * hd; j < ts; ++j)
            ASSERT_EQ(got_all[static_cast<std::size_t>(tt * ts + j)], orig[static_cast<std::size_t>(tt * ts + j)]);
      }
    }
  }
}

TEST(RopeTest, RejectsOddRotaryDim) {
  float x[8] = {};
  RopeArgs a;
  a.tokens = 1; a.heads = 1; a.head_dim = 8; a.rotary_dim = 3; a.x = x; a.token_stride = 8; a.head_stride = 8;
  EXPECT_EQ(cpu::rope(a).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
