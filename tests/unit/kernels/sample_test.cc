// Sampling on the CPU: argmax ties, determinism per (seed, step), top-k / top-p support, the
// empirical distribution against softmax, log-probs, and the RNG's documented formula.
#include <gtest/gtest.h>

#include <map>

#include "kernels/ops/sample.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

std::int32_t draw(const std::vector<float>& logits, float temp, int top_k, float top_p, std::uint64_t seed, std::uint64_t step) {
  std::int32_t tok = -1;
  SampleArgs a;
  a.batch = 1; a.vocab = static_cast<std::int64_t>(logits.size()); a.logits = logits.data(); a.ld_logits = a.vocab;
  a.temperature = temp; a.top_k = top_k; a.top_p = top_p; a.seed = seed; a.step = step; a.out_tokens = &tok;
  EXPECT_TRUE(cpu::sample(a).is_ok());
  return tok;
}

TEST(SampleTest, ArgmaxAndTies) {
  std::vector<float> x = {0.1f, 3.0f, -1.0f, 3.0f, 2.0f};
  EXPECT_EQ(draw(x, 0.0f, 0, 1.0f, 1, 0), 1);   // lowest index among equal maxima
  EXPECT_EQ(draw(x, 0.7f, 1, 1.0f, 1, 0), 1);   // top_k = 1 is greedy
  // Batched, with per-row seeds and log-probs.
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 5.0f, 4.0f, 3.0f};
  std::vector<std::int32_t> toks(2);
  std::vector<float> lp(2);
  SampleArgs a;
  a.batch = 2; a.vocab = 3; a.logits = logits.data(); a.ld_logits = 3; a.temperature = 0.0f; a.out_tokens = toks.data();
  a.out_logprobs = lp.data();
  ASSERT_TRUE(cpu::sample(a).is_ok());
  EXPECT_EQ(toks, (std::vector<std::int32_t>{2, 0}));
  const double lse = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0));
  EXPECT_NEAR(lp[0], 2.0 - lse, 1e-6);
}

TEST(SampleTest, SeededDrawsAreDeterministicAndVary) {
  const auto x = testing::random_floats(1000, 3, -2.0f, 2.0f);
  EXPECT_EQ(draw(x, 1.0f, 0, 1.0f, 42, 7), draw(x, 1.0f, 0, 1.0f, 42, 7));
  std::map<std::int32_t, int> seen;
  for (std::uint64_t step = 0; step < 50; ++step) ++seen[draw(x, 1.0f, 0, 1.0f, 42, step)];
  EXPECT_GT(seen.size(), 20u);  // different steps give different draws
  // The documented RNG.
  EXPECT_EQ(sample_uniform(1, 2), static_cast<float>(splitmix64(1 ^ splitmix64(2)) >> 40) / 16777216.0f);
  EXPECT_GE(sample_uniform(0, 0), 0.0f);
  EXPECT_LT(sample_uniform(~0ull, ~0ull), 1.0f);
}

TEST(SampleTest, TopKTopPSupportAndDistribution) {
  const std::vector<float> x = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 1.5f};
  // top_k = 3 keeps tokens {0, 5, 1}.
  for (std::uint64_t s = 0; s < 300; ++s) {
    const auto t = draw(x, 1.3f, 3, 1.0f, s, 0);
    EXPECT_TRUE(t == 0 || t == 5 || t == 1) << t;
  }
  // top_p: probabilities (T=1) ~ [0.39, 0.14, 0.09, 0.05, 0.02, 0.24]... sorted 0 (.39), 5 (.24), 1 (.14):
  // top_p = 0.6 keeps {0, 5} (0.63 >= 0.6).
  for (std::uint64_t s = 0; s < 300; ++s) {
    const auto t = draw(x, 1.0f, 0, 0.6f, s, 0);
    EXPECT_TRUE(t == 0 || t == 5) << t;
  }
  // Empirical distribution with no filtering matches softmax within sampling noise.
  std::vector<int> count(x.size(), 0);
  const int n = 20000;
  for (int s = 0; s < n; ++s) ++count[static_cast<std::size_t>(draw(x, 1.0f, 0, 1.0f, static_cast<std::uint64_t>(s), 3))];
  double z = 0;
  for (float v : x) z += std::exp(v);
  for (std::size_t j = 0; j < x.size(); ++j) {
    const double p = std::exp(x[j]) / z;
    EXPECT_NEAR(count[j] / static_cast<double>(n), p, 4 * std::sqrt(p * (1 - p) / n) + 1e-3) << "token " << j;
  }
}

TEST(SampleTest, RejectsNanAndBadTopP) {
  std::vector<float> x = {0.0f, NAN};
  std::int32_t tok;
  SampleArgs a;
  a.batch = 1; a.vocab = 2; a.logits = x.data(); a.ld_logits = 2; a.out_tokens = &tok;
  EXPECT_EQ(cpu::sample(a).code(), StatusCode::kInvalidArgument);
  x[1] = 1.0f;
  a.top_p = 0.0f;
  EXPECT_EQ(cpu::sample(a).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
