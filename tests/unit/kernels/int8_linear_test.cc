// INT8 linear on packed weights (kernels/ops/int8_linear.h) on every ISA variant against exact
// integer sums over the unpacked weights: channel and input tails (k % 4, n % 32), row tails of
// the 12-row tile, zero points at both ends of [0, 255] with extreme bytes (255 x -128), bias +
// activations, per-row offsets, the packing layout, and bad Args.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/int8_linear.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

std::vector<std::int8_t> pack(const std::int8_t* w, std::int64_t n, std::int64_t k, std::int64_t ldw) {
  std::vector<std::int8_t> out(static_cast<std::size_t>(std::max<std::int64_t>(cpu::int8_packed_bytes(n, k), 1)));
  Int8PackArgs p;
  p.n = n; p.k = k; p.w = w; p.ldw = ldw; p.dst = out.data(); p.dst_bytes = out.size();
  EXPECT_TRUE(cpu::pack_int8(p).is_ok());
  return out;
}

TEST(Int8LinearTest, MatchesExactIntegerSumsOnEveryIsa) {
  struct S { std::int64_t m, n, k; int zero; };
  std::mt19937 rng(7);
  for (CpuIsa isa : testing::available_isas()) {
    for (const S s : {S{1, 1, 1, 0}, S{5, 33, 7, 255}, S{13, 64, 384, 128}, S{50, 70, 31, 3}, S{400, 96, 66, 77},
                      S{97, 40, 1536, 255}, S{0, 8, 8, 0}, S{3, 0, 8, 0}, S{4, 5, 0, 9}}) {
      for (Activation act : {Activation::kNone, Activation::kGeluErf}) {
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                     " k=" + std::to_string(s.k) + " zero=" + std::to_string(s.zero));
        const std::int64_t lda = s.k + 3, ldw = s.k + 1, ldc = s.n + 2;
        std::vector<std::uint8_t> x(static_cast<std::size_t>(s.m * lda));
        std::vector<std::int8_t> w(static_cast<std::size_t>(s.n * ldw));
        // Mostly random bytes, and the extremes, whose products are the largest (255 * -128).
        for (auto& v : x) v = static_cast<std::uint8_t>(rng() % 4 == 0 ? 255 : rng() % 256);
        for (auto& v : w) v = static_cast<std::int8_t>(rng() % 4 == 0 ? -128 : static_cast<int>(rng() % 256) - 128);
        auto scales = testing::random_floats(static_cast<std::size_t>(s.n), 3, 1e-5f, 1e-3f);
        auto bias = testing::random_floats(static_cast<std::size_t>(s.n), 4);
        std::vector<std::int32_t> offsets(static_cast<std::size_t>(s.m));
        for (auto& v : offsets) v = static_cast<std::int32_t>(rng() % 200001) - 100000;
        const bool with_offsets = s.n % 2 == 1;  // half the shapes add per-row offsets
        auto row_scales = testing::random_floats(static_cast<std::size_t>(s.m), 5, 0.5f, 2.0f);
        const bool with_row_scales = s.m % 2 == 1;
        const auto pw = pack(w.data(), s.n, s.k, ldw);
        std::vector<float> c(static_cast<std::size_t>(s.m * ldc), -7.0f);
        Int8LinearArgs a;
        a.m = s.m; a.n = s.n; a.k = s.k; a.a = x.data(); a.lda = lda; a.a_zero = s.zero; a.w = pw.data();
        a.scales = scales.data(); a.bias = bias.data(); a.row_offsets = with_offsets ? offsets.data() : nullptr;
        a.row_scales = with_row_scales ? row_scales.data() : nullptr; a.activation = act; a.c = c.data(); a.ldc = ldc;
        ASSERT_TRUE(cpu::int8_linear(a, testing::ctx_for(isa)).is_ok());
        std::vector<double> want;
        std::vector<float> got;
        for (std::int64_t i = 0; i < s.m; ++i) {
          for (std::int64_t j = 0; j < s.n; ++j) {
            std::int64_t sum = with_offsets ? offsets[static_cast<std::size_t>(i)] : 0;
            for (std::int64_t t = 0; t < s.k; ++t) {
              sum += (static_cast<std::int64_t>(x[static_cast<std::size_t>(i * lda + t)]) - s.zero) *
                     w[static_cast<std::size_t>(j * ldw + t)];
            }
            const double row = with_row_scales ? row_scales[static_cast<std::size_t>(i)] : 1.0;
            double v = static_cast<double>(static_cast<float>(sum)) * row * scales[static_cast<std::size_t>(j)] +
                       bias[static_cast<std::size_t>(j)];
            if (act == Activation::kGeluErf) v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
            want.push_back(v);
            got.push_back(c[static_cast<std::size_t>(i * ldc + j)]);
          }
          for (std::int64_t j = s.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], -7.0f);  // untouched
        }
        // The sums are exact: only the f32 epilogue (one product, one sum, the activation) rounds.
        EXPECT_TRUE(testing::all_close(got, want, 1e-6, 1e-6));
      }
    }
  }
}

// Symmetric int8 activations as bytes + 128 (zero point 128) with per-row scales give gemm_int8's
// result bit for bit (exact sums, the same epilogue order): models may switch between the two.
TEST(Int8LinearTest, EqualsGemmInt8WithRowScales) {
  std::mt19937 rng(11);
  for (CpuIsa isa : testing::available_isas()) {
    for (const std::int64_t m : {16, 97, 500}) {
      const std::int64_t n = 70, k = 384;
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(m));
      std::vector<std::int8_t> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k));
      for (auto& v : x) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
      for (auto& v : w) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
      std::vector<std::uint8_t> xu(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) xu[i] = static_cast<std::uint8_t>(x[i] + 128);
      const auto sa = testing::random_floats(static_cast<std::size_t>(m), 6, 1e-3f, 3e-3f);
      const auto sb = testing::random_floats(static_cast<std::size_t>(n), 7, 1e-3f, 3e-3f);
      const auto bias = testing::random_floats(static_cast<std::size_t>(n), 8);
      std::vector<float> want(static_cast<std::size_t>(m * n)), got(want.size());
      GemmInt8Args g;
      g.m = m; g.n = n; g.k = k; g.a = x.data(); g.lda = k; g.b = w.data(); g.ldb = k; g.a_scales = sa.data();
      g.b_scales = sb.data(); g.bias = bias.data(); g.activation = Activation::kGeluErf; g.c = want.data(); g.ldc = n;
      ASSERT_TRUE(cpu::gemm_int8(g, testing::ctx_for(isa)).is_ok());
      const auto pw = pack(w.data(), n, k, k);
      Int8LinearArgs a;
      a.m = m; a.n = n; a.k = k; a.a = xu.data(); a.lda = k; a.a_zero = 128; a.w = pw.data(); a.scales = sb.data();
      a.row_scales = sa.data(); a.bias = bias.data(); a.activation = Activation::kGeluErf; a.c = got.data(); a.ldc = n;
      ASSERT_TRUE(cpu::int8_linear(a, testing::ctx_for(isa)).is_ok());
      if (isa == CpuIsa::kAvx512Vnni || isa == CpuIsa::kAuto) {  // AMX sums are exact too
        for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << i;
      } else {  // the scalar references order their epilogues differently: a few ulp
        EXPECT_TRUE(testing::all_close(got, std::vector<double>(want.begin(), want.end()), 1e-6, 1e-6));
      }
    }
  }
}

TEST(Int8LinearTest, PackedLayoutAndBadArgs) {
  const std::int8_t w[3 * 5] = {1, 2, 3, 4, 5, -6, -7, -8, -9, -10, 11, 12, 13, 14, -128};
  // q_count = 2: one 32-channel panel of 2 groups of 4 inputs, then 32 int32 column sums.
  EXPECT_EQ(cpu::int8_packed_bytes(3, 5), 2 * 128 + 32 * 4);
  const auto pw = pack(w, 3, 5, 5);
  ASSERT_EQ(pw.size(), 2u * 128u + 128u);
  EXPECT_EQ(pw[(0 * 32 + 1) * 4 + 2], -8);   // channel 1, input 2
  EXPECT_EQ(pw[(1 * 32 + 2) * 4 + 0], -128); // channel 2, input 4
  EXPECT_EQ(pw[(1 * 32 + 2) * 4 + 1], 0);    // past k: zero
  EXPECT_EQ(pw[(0 * 32 + 5) * 4 + 0], 0);    // channel 5 does not exist: zero
  const auto* colsum = reinterpret_cast<const std::int32_t*>(pw.data() + 256);
  EXPECT_EQ(colsum[0], 15);
  EXPECT_EQ(colsum[1], -40);
  EXPECT_EQ(colsum[2], 11 + 12 + 13 + 14 - 128);
  std::vector<std::int8_t> small(8);
  Int8PackArgs p;
  p.n = 3; p.k = 5; p.w = w; p.ldw = 4; p.dst = small.data(); p.dst_bytes = small.size();
  EXPECT_EQ(cpu::pack_int8(p).code(), StatusCode::kInvalidArgument);  // ldw < k
  p.ldw = 5;
  EXPECT_EQ(cpu::pack_int8(p).code(), StatusCode::kInvalidArgument);  // destination too small
  std::uint8_t x[5] = {};
  float scales[3] = {1, 1, 1}, c[3] = {};
  Int8LinearArgs a;
  a.m = 1; a.n = 3; a.k = 5; a.a = x; a.lda = 5; a.scales = scales; a.c = c; a.ldc = 3;
  EXPECT_EQ(cpu::int8_linear(a).code(), StatusCode::kInvalidArgument);  // no weights
  a.w = pw.data(); a.a_zero = 256;
  EXPECT_EQ(cpu::int8_linear(a).code(), StatusCode::kInvalidArgument);  // zero point out of range
  a.a_zero = 0; a.ldc = 2;
  EXPECT_EQ(cpu::int8_linear(a).code(), StatusCode::kInvalidArgument);  // ldc < n
  a.ldc = 3;
  EXPECT_TRUE(cpu::int8_linear(a).is_ok());
}

}  // namespace
}  // namespace parley::kernels
