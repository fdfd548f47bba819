// quantize_rows / dequantize_sum (kernels/ops/quantize_rows.h) on every ISA variant: per-token
// quantization with column scale, block Hadamard rotation and residual pass (exact against a
// scalar model of the rule, and the two-pass reconstruction error), dequantize-sum of int32
// blocks (+ bias + GELU) against f64, bad Args.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops/quantize_rows.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

// The kernels' symmetric rule on one row (f32 arithmetic as documented); returns the scale.
float quantize_ref(const std::vector<float>& v, std::vector<std::int8_t>& q) {
  float amax = 0.0f;
  for (float x : v) amax = std::max(amax, std::fabs(x));
  const float s = amax / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
  q.resize(v.size());
  for (std::size_t j = 0; j < v.size(); ++j) q[j] = static_cast<std::int8_t>(std::clamp(std::nearbyint(v[j] * inv), -127.0f, 127.0f));
  return s;
}

TEST(EncoderOpsTest, QuantizeRowsMatchesRuleOnEveryIsa) {
  struct S { std::int64_t rows, cols; bool col_scale, two_pass; };
  for (CpuIsa isa : testing::available_isas()) {
    for (const S s : {S{1, 1, false, false}, S{3, 17, true, true}, S{5, 384, true, true}, S{9, 1536, false, true},
                      S{2, 40, true, false}, S{0, 8, true, true}}) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " rows=" + std::to_string(s.rows) + " cols=" + std::to_string(s.cols) +
                   (s.col_scale ? " smooth" : "") + (s.two_pass ? " two-pass" : ""));
      const std::int64_t ldx = s.cols + 5, ldq = s.cols + 3;
      auto x = testing::random_floats(static_cast<std::size_t>(s.rows * ldx), 1, -4.0f, 4.0f);
      if (s.rows > 2) std::fill(x.begin() + 2 * ldx, x.begin() + 2 * ldx + s.cols, 0.0f);  // an all-zero row
      if (s.rows > 0) x[0] = 60.0f;  // an outlier
      auto cs = testing::random_floats(static_cast<std::size_t>(s.cols), 2, 0.25f, 2.0f);
      std::vector<std::int8_t> q(static_cast<std::size_t>(s.rows * ldq)), q2(q.size());
      std::vector<float> sc(static_cast<std::size_t>(s.rows)), sc2(sc.size());
      QuantizeRowsArgs a;
      a.rows = s.rows; a.cols = s.cols; a.x = x.data(); a.ldx = ldx; a.col_scale = s.col_scale ? cs.data() : nullptr;
      a.q = q.data(); a.ldq = ldq; a.scales = sc.data();
      if (s.two_pass) { a.q2 = q2.data(); a.ldq2 = ldq; a.scales2 = sc2.data(); }
      ASSERT_TRUE(cpu::quantize_rows(a, testing::ctx_for(isa)).is_ok());
      for (std::int64_t i = 0; i < s.rows; ++i) {
        std::vector<float> v(static_cast<std::size_t>(s.cols));
        for (std::int64_t j = 0; j < s.cols; ++j) v[static_cast<std::size_t>(j)] = x[static_cast<std::size_t>(i * ldx + j)] * (s.col_scale ? cs[static_cast<std::size_t>(j)] : 1.0f);
        std::vector<std::int8_t> want;
        const float ws = quantize_ref(v, want);
        ASSERT_EQ(sc[static_cast<std::size_t>(i)], ws) << "row " << i;
        for (std::int64_t j = 0; j < s.cols; ++j) ASSERT_EQ(q[static_cast<std::size_t>(i * ldq + j)], want[static_cast<std::size_t>(j)]) << "row " << i << " col " << j;
        if (!s.two_pass) continue;
        std::vector<float> r(v.size());
        for (std::size_t j = 0; j < v.size(); ++j) {
          const volatile float prod = ws * static_cast<float>(want[j]);  // rounded, never fused
          r[j] = v[j] - prod;
        }
        std::vector<std::int8_t> want2;
        const float ws2 = quantize_ref(r, want2);
        ASSERT_EQ(sc2[static_cast<std::size_t>(i)], ws2) << "row " << i;
        double err = 0.0, amax = 0.0;
        for (std::int64_t j = 0; j < s.cols; ++j) {
          ASSERT_EQ(q2[static_cast<std::size_t>(i * ldq + j)], want2[static_cast<std::size_t>(j)]) << "row " << i << " col " << j;
          const double back = static_cast<double>(ws) * want[static_cast<std::size_t>(j)] + static_cast<double>(ws2) * want2[static_cast<std::size_t>(j)];
          err = std::max(err, std::fabs(back - v[static_cast<std::size_t>(j)]));
          amax = std::max(amax, std::fabs(static_cast<double>(v[static_cast<std::size_t>(j)])));
        }
        // Two passes: error <= amax / (2 * 127 * 254) (+ f32 rounding).
        EXPECT_LE(err, amax / (2.0 * 127.0 * 254.0) * 1.01 + 1e-6) << "row " << i;
      }
    }
  }
}

TEST(EncoderOpsTest, DequantizeSumMatchesReferenceOnEveryIsa) {
  for (CpuIsa isa : testing::available_isas()) {
    for (Activation act : {Activation::kNone, Activation::kGeluErf, Activation::kRelu}) {
      for (int terms = 1; terms <= 4; ++terms) {
        const std::int64_t rows = 7, cols = 45, ld = 2 * cols + 1, ldy = cols + 2;
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " terms=" + std::to_string(terms) + " act=" + std::to_string(static_cast<int>(act)));
        std::vector<std::int32_t> acc(static_cast<std::size_t>(terms * rows * ld));
        std::mt19937 rng(static_cast<std::uint32_t>(terms));
        for (auto& v : acc) v = static_cast<std::int32_t>(rng() % 2000001u) - 1000000;
        auto sa = testing::random_floats(static_cast<std::size_t>(terms * rows), 3, 1e-6f, 2e-6f);
        auto sb = testing::random_floats(static_cast<std::size_t>(terms * cols), 4, 0.5f, 1.5f);
        auto bias = testing::random_floats(static_cast<std::size_t>(cols), 5);
        std::vector<float> y(static_cast<std::size_t>(rows * ldy), 0.0f);
        DequantizeSumArgs a;
        a.rows = rows; a.cols = cols; a.num_terms = terms; a.bias = bias.data(); a.activation = act;
        a.y = y.data(); a.ldy = ldy;
        for (int t = 0; t < terms; ++t) {
          a.terms[t] = {acc.data() + t * rows * ld, ld, sa.data() + t * rows, sb.data() + t * cols};
        }
        ASSERT_TRUE(cpu::dequantize_sum(a, testing::ctx_for(isa)).is_ok());
        std::vector<double> want;
        std::vector<float> got;
        for (std::int64_t i = 0; i < rows; ++i) {
          for (std::int64_t j = 0; j < cols; ++j) {
            double v = bias[static_cast<std::size_t>(j)];
            for (int t = 0; t < terms; ++t) {
              v += static_cast<double>(acc[static_cast<std::size_t>(t * rows * ld + i * ld + j)]) * sa[static_cast<std::size_t>(t * rows + i)] *
                   sb[static_cast<std::size_t>(t * cols + j)];
            }
            if (act == Activation::kGeluErf) v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
            if (act == Activation::kRelu) v = std::max(v, 0.0);
            want.push_back(v);
            got.push_back(y[static_cast<std::size_t>(i * ldy + j)]);
          }
        }
        EXPECT_TRUE(testing::all_close(got, want, 1e-6, 1e-5));
      }
    }
  }
}

TEST(EncoderOpsTest, RejectsBadArgs) {
  float x[4] = {};
  std::int8_t q[4] = {};
  QuantizeRowsArgs a;
  a.rows = 2; a.cols = 2; a.x = x; a.ldx = 2; a.q = q; a.ldq = 1; a.scales = x;
  EXPECT_EQ(cpu::quantize_rows(a).code(), StatusCode::kInvalidArgument);
  a.ldq = 2; a.q2 = q; a.ldq2 = 2;  // no scales2
  EXPECT_EQ(cpu::quantize_rows(a).code(), StatusCode::kInvalidArgument);
  DequantizeSumArgs d;
  d.rows = 1; d.cols = 1; d.num_terms = 5;
  EXPECT_EQ(cpu::dequantize_sum(d).code(), StatusCode::kInvalidArgument);
  d.num_terms = 1; d.y = x; d.ldy = 1;  // term 0 has no accumulators
  EXPECT_EQ(cpu::dequantize_sum(d).code(), StatusCode::kInvalidArgument);
}

// The rotated rule: v = x . H (unnormalized, per block, radix-2 butterflies len = 1, 2, 4, ...)
// then the symmetric rule; and x.H.H = B x (H is its own inverse up to B), so dequantizing and
// rotating back recovers x to int8 precision.
TEST(EncoderOpsTest, QuantizeRowsRotatedMatchesRule) {
  for (CpuIsa isa : testing::available_isas()) {
    for (const std::int64_t block : {std::int64_t{2}, std::int64_t{8}, std::int64_t{64}, std::int64_t{512}}) {
      for (const bool two : {false, true}) {
        const std::int64_t rows = 5, cols = 1024, ldx = cols + 1;
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " block=" + std::to_string(block) + (two ? " two-pass" : ""));
        auto x = testing::random_floats(static_cast<std::size_t>(rows * ldx), 7, -2.0f, 2.0f);
        x[3] = 50.0f;  // an outlier the rotation spreads
        std::vector<std::int8_t> q(static_cast<std::size_t>(rows * cols)), q2(q.size());
        std::vector<float> sc(rows), sc2(rows);
        QuantizeRowsArgs a;
        a.rows = rows; a.cols = cols; a.x = x.data(); a.ldx = ldx; a.q = q.data(); a.ldq = cols; a.scales = sc.data();
        a.rotate_block = block;
        if (two) { a.q2 = q2.data(); a.ldq2 = cols; a.scales2 = sc2.data(); }
        ASSERT_TRUE(cpu::quantize_rows(a, testing::ctx_for(isa)).is_ok());
        for (std::int64_t i = 0; i < rows; ++i) {
          std::vector<float> v(x.begin() + i * ldx, x.begin() + i * ldx + cols);
          for (std::int64_t c0 = 0; c0 < cols; c0 += block)
            for (std::int64_t len = 1; len < block; len <<= 1)
              for (std::int64_t b = c0; b < c0 + block; b += 2 * len)
                for (std::int64_t j = b; j < b + len; ++j) {
                  const float u = v[static_cast<std::size_t>(j)], w = v[static_cast<std::size_t>(j + len)];
                  v[static_cast<std::size_t>(j)] = u + w;
                  v[static_cast<std::size_t>(j + len)] = u - w;
                }
          std::vector<std::int8_t> want;
          const float ws = quantize_ref(v, want);
          ASSERT_EQ(sc[static_cast<std::size_t>(i)], ws) << "row " << i;
          for (std::int64_t j = 0; j < cols; ++j) ASSERT_EQ(q[static_cast<std::size_t>(i * cols + j)], want[static_cast<std::size_t>(j)]);
          if (!two) continue;
          std::vector<float> r(v.size());
          for (std::size_t j = 0; j < v.size(); ++j) {
            const volatile float prod = ws * static_cast<float>(want[j]);
            r[j] = v[j] - prod;
          }
          std::vector<std::int8_t> want2;
          ASSERT_EQ(sc2[static_cast<std::size_t>(i)], quantize_ref(r, want2));
          for (std::int64_t j = 0; j < cols; ++j) ASSERT_EQ(q2[static_cast<std::size_t>(i * cols + j)], want2[static_cast<std::size_t>(j)]);
        }
      }
    }
  }
  QuantizeRowsArgs bad;
  float x[12] = {};
  std::int8_t q[12];
  float s[1];
  bad.rows = 1; bad.cols = 12; bad.x = x; bad.ldx = 12; bad.q = q; bad.ldq = 12; bad.scales = s;
  bad.rotate_block = 8;  // does not divide 12
  EXPECT_EQ(cpu::quantize_rows(bad).code(), StatusCode::kInvalidArgument);
  bad.rotate_block = 3;  // not a power of two
  EXPECT_EQ(cpu::quantize_rows(bad).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
