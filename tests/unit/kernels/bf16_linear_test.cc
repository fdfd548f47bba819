// BF16 linear (kernels/ops/bf16_linear.h) on every ISA variant against an f64 reference over the
// bf16-rounded inputs: odd sizes (channel and input tails, odd k, row tails of the 12-row tile),
// bias + activations, the packing layout, and bad Args. Also the f32 GEMM multiplying in bf16
// (ExecContext::bf16_gemm, the same tiles): both B layouts, alpha/beta, against the same reference.
// Where the CPU has AMX, kAuto (testing::available_isas) runs the AMX tiles beside the others.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/gemm.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

// The CPU layout, packed by cpu::pack_bf16 (the CPU backend's pack hook).
std::vector<std::uint16_t> pack(const float* w, std::int64_t n, std::int64_t k, std::int64_t ldw) {
  std::vector<std::uint16_t> out(static_cast<std::size_t>(std::max<std::int64_t>(cpu::bf16_packed_bytes(n, k), 2) / 2));
  Bf16PackArgs p;
  p.n = n; p.k = k; p.w = w; p.ldw = ldw; p.dst = out.data(); p.dst_bytes = out.size() * 2;
  EXPECT_TRUE(cpu::pack_bf16(p).is_ok());
  return out;
}

double bf16_round(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// Row i of x times channel j of w in f64 over the bf16-rounded values: w is [N, K] (bt) or [K, N].
double bf16_dot(const std::vector<float>& x, std::int64_t lda, std::int64_t i, const std::vector<float>& w, std::int64_t ldb,
                std::int64_t j, std::int64_t k, bool bt) {
  double v = 0;
  for (std::int64_t t = 0; t < k; ++t) {
    const float b = bt ? w[static_cast<std::size_t>(j * ldb + t)] : w[static_cast<std::size_t>(t * ldb + j)];
    v += bf16_round(x[static_cast<std::size_t>(i * lda + t)]) * bf16_round(b);
  }
  return v;
}

TEST(Bf16LinearTest, MatchesReferenceOnEveryIsa) {
  struct S { std::int64_t m, n, k; };
  for (CpuIsa isa : testing::available_isas()) {
    for (const S s : {S{1, 1, 1}, S{5, 33, 7}, S{13, 64, 384}, S{50, 70, 31}, S{128, 96, 64}, S{0, 8, 8}, S{3, 0, 8},
                      S{97, 65, 65}, S{33, 32, 1536}}) {
      for (Activation act : {Activation::kNone, Activation::kGeluErf}) {
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                     " k=" + std::to_string(s.k) + " act=" + std::to_string(static_cast<int>(act)));
        const std::int64_t lda = s.k + 3, ldw = s.k + 1, ldc = s.n + 2;
        auto x = testing::random_floats(static_cast<std::size_t>(s.m * lda), 1);
        auto w = testing::random_floats(static_cast<std::size_t>(s.n * ldw), 2);
        auto bias = testing::random_floats(static_cast<std::size_t>(s.n), 3);
        const auto pw = pack(w.data(), s.n, s.k, ldw);
        std::vector<float> c(static_cast<std::size_t>(s.m * ldc), -7.0f);
        Bf16LinearArgs a;
        a.m = s.m; a.n = s.n; a.k = s.k; a.a = x.data(); a.lda = lda; a.w = pw.data(); a.bias = bias.data(); a.activation = act;
        a.c = c.data(); a.ldc = ldc;
        ASSERT_TRUE(cpu::bf16_linear(a, testing::ctx_for(isa)).is_ok());
        std::vector<double> want;
        std::vector<float> got;
        for (std::int64_t i = 0; i < s.m; ++i) {
          for (std::int64_t j = 0; j < s.n; ++j) {
            double v = bias[static_cast<std::size_t>(j)] + bf16_dot(x, lda, i, w, ldw, j, s.k, true);
            if (act == Activation::kGeluErf) v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
            want.push_back(v);
            got.push_back(c[static_cast<std::size_t>(i * ldc + j)]);
          }
          for (std::int64_t j = s.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], -7.0f);  // untouched
        }
        // f32 accumulation of exact bf16 products: 4e-7*(k+8) absolute (inputs in [-1, 1]).
        EXPECT_TRUE(testing::all_close(got, want, 4e-7 * static_cast<double>(s.k + 8) + 1e-6, 1e-5));
      }
    }
  }
}

TEST(Bf16LinearTest, PackedLayoutAndBadArgs) {
  const float w[3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // k_pairs = 2: one 32-channel panel of 2 pairs.
  EXPECT_EQ(cpu::bf16_packed_bytes(3, 3), 2 * 64 * 2);
  const auto pw = pack(w, 3, 3, 3);
  ASSERT_EQ(pw.size(), 2u * 64u);
  // channel 1, input 2 -> pair 1, lane 0; bf16(6.0f) = 0x40c0. The odd input 3 is zero.
  EXPECT_EQ(pw[(1 * 32 + 1) * 2 + 0], 0x40c0);
  EXPECT_EQ(pw[(1 * 32 + 1) * 2 + 1], 0);
  EXPECT_EQ(pw[(0 * 32 + 5) * 2 + 0], 0);  // channel 5 does not exist: zero
  std::vector<std::uint16_t> small(8);
  Bf16PackArgs p;
  p.n = 3; p.k = 3; p.w = w; p.ldw = 2; p.dst = small.data(); p.dst_bytes = 16;
  EXPECT_EQ(cpu::pack_bf16(p).code(), StatusCode::kInvalidArgument);  // ldw < k
  p.ldw = 3;
  EXPECT_EQ(cpu::pack_bf16(p).code(), StatusCode::kInvalidArgument);  // destination too small
  float c[4] = {};
  Bf16LinearArgs a;
  a.m = 1; a.n = 3; a.k = 3; a.a = c; a.lda = 3; a.c = c; a.ldc = 3;
  EXPECT_EQ(cpu::bf16_linear(a).code(), StatusCode::kInvalidArgument);  // no weights
  a.w = pw.data(); a.ldc = 2;
  EXPECT_EQ(cpu::bf16_linear(a).code(), StatusCode::kInvalidArgument);
}

// ExecContext::bf16_gemm: an all-f32 gemm() multiplies bf16-rounded operands (f32 accumulation)
// where the CPU has AVX512_BF16, and is the plain f32 GEMM elsewhere (and on the capped ISAs).
TEST(Bf16LinearTest, F32GemmInBf16MatchesTheBf16Reference) {
  const bool native = cpu::bf16_linear_fast();
  if (!native) std::printf("no AVX512_BF16 here: bf16_gemm must leave gemm() exactly f32\n");
  struct S { std::int64_t m, n, k; };
  int differs = 0;
  for (CpuIsa isa : testing::available_isas()) {
    for (const S s : {S{8, 1, 1}, S{13, 33, 7}, S{50, 70, 31}, S{128, 96, 64}, S{64, 384, 500}, S{9, 1536, 33}}) {
      for (const bool bt : {true, false}) {
        for (const float beta : {0.0f, 0.5f}) {
          SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                       " k=" + std::to_string(s.k) + " bt=" + std::to_string(bt) + " beta=" + std::to_string(beta));
          const std::int64_t lda = s.k + 3, ldb = (bt ? s.k : s.n) + 1, ldc = s.n + 2;
          auto x = testing::random_floats(static_cast<std::size_t>(s.m * lda), 1);
          auto w = testing::random_floats(static_cast<std::size_t>((bt ? s.n : s.k) * ldb), 2);
          auto bias = testing::random_floats(static_cast<std::size_t>(s.n), 3);
          auto c0 = testing::random_floats(static_cast<std::size_t>(s.m * ldc), 4);
          GemmArgs g;
          g.m = s.m; g.n = s.n; g.k = s.k; g.a = x.data(); g.lda = lda; g.b = w.data(); g.ldb = ldb; g.b_transposed = bt;
          g.ldc = ldc; g.bias = bias.data(); g.alpha = 0.75f; g.beta = beta; g.activation = Activation::kGeluErf;
          std::vector<float> c16 = c0, c32 = c0;
          ExecContext ctx = testing::ctx_for(isa);
          g.c = c32.data();
          ASSERT_TRUE(cpu::gemm(g, ctx).is_ok());
          ctx.bf16_gemm = true;
          g.c = c16.data();
          ASSERT_TRUE(cpu::gemm(g, ctx).is_ok());
          if (!native || (isa != CpuIsa::kAvx512Vnni && isa != CpuIsa::kAuto)) {
            EXPECT_EQ(c16, c32) << "bf16_gemm changed an f32 GEMM where bf16 does not run natively";
            continue;
          }
          std::vector<double> want;
          std::vector<float> got;
          for (std::int64_t i = 0; i < s.m; ++i) {
            for (std::int64_t j = 0; j < s.n; ++j) {
              double v = bf16_dot(x, lda, i, w, ldb, j, s.k, bt);
              v = 0.75 * v + beta * c0[static_cast<std::size_t>(i * ldc + j)] + bias[static_cast<std::size_t>(j)];
              v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
              want.push_back(v);
              got.push_back(c16[static_cast<std::size_t>(i * ldc + j)]);
              if (c16[static_cast<std::size_t>(i * ldc + j)] != c32[static_cast<std::size_t>(i * ldc + j)]) ++differs;
            }
            for (std::int64_t j = s.n; j < ldc; ++j) {  // padding untouched
              ASSERT_EQ(c16[static_cast<std::size_t>(i * ldc + j)], c0[static_cast<std::size_t>(i * ldc + j)]);
            }
          }
          EXPECT_TRUE(testing::all_close(got, want, 4e-7 * static_cast<double>(s.k + 8) + 1e-6, 1e-5));
        }
      }
    }
  }
  if (native) {
    EXPECT_GT(differs, 0) << "bf16_gemm had no effect: the bf16 tiles did not run";
  }
}

// AMX and the vdpbf16ps tiles multiply the same bf16 operands and differ only in summation
// order: on shapes with K and row tails both stay within the reference's bound, and they do
// differ somewhere (else kAuto did not reach the AMX tiles).
TEST(Bf16LinearTest, AmxTilesAgreeWithTheVectorTiles) {
  if (!cpu::amx_ready()) {
    GTEST_SKIP() << "no AMX bf16 tiles on this CPU (or the OS did not grant them): the AMX kernel is not run here";
  }
  struct S { std::int64_t m, n, k; };
  int differs = 0;
  for (const S s : {S{16, 16, 32}, S{17, 31, 33}, S{200, 96, 384}, S{64, 1536, 384}, S{40, 384, 1536}, S{130, 50, 513}}) {
    SCOPED_TRACE("m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
    const std::int64_t lda = s.k + 1, ldb = s.k + 5, ldc = s.n + 3;
    auto x = testing::random_floats(static_cast<std::size_t>(s.m * lda), 11);
    auto w = testing::random_floats(static_cast<std::size_t>(s.n * ldb), 12);
    GemmArgs g;
    g.m = s.m; g.n = s.n; g.k = s.k; g.a = x.data(); g.lda = lda; g.b = w.data(); g.ldb = ldb; g.ldc = ldc;
    std::vector<float> amx(static_cast<std::size_t>(s.m * ldc), 0.0f), vec = amx;
    ExecContext ctx;
    ctx.bf16_gemm = true;
    g.c = amx.data();
    ASSERT_TRUE(cpu::gemm(g, ctx).is_ok());
    ctx.cpu_isa = CpuIsa::kAvx512Vnni;
    g.c = vec.data();
    ASSERT_TRUE(cpu::gemm(g, ctx).is_ok());
    std::vector<double> want;
    std::vector<float> got;
    for (std::int64_t i = 0; i < s.m; ++i) {
      for (std::int64_t j = 0; j < s.n; ++j) {
        want.push_back(bf16_dot(x, lda, i, w, ldb, j, s.k, true));
        const std::size_t at = static_cast<std::size_t>(i * ldc + j);
        got.push_back(amx[at]);
        if (amx[at] != vec[at]) ++differs;
      }
    }
    EXPECT_TRUE(testing::all_close(got, want, 4e-7 * static_cast<double>(s.k + 8) + 1e-6, 1e-5));
  }
  EXPECT_GT(differs, 0) << "AMX and the vector tiles agreed bit for bit everywhere: kAuto did not run the AMX tiles";
}

}  // namespace
}  // namespace parley::kernels
