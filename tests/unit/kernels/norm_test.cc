// LayerNorm / RMSNorm (+ fused residual) on the CPU against an f64 reference.
#include <gtest/gtest.h>

#include "kernels/ops/norm.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(NormTest, MatchesReferenceAllKindsDtypesShapes) {
  struct S { std::int64_t rows, cols; };
  // f32 on AVX-512 runs encoder_ops_avx512.cc's variant; every variant vs the f64 reference.
  for (CpuIsa isa : testing::available_isas())
  for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (const S s : {S{1, 1}, S{1, 384}, S{3, 37}, S{17, 1000}, S{0, 8}, S{4, 0}}) {
        for (bool residual : {false, true}) {
          SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::string(kind == NormKind::kLayerNorm ? "layernorm " : "rmsnorm ") +
                       std::string(engine::dtype_name(t)) + " rows=" + std::to_string(s.rows) + " cols=" +
                       std::to_string(s.cols) + (residual ? " +residual" : ""));
          const std::int64_t ld = s.cols + 3;
          const std::size_t n = static_cast<std::size_t>(s.rows * ld);
          auto x = testing::make_buffer(t, testing::random_floats(n, 1, -3.0f, 5.0f));
          auto r = testing::make_buffer(t, testing::random_floats(n, 2));
          auto y = testing::zero_buffer(t, n), rout = testing::zero_buffer(t, n);
          auto gamma = testing::random_floats(static_cast<std::size_t>(s.cols), 3, 0.5f, 1.5f);
          auto beta = testing::random_floats(static_cast<std::size_t>(s.cols), 4);
          NormArgs a;
          a.kind = kind; a.rows = s.rows; a.cols = s.cols; a.dtype = t;
          a.x = x.data(); a.ldx = ld; a.gamma = gamma.data(); a.beta = beta.data(); a.eps = 1e-5f;
          a.y = y.data(); a.ldy = ld;
          if (residual) {
            a.residual = r.data(); a.ld_residual = ld; a.residual_out = rout.data(); a.ld_residual_out = ld;
          }
          ASSERT_TRUE(cpu::norm(a, testing::ctx_for(isa)).is_ok());
          std::vector<double> want, want_h;
          std::vector<float> got, got_h;
          const auto yv = testing::read_buffer(y, n), hv = testing::read_buffer(rout, n);
          for (std::int64_t i = 0; i < s.rows; ++i) {
            std::vector<double> h(static_cast<std::size_t>(s.cols));
            double mean = 0, ss = 0;
            for (std::int64_t j = 0; j < s.cols; ++j) {
              const std::size_t at = static_cast<std::size_t>(i * ld + j);
              double v = x.values[at] + (residual ? r.values[at] : 0.0);
              if (residual) v = testing::round_to_type(t, static_cast<float>(v));  // h is stored in dtype
              h[static_cast<std::size_t>(j)] = v;
              mean += v;
            }
            mean = kind == NormKind::kLayerNorm ? mean / static_cast<double>(s.cols) : 0.0;
            for (double v : h) ss += (v - mean) * (v - mean);
            const double inv = 1.0 / std::sqrt(ss / static_cast<double>(s.cols) + 1e-5);
            for (std::int64_t j = 0; j < s.cols; ++j) {
              const std::size_t at = static_cast<std::size_t>(i * ld + j);
              double v = (h[static_cast<std::size_t>(j)] - mean) * inv * gamma[static_cast<std::size_t>(j)];
              if (kind == NormKind::kLayerNorm) v += beta[static_cast<std::size_t>(j)];
              want.push_back(v);
              got.push_back(yv[at]);
              if (residual) {
                want_h.push_back(h[static_cast<std::size_t>(j)]);
                got_h.push_back(hv[at]);
              }
            }
          }
          EXPECT_TRUE(testing::all_close(got, want, 1e-5 + 4 * testing::eps_of(t), 2 * testing::eps_of(t) + 1e-5));
          EXPECT_TRUE(testing::all_close(got_h, want_h, 0, 0));  // residual_out is exactly x + residual, rounded
        }
      }
    }
  }
}

TEST(NormTest, RejectsShortLeadingDimension) {
  float x[4] = {};
  NormArgs a;
  a.rows = 2; a.cols = 2; a.x = x; a.ldx = 1; a.y = x; a.ldy = 2;
  EXPECT_EQ(cpu::norm(a).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
