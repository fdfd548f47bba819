// 2:4 sparsity on the CPU: pruning rule, the documented compressed layout (bit for bit),
// compress/decompress round trips, sparse x dense GEMM (f32, int8; every ISA) against f64, the
// CPU pack hook, and the end-to-end error of a 2:4 MLP.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/ops/sparse24.h"
#include "tests/unit/kernels/mlp_util.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(Sparse24Test, PruneKeepsTwoLargestPerGroup) {
  std::vector<float> w = {0.1f, -3.0f, 2.0f, 0.5f,   1.0f, 1.0f, 1.0f, 1.0f,   0.0f, 0.0f, -0.2f, 0.0f};
  Prune24Args a;
  a.rows = 1; a.cols = 12; a.w = w.data(); a.ldw = 12;
  ASSERT_TRUE(prune24(a).is_ok());
  const std::vector<float> want = {0.0f, -3.0f, 2.0f, 0.0f,   1.0f, 1.0f, 0.0f, 0.0f,   0.0f, 0.0f, -0.2f, 0.0f};
  EXPECT_EQ(w, want);  // ties keep the lower columns
}

TEST(Sparse24Test, CompressedLayoutIsAsDocumented) {
  // Row 0: groups {0,-3,2,0} -> kept cols 1,2; {1,1,0,0} -> 0,1; {0,0,-0.2,0} -> 0 (zero fill), 2.
  std::vector<float> w = {0.0f, -3.0f, 2.0f, 0.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, -0.2f, 0.0f};
  testing::Sparse24Owned s = testing::compress(w.data(), 1, 12, DType::kF32);
  const float* v = reinterpret_cast<const float*>(s.values.data());
  EXPECT_EQ(std::vector<float>(v, v + 6), (std::vector<float>{-3.0f, 2.0f, 1.0f, 1.0f, 0.0f, -0.2f}));
  ASSERT_EQ(s.meta.size(), 2u);
  // group 0: first=1, second=2 -> 0b1001; group 1: 0,1 -> 0b0100; byte0 = 0x49. group 2: 0,2 -> 0b1000.
  EXPECT_EQ(s.meta[0], 0x49);
  EXPECT_EQ(s.meta[1], 0x08);
}

TEST(Sparse24Test, CompressRejectsDenseGroups) {
  std::vector<float> w = {1, 2, 3, 0};
  Compress24Args c;
  std::vector<float> vals(2);
  std::uint8_t meta = 0;
  c.rows = 1; c.cols = 4; c.w = w.data(); c.ldw = 4; c.values = vals.data(); c.values_ld = 2; c.meta = &meta; c.meta_ld = 1;
  const Status st = compress24(c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("row 0 group 0"), std::string::npos) << st.message();
}

TEST(Sparse24Test, RoundTripAndPackHook) {
  for (DType t : {DType::kF32, DType::kI8}) {
    const std::int64_t rows = 7, cols = 36;  // 9 groups: odd count exercises the last half byte
    std::vector<float> wf = testing::random_floats(static_cast<std::size_t>(rows * cols), 3);
    std::vector<std::int8_t> wi = testing::random_int8(static_cast<std::size_t>(rows * cols), 4);
    void* w = t == DType::kF32 ? static_cast<void*>(wf.data()) : static_cast<void*>(wi.data());
    Prune24Args p;
    p.rows = rows; p.cols = cols; p.w = w; p.ldw = cols; p.dtype = t;
    ASSERT_TRUE(prune24(p).is_ok());
    testing::Sparse24Owned s = testing::compress(w, rows, cols, t);
    const std::int64_t es = t == DType::kI8 ? 1 : 4;
    std::vector<std::uint8_t> back(static_cast<std::size_t>(rows * cols * es), 0xAB);
    Decompress24Args d;
    d.src = s.view; d.w = back.data(); d.ldw = cols;
    ASSERT_TRUE(decompress24(d).is_ok());
    EXPECT_EQ(std::memcmp(back.data(), w, back.size()), 0);
    // The CPU pack hook produces the kBackendPacked form, which decompresses to the same matrix.
    std::vector<std::uint8_t> packed(cpu::sparse24_packed_bytes(s.view));
    ASSERT_TRUE(cpu::pack_sparse24(s.view, packed.data(), packed.size(), {}).is_ok());
    Sparse24Matrix pv = s.view;
    pv.layout = Sparse24Layout::kBackendPacked;
    pv.values = packed.data();
    pv.meta = nullptr;
    std::fill(back.begin(), back.end(), 0xCD);
    d.src = pv;
    ASSERT_TRUE(decompress24(d).is_ok());
    EXPECT_EQ(std::memcmp(back.data(), w, back.size()), 0);
  }
}

TEST(Sparse24Test, GemmMatchesDenseReferenceEveryIsa) {
  struct S { std::int64_t m, n, k; };
  for (const S s : {S{1, 1, 4}, S{1, 70, 64}, S{3, 13, 36}, S{17, 65, 132}, S{66, 130, 256}, S{0, 4, 8}, S{4, 0, 8}}) {
    for (bool int8 : {false, true}) {
      std::vector<float> wf = testing::random_floats(static_cast<std::size_t>(s.n * s.k), 31);
      std::vector<std::int8_t> wi = testing::random_int8(static_cast<std::size_t>(s.n * s.k), 32);
      void* w = int8 ? static_cast<void*>(wi.data()) : static_cast<void*>(wf.data());
      Prune24Args p;
      p.rows = s.n; p.cols = s.k; p.w = w; p.ldw = s.k; p.dtype = int8 ? DType::kI8 : DType::kF32;
      ASSERT_TRUE(prune24(p).is_ok());
      testing::Sparse24Owned sp = testing::compress(w, s.n, s.k, p.dtype);
      std::vector<float> af = testing::random_floats(static_cast<std::size_t>(s.m * s.k), 33);
      std::vector<std::int8_t> ai = testing::random_int8(static_cast<std::size_t>(s.m * s.k), 34);
      std::vector<float> sa = testing::random_floats(static_cast<std::size_t>(s.m), 35, 0.01f, 0.02f);
      std::vector<float> sb = testing::random_floats(static_cast<std::size_t>(s.n), 36, 0.01f, 0.02f);
      std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(s.n), 37);
      std::vector<double> want(static_cast<std::size_t>(s.m * s.n));
      for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t j = 0; j < s.n; ++j) {
          double acc = 0;
          for (std::int64_t k = 0; k < s.k; ++k) {
            const std::size_t ai_ = static_cast<std::size_t>(i * s.k + k), wi_ = static_cast<std::size_t>(j * s.k + k);
            acc += int8 ? static_cast<double>(ai[ai_]) * wi[wi_] : static_cast<double>(af[ai_]) * wf[wi_];
          }
          if (int8) acc *= static_cast<double>(sa[static_cast<std::size_t>(i)]) * sb[static_cast<std::size_t>(j)];
          want[static_cast<std::size_t>(i * s.n + j)] = testing::ref_act(Activation::kRelu, acc + bias[static_cast<std::size_t>(j)]);
        }
      for (CpuIsa isa : testing::available_isas()) {
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + (int8 ? " int8" : " f32") + " m=" + std::to_string(s.m) +
                     " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
        std::vector<float> c(static_cast<std::size_t>(s.m * s.n), -7.0f);
        Sparse24GemmArgs g;
        g.m = s.m; g.n = s.n; g.k = s.k;
        g.a = int8 ? static_cast<const void*>(ai.data()) : static_cast<const void*>(af.data());
        g.lda = s.k; g.a_type = int8 ? DType::kI8 : DType::kF32; g.b = sp.view;
        g.a_scales = sa.data(); g.b_scales = sb.data(); g.bias = bias.data(); g.activation = Activation::kRelu;
        g.c = c.data(); g.ldc = s.n;
        ASSERT_TRUE(cpu::sparse24_gemm(g, testing::ctx_for(isa)).is_ok());
        EXPECT_TRUE(testing::all_close(c, want, 4e-7 * static_cast<double>(s.k + 8), 1e-5));
      }
    }
  }
}

TEST(Sparse24Test, TwoLayerMlpErrorAgainstFp32) {
  const testing::Mlp mlp = testing::make_mlp(16, 256, 1024, 9);
  const std::vector<float> w1p = testing::pruned(mlp.w1, mlp.hidden, mlp.d);
  const std::vector<float> w2p = testing::pruned(mlp.w2, mlp.d, mlp.hidden);
  const std::vector<double> dense = testing::mlp_reference(mlp, mlp.w1, mlp.w2);
  const std::vector<double> pruned_ref = testing::mlp_reference(mlp, w1p, w2p);
  for (CpuIsa isa : testing::available_isas()) {
    const std::vector<float> f32 = testing::mlp_sparse24(mlp, w1p, w2p, false, testing::ctx_for(isa));
    const std::vector<float> i8 = testing::mlp_sparse24(mlp, w1p, w2p, true, testing::ctx_for(isa));
    const double e_f32 = testing::rel_error(f32, pruned_ref), e_i8 = testing::rel_error(i8, pruned_ref);
    std::printf("[ MLP     ] 2:4 isa=%s: sparse f32 vs pruned FP32 %.2e, sparse int8 vs pruned FP32 %.4f, "
                "sparse f32 vs dense FP32 (pruning itself, random weights) %.3f\n",
                std::string(cpu_isa_name(isa)).c_str(), e_f32, e_i8, testing::rel_error(f32, dense));
    EXPECT_LT(e_f32, 1e-5);
    EXPECT_LT(e_i8, 0.03);
  }
}

}  // namespace
}  // namespace parley::kernels
