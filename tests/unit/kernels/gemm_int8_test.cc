// INT8 GEMM on the CPU (every ISA variant): exact int32 accumulators against an int64
// reference (odd shapes, K tails), scaled/fused epilogues against f64, and the end-to-end error
// of a W8A8 two-layer MLP against FP32.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/mlp_util.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

struct Shape3 {
  std::int64_t m, n, k;
};

const Shape3 kShapes[] = {{1, 1, 1},    {1, 5, 63},   {2, 7, 65},     {3, 9, 129},   {4, 4, 64},
                          {5, 13, 200}, {67, 70, 385}, {1, 300, 1000}, {130, 33, 31}, {8, 1536, 96},
                          {48, 40, 128}, {96, 64, 384}, {0, 4, 4}, {4, 0, 4}, {4, 4, 0}};

TEST(GemmInt8Test, ExactAccumulatorsEveryIsa) {
  for (const Shape3& s : kShapes) {
    const std::int64_t lda = s.k + 5, ldb = s.k + 3, ldc = s.n + 2;
    auto a = testing::random_int8(static_cast<std::size_t>(s.m * lda), 11 + s.k);
    auto b = testing::random_int8(static_cast<std::size_t>(s.n * ldb), 12 + s.n);
    // Extremes included: +-127 everywhere in the first row/column.
    if (s.m > 0) for (std::int64_t k = 0; k < s.k; ++k) a[static_cast<std::size_t>(k)] = (k % 2) ? 127 : -127;
    if (s.n > 0) for (std::int64_t k = 0; k < s.k; ++k) b[static_cast<std::size_t>(k)] = -127;
    for (CpuIsa isa : testing::available_isas()) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                   " k=" + std::to_string(s.k));
      std::vector<std::int32_t> c(static_cast<std::size_t>(std::max<std::int64_t>(1, s.m * ldc)), 12345);
      GemmInt8Args g;
      g.m = s.m; g.n = s.n; g.k = s.k;
      g.a = a.data(); g.lda = lda; g.b = b.data(); g.ldb = ldb;
      g.c = c.data(); g.ldc = ldc; g.c_type = DType::kI32;
      ASSERT_TRUE(cpu::gemm_int8(g, testing::ctx_for(isa)).is_ok());
      for (std::int64_t i = 0; i < s.m; ++i) {
        for (std::int64_t j = 0; j < s.n; ++j) {
          std::int64_t want = 0;
          for (std::int64_t k = 0; k < s.k; ++k) want += a[static_cast<std::size_t>(i * lda + k)] * b[static_cast<std::size_t>(j * ldb + k)];
          ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], want) << "at " << i << "," << j;
        }
        for (std::int64_t j = s.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], 12345);
      }
    }
  }
}

TEST(GemmInt8Test, ScaledEpilogueEveryIsa) {
  const Activation acts[] = {Activation::kNone, Activation::kGeluErf, Activation::kSilu, Activation::kGeluTanh};
  int v = 0;
  for (const Shape3 s : {Shape3{1, 37, 70}, Shape3{6, 19, 64}, Shape3{33, 50, 129}}) {
    for (DType ct : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (bool per_tensor : {false, true}) {
        const Activation act = acts[v++ % 4];
        auto a = testing::random_int8(static_cast<std::size_t>(s.m * s.k), 21);
        auto b = testing::random_int8(static_cast<std::size_t>(s.n * s.k), 22);
        auto sa = testing::random_floats(static_cast<std::size_t>(s.m), 23, 1e-3f, 2e-3f);
        auto sb = testing::random_floats(static_cast<std::size_t>(s.n), 24, 1e-3f, 2e-3f);
        auto bias = testing::random_floats(static_cast<std::size_t>(s.n), 25);
        std::vector<double> want(static_cast<std::size_t>(s.m * s.n));
        for (std::int64_t i = 0; i < s.m; ++i)
          for (std::int64_t j = 0; j < s.n; ++j) {
            std::int64_t acc = 0;
            for (std::int64_t k = 0; k < s.k; ++k) acc += a[static_cast<std::size_t>(i * s.k + k)] * b[static_cast<std::size_t>(j * s.k + k)];
            const double scale = static_cast<double>(per_tensor ? sa[0] : sa[static_cast<std::size_t>(i)]) *
                                 (per_tensor ? sb[0] : sb[static_cast<std::size_t>(j)]);
            want[static_cast<std::size_t>(i * s.n + j)] = testing::ref_act(act, static_cast<double>(acc) * scale + bias[static_cast<std::size_t>(j)]);
          }
        for (CpuIsa isa : testing::available_isas()) {
          SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::string(engine::dtype_name(ct)) + " act=" +
                       std::string(activation_name(act)) + (per_tensor ? " per-tensor" : " per-channel"));
          testing::TypedBuffer c = testing::zero_buffer(ct, static_cast<std::size_t>(s.m * s.n));
          GemmInt8Args g;
          g.m = s.m; g.n = s.n; g.k = s.k;
          g.a = a.data(); g.lda = s.k; g.b = b.data(); g.ldb = s.k;
          g.a_scales = sa.data(); g.a_per_tensor = per_tensor; g.b_scales = sb.data(); g.b_per_tensor = per_tensor;
          g.bias = bias.data(); g.activation = act;
          g.c = c.data(); g.ldc = s.n; g.c_type = ct;
          ASSERT_TRUE(cpu::gemm_int8(g, testing::ctx_for(isa)).is_ok());
          EXPECT_TRUE(testing::all_close(testing::read_buffer(c, want.size()), want, 2e-6 + testing::eps_of(ct),
                                         2 * testing::eps_of(ct) + 2e-6));
        }
      }
    }
  }
}

TEST(GemmInt8Test, TwoLayerMlpErrorAgainstFp32) {
  const testing::Mlp mlp = testing::make_mlp(/*tokens=*/16, /*d=*/256, /*hidden=*/1024, /*seed=*/5);
  const std::vector<double> want = testing::mlp_reference(mlp, mlp.w1, mlp.w2);
  for (CpuIsa isa : testing::available_isas()) {
    const std::vector<float> got = testing::mlp_int8(mlp, testing::ctx_for(isa));
    const double err = testing::rel_error(got, want);
    std::printf("[ MLP     ] W8A8 (per-channel weights, per-token activations) vs FP32, isa=%s: relative error %.4f\n",
                std::string(cpu_isa_name(isa)).c_str(), err);
    EXPECT_LT(err, 0.03);
    EXPECT_GT(err, 1e-5);  // it IS quantized: an exact match would mean the int8 path was skipped
  }
}

TEST(GemmInt8Test, RejectsMissingScales) {
  std::int8_t x[4] = {};
  float c[4];
  GemmInt8Args g;
  g.m = 2; g.n = 2; g.k = 2; g.a = x; g.lda = 2; g.b = x; g.ldb = 2; g.c = c; g.ldc = 2;
  EXPECT_EQ(cpu::gemm_int8(g).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
