// Tests for the passage index: INT8 exact search against float brute force, and input checks.
#include "services/qa/index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace parley::qa {
namespace {

std::vector<float> random_unit(std::mt19937& rng, int dim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(static_cast<std::size_t>(dim));
  double s = 0;
  for (auto& x : v) {
    x = n(rng);
    s += double(x) * x;
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

TEST(Int8ExactIndex, MatchesFloatBruteForceUpToQuantizationError) {
  constexpr int kDim = 384;
  constexpr std::size_t kRows = 2000;
  constexpr std::size_t kK = 10;
  std::mt19937 rng(42);
  Int8ExactIndex int8(kDim);
  FloatExactIndex ref(kDim);
  std::vector<std::vector<float>> rows;
  for (std::size_t i = 0; i < kRows; ++i) {
    rows.push_back(random_unit(rng, kDim));
    ASSERT_TRUE(int8.add(rows.back()).is_ok());
    ASSERT_TRUE(ref.add(rows.back()).is_ok());
  }
  EXPECT_EQ(int8.memory_bytes(), kRows * kDim + kRows * sizeof(float));
  constexpr float kEps = 0.01f;  // per-score error bound measured far below this for unit vectors
  for (int q = 0; q < 50; ++q) {
    // Queries near a stored row, so the top hits are well separated from the rest.
    auto query = rows[static_cast<std::size_t>(q) * 37];
    auto noise = random_unit(rng, kDim);
    for (int d = 0; d < kDim; ++d) query[static_cast<std::size_t>(d)] += 0.5f * noise[static_cast<std::size_t>(d)];
    auto got = int8.search(query, kK);
    auto want = ref.search(query, kRows);  // every row, exactly scored
    ASSERT_EQ(got.size(), kK);
    std::vector<float> exact(kRows);
    for (const auto& h : want) exact[h.row] = h.score;
    EXPECT_EQ(got[0].row, want[0].row) << "query " << q;
    for (std::size_t i = 0; i < kK; ++i) {
      EXPECT_NEAR(got[i].score, exact[got[i].row], kEps);
      if (i > 0) {
        EXPECT_GE(got[i - 1].score, got[i].score);
      }
      // Any true top-k row missing from the INT8 top-k must be within the error band of the cut.
      bool found = false;
      for (const auto& g : got) found = found || g.row == want[i].row;
      if (!found) {
        EXPECT_LE(want[i].score, want[kK - 1].score + 2 * kEps) << "query " << q << " rank " << i;
      }
    }
  }
}

TEST(Int8ExactIndex, RejectsBadVectorsAndHandlesSmallK) {
  Int8ExactIndex idx(4);
  EXPECT_EQ(idx.add(std::vector<float>{1, 0, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(idx.add(std::vector<float>{1, NAN, 0, 0}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(idx.add(std::vector<float>{1, 0, 0, 0}).is_ok());
  ASSERT_TRUE(idx.add(std::vector<float>{0, 1, 0, 0}).is_ok());
  auto hits = idx.search(std::vector<float>{0, 1, 0, 0}, 5);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].row, 1u);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-3);
  EXPECT_TRUE(idx.search(std::vector<float>{0, 1}, 5).empty());
  EXPECT_TRUE(idx.search(std::vector<float>{0, 1, 0, 0}, 0).empty());
}

TEST(MakeIndex, KnownKindsAndAClearErrorOtherwise) {
  EXPECT_EQ((*make_index("int8-exact", 8))->kind(), "int8-exact");
  EXPECT_EQ((*make_index("float-exact", 8))->kind(), "float-exact");
  auto bad = make_index("hnsw", 8);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("known: int8-exact"), std::string::npos);
}

}  // namespace
}  // namespace parley::qa
