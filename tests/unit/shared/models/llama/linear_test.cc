// Tests of Linear: every precision against the f32 product, the Hadamard rotation (orthogonal,
// self-inverse, exact in f32, and what it is for: int8 error on inputs with outlier channels).
// Depends on shared/models/llama/linear.h, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shared/models/llama/linear.h"

namespace parley::llama {
namespace {

std::vector<float> randn(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<double> matmul(const std::vector<float>& x, const std::vector<float>& w, std::int64_t m, std::int64_t n, std::int64_t k) {
  std::vector<double> y(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double a = 0;
      for (std::int64_t c = 0; c < k; ++c) a += static_cast<double>(x[i * k + c]) * w[j * k + c];
      y[i * n + j] = a;
    }
  return y;
}

double rel_err(const std::vector<float>& y, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(Hadamard, OrthogonalAndSelfInverse) {
  EXPECT_EQ(hadamard_block(576), 64);
  EXPECT_EQ(hadamard_block(1536), 512);
  EXPECT_EQ(hadamard_block(4096), 512);
  EXPECT_EQ(hadamard_block(24), 0);
  auto x = randn(64, 1);
  auto y = x;
  hadamard_inplace(y.data(), 64);
  double nx = 0, ny = 0;
  for (int i = 0; i < 64; ++i) { nx += x[i] * x[i]; ny += y[i] * y[i]; }
  EXPECT_NEAR(nx, ny, 1e-4 * nx);
  hadamard_inplace(y.data(), 64);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(y[i], x[i], 1e-5);
  std::vector<float> e(8, 0.0f);
  e[0] = 1.0f;  // a spike spreads evenly: every output is 1/sqrt(8)
  hadamard_inplace(e.data(), 8);
  for (float v : e) EXPECT_NEAR(v, 1.0f / std::sqrt(8.0f), 1e-6);
}

// Host scratch for apply() on the CPU (the device is the host).
struct HostScratch {
  std::vector<std::int8_t> xq;
  std::vector<float> xs;
  LinearScratch view(std::int64_t m, std::int64_t k) {
    xq.resize(static_cast<std::size_t>(m * k));
    xs.resize(static_cast<std::size_t>(m));
    return {xq.data(), xs.data()};
  }
};

TEST(Linear, PrecisionsAgainstF32Product) {
  const std::int64_t m = 5, n = 48, k = 192;
  const auto w = randn(static_cast<std::size_t>(n * k), 2, 0.05f);
  const auto x = randn(static_cast<std::size_t>(m * k), 3);
  const auto ref = matmul(x, w, m, n, k);
  HostScratch s;
  const auto ctx = models::ModelDevice::cpu();
  for (bool rotate : {false, true}) {
    for (Precision p : {Precision::kFp32, Precision::kInt8}) {
      auto l = Linear::from_f32(w, n, k, p, Prune24::kOff, ctx, rotate);
      ASSERT_TRUE(l.ok());
      EXPECT_EQ(l->rotation_block(), p == Precision::kInt8 && rotate ? 64 : 0);
      std::vector<float> y(static_cast<std::size_t>(m * n));
      ASSERT_TRUE(l->apply(m, x.data(), k, y.data(), n, s.view(m, k), ctx).is_ok());
      EXPECT_LT(rel_err(y, ref), p == Precision::kFp32 ? 1e-6 : 0.02) << precision_name(p) << " rotate " << rotate;
      // to_f32 undoes the rotation: it is the weight apply() multiplies by.
      const auto back = l->to_f32();
      double err = 0;
      for (std::size_t i = 0; i < w.size(); ++i) err = std::max(err, static_cast<double>(std::abs(back[i] - w[i])));
      EXPECT_LT(err, p == Precision::kFp32 ? 0.0 + 1e-12 : 0.002) << precision_name(p) << " rotate " << rotate;
    }
  }
}

TEST(Linear, RotationRescuesInt8FromOutlierChannels) {
  const std::int64_t m = 8, n = 64, k = 256;
  const auto w = randn(static_cast<std::size_t>(n * k), 4, 0.05f);
  auto x = randn(static_cast<std::size_t>(m * k), 5);
  for (std::int64_t i = 0; i < m; ++i) x[i * k + 17] = 60.0f;  // one massive channel, as in LLMs
  const auto ref = matmul(x, w, m, n, k);
  HostScratch s;
  const auto ctx = models::ModelDevice::cpu();
  double err[2];
  for (int rotate = 0; rotate < 2; ++rotate) {
    auto l = Linear::from_f32(w, n, k, Precision::kInt8, Prune24::kOff, ctx, rotate == 1);
    std::vector<float> y(static_cast<std::size_t>(m * n));
    ASSERT_TRUE(l->apply(m, x.data(), k, y.data(), n, s.view(m, k), ctx).is_ok());
    err[rotate] = rel_err(y, ref);
  }
  std::cout << "[ INFO     ] int8 relative error with an outlier channel: plain " << err[0] << ", rotated " << err[1] << "\n";
  EXPECT_LT(err[1], err[0] / 2);
}

}  // namespace
}  // namespace parley::llama
