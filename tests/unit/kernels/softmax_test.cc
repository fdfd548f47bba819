// Masked, scaled softmax on the CPU against an f64 reference (additive masks with row mapping,
// causal blocks, fully masked rows).
#include <gtest/gtest.h>

#include <limits>

#include "kernels/ops/softmax.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(SoftmaxTest, MaskedScaledCausalMatchReference) {
  const float ninf = -std::numeric_limits<float>::infinity();
  // Scores [B=2, H=3, Q=4, K] flattened: key-padding mask [B, K] (mask_row_div = H*Q). K = 7 and
  // 37 (vector tails of the AVX-512 rows, and a causal limit inside a vector).
  for (const std::int64_t K : {std::int64_t{7}, std::int64_t{37}})
  for (CpuIsa isa : testing::available_isas()) {
  const std::int64_t B = 2, H = 3, Q = 4, rows = B * H * Q;
  std::vector<float> mask(static_cast<std::size_t>(B * K), 0.0f);
  for (std::int64_t j = 5; j < K; ++j) mask[static_cast<std::size_t>(1 * K + j)] = ninf;  // batch 1 has 5 keys
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (bool causal : {false, true}) {
      auto x = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(rows * K), 6, -4.0f, 4.0f));
      auto y = testing::zero_buffer(t, static_cast<std::size_t>(rows * K));
      SoftmaxArgs a;
      a.rows = rows; a.cols = K; a.dtype = t; a.x = x.data(); a.ldx = K; a.y = y.data(); a.ldy = K;
      a.scale = 0.5f; a.mask = mask.data(); a.ld_mask = K; a.mask_rows = B; a.mask_row_div = H * Q;
      a.causal = causal; a.causal_queries = Q; a.causal_offset = K - Q;
      ASSERT_TRUE(cpu::softmax(a, testing::ctx_for(isa)).is_ok());
      std::vector<double> want;
      for (std::int64_t r = 0; r < rows; ++r) {
        std::vector<double> z(static_cast<std::size_t>(K));
        double mx = -1e300;
        for (std::int64_t j = 0; j < K; ++j) {
          double v = 0.5 * x.values[static_cast<std::size_t>(r * K + j)] + mask[static_cast<std::size_t>((r / (H * Q)) % B * K + j)];
          if (causal && j > r % Q + (K - Q)) v = -INFINITY;
          z[static_cast<std::size_t>(j)] = v;
          mx = std::max(mx, v);
        }
        double sum = 0;
        for (double& v : z) sum += (v = std::exp(v - mx));
        for (double v : z) want.push_back(v / sum);
      }
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " K=" + std::to_string(K) + " " + std::string(engine::dtype_name(t)) +
                   (causal ? " causal" : ""));
      EXPECT_TRUE(testing::all_close(testing::read_buffer(y, want.size()), want, 1e-6 + testing::eps_of(t), 2 * testing::eps_of(t)));
    }
  }
  }
}

TEST(SoftmaxTest, FullyMaskedRowIsZerosNotNan) {
  const float ninf = -std::numeric_limits<float>::infinity();
  std::vector<float> x = {1, 2, 3}, mask = {ninf, ninf, ninf}, y(3, 9.0f);
  SoftmaxArgs a;
  a.rows = 1; a.cols = 3; a.x = x.data(); a.ldx = 3; a.y = y.data(); a.ldy = 3; a.mask = mask.data(); a.ld_mask = 3;
  for (CpuIsa isa : testing::available_isas()) {
    y.assign(3, 9.0f);
    ASSERT_TRUE(cpu::softmax(a, testing::ctx_for(isa)).is_ok());
    EXPECT_EQ(y, (std::vector<float>{0, 0, 0})) << cpu_isa_name(isa);
  }
  a.rows = 0;
  EXPECT_TRUE(cpu::softmax(a).is_ok());
}

}  // namespace
}  // namespace parley::kernels
