// Float GEMM on the CPU (every ISA variant) against an f64 reference: dtypes, layouts, odd and
// empty shapes, alpha/beta, bias + activation epilogues, GGUF-quantized weights.
#include <gtest/gtest.h>

#include <tuple>

#include "kernels/ops/gemm.h"
#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

using testing::TypedBuffer;

struct Shape3 {
  std::int64_t m, n, k;
};

std::vector<double> ref_gemm(const GemmArgs& g, const std::vector<float>& a, const std::vector<float>& b,
                             const std::vector<float>& c_old) {
  std::vector<double> out(static_cast<std::size_t>(g.m * g.n));
  for (std::int64_t i = 0; i < g.m; ++i) {
    for (std::int64_t j = 0; j < g.n; ++j) {
      double acc = 0;
      for (std::int64_t k = 0; k < g.k; ++k) {
        const double bv = g.b_transposed ? b[static_cast<std::size_t>(j * g.ldb + k)] : b[static_cast<std::size_t>(k * g.ldb + j)];
        acc += static_cast<double>(a[static_cast<std::size_t>(i * g.lda + k)]) * bv;
      }
      double v = g.alpha * acc;
      if (g.beta != 0.0f) v += g.beta * static_cast<double>(c_old[static_cast<std::size_t>(i * g.ldc + j)]);
      if (g.bias) v += g.bias[j];
      out[static_cast<std::size_t>(i * g.n + j)] = testing::ref_act(g.activation, v);
    }
  }
  return out;
}

struct Case {
  Shape3 s;
  DType a, b, c;
  bool b_transposed;
  Activation act;
  float alpha, beta;
  bool bias;
};

void run_case(const Case& cs, CpuIsa isa) {
  const std::int64_t m = cs.s.m, n = cs.s.n, k = cs.s.k;
  // Leading dimensions a little larger than the rows, to catch ld mix-ups.
  const std::int64_t lda = k + 3, ldb = cs.b_transposed ? k + 1 : n + 2, ldc = n + 5;
  const std::size_t b_elems = static_cast<std::size_t>(cs.b_transposed ? n * ldb : k * ldb);
  TypedBuffer A = testing::make_buffer(cs.a, testing::random_floats(static_cast<std::size_t>(m * lda), 1 + m));
  TypedBuffer B = testing::make_buffer(cs.b, testing::random_floats(b_elems, 2 + n));
  TypedBuffer C = testing::make_buffer(cs.c, testing::random_floats(static_cast<std::size_t>(m * ldc), 3 + k));
  std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(n), 4);
  const std::vector<float> c_old = C.values;

  GemmArgs g;
  g.m = m; g.n = n; g.k = k;
  g.a = A.data(); g.lda = lda; g.a_type = cs.a;
  g.b = B.data(); g.ldb = ldb; g.b_type = cs.b; g.b_transposed = cs.b_transposed;
  g.c = C.data(); g.ldc = ldc; g.c_type = cs.c;
  g.bias = cs.bias ? bias.data() : nullptr;
  g.activation = cs.act; g.alpha = cs.alpha; g.beta = cs.beta;
  ASSERT_TRUE(cpu::gemm(g, testing::ctx_for(isa)).is_ok());

  const std::vector<double> want = ref_gemm(g, A.values, B.values, c_old);
  const std::vector<float> all = testing::read_buffer(C, static_cast<std::size_t>(m * ldc));
  std::vector<float> got(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) got[static_cast<std::size_t>(i * n + j)] = all[static_cast<std::size_t>(i * ldc + j)];
  // f32 accumulation of k products of |x| <= 1: error grows ~ k * 2^-24 (plus output rounding).
  const double atol = 4e-7 * static_cast<double>(k + 8) + 2 * testing::eps_of(cs.c);
  const double rtol = 2 * testing::eps_of(cs.c) + 1e-5;
  EXPECT_TRUE(testing::all_close(got, want, atol, rtol));
  // Padding between rows of C is never written.
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = n; j < ldc; ++j)
      EXPECT_EQ(all[static_cast<std::size_t>(i * ldc + j)], testing::round_to_type(cs.c, c_old[static_cast<std::size_t>(i * ldc + j)]));
}

const Shape3 kShapes[] = {{1, 1, 1},   {1, 37, 19},  {3, 5, 7},     {4, 64, 128}, {5, 33, 17},
                          {17, 129, 65}, {64, 96, 300}, {130, 70, 513}, {1, 300, 1000}, {2, 9, 1},
                          {0, 5, 5},   {5, 0, 5},    {5, 5, 0}};

TEST(GemmTest, F32AllShapesEveryIsa) {
  for (CpuIsa isa : testing::available_isas()) {
    for (const Shape3& s : kShapes) {
      for (bool bt : {true, false}) {
        SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                     " k=" + std::to_string(s.k) + (bt ? " B[N,K]" : " B[K,N]"));
        run_case({s, DType::kF32, DType::kF32, DType::kF32, bt, Activation::kNone, 1.0f, 0.0f, false}, isa);
      }
    }
  }
}

TEST(GemmTest, MixedDtypesAndEpiloguesEveryIsa) {
  const std::tuple<DType, DType, DType> dtypes[] = {
      {DType::kF16, DType::kF16, DType::kF32},  {DType::kBF16, DType::kBF16, DType::kBF16},
      {DType::kF32, DType::kF16, DType::kF16},  {DType::kF32, DType::kBF16, DType::kF32},
      {DType::kF16, DType::kF32, DType::kBF16}};
  const Shape3 shapes[] = {{1, 33, 40}, {3, 17, 65}, {9, 70, 129}, {40, 40, 33}};
  const Activation acts[] = {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu, Activation::kRelu};
  for (CpuIsa isa : testing::available_isas()) {
    int v = 0;
    for (const auto& [ta, tb, tc] : dtypes) {
      for (const Shape3& s : shapes) {
        for (bool bt : {true, false}) {
          const Activation act = acts[v % 4];
          const float beta = (v % 3 == 0) ? 0.5f : 0.0f;
          ++v;
          SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::string(engine::dtype_name(ta)) + "x" +
                       std::string(engine::dtype_name(tb)) + "->" + std::string(engine::dtype_name(tc)) + " m=" +
                       std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) + " act=" +
                       std::string(activation_name(act)) + (bt ? " B[N,K]" : " B[K,N]"));
          run_case({s, ta, tb, tc, bt, act, 0.75f, beta, true}, isa);
        }
      }
    }
  }
}

TEST(GemmTest, GgufQuantizedWeightsEveryIsa) {
  for (DType qt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    for (const Shape3 s : {Shape3{1, 40, 64}, Shape3{3, 17, 96}, Shape3{9, 33, 288}, Shape3{20, 70, 32}}) {
      const std::int64_t row_bytes = engine::row_bytes(qt, s.k);
      std::vector<float> wf = testing::random_floats(static_cast<std::size_t>(s.n * s.k), 7);
      std::vector<std::uint8_t> wq(static_cast<std::size_t>(s.n * row_bytes));
      GgufQuantizeArgs q;
      q.rows = s.n; q.cols = s.k; q.x = wf.data(); q.ldx = s.k; q.type = qt; q.y = wq.data();
      ASSERT_TRUE(cpu::gguf_quantize(q).is_ok());
      std::vector<float> wd(static_cast<std::size_t>(s.n * s.k));
      GgufDequantizeArgs dq;
      dq.rows = s.n; dq.cols = s.k; dq.x = wq.data(); dq.type = qt; dq.y = wd.data(); dq.ldy = s.k;
      ASSERT_TRUE(cpu::gguf_dequantize(dq).is_ok());
      std::vector<float> a = testing::random_floats(static_cast<std::size_t>(s.m * s.k), 8);
      std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(s.n), 9);
      GemmArgs g;
      g.m = s.m; g.n = s.n; g.k = s.k;
      g.a = a.data(); g.lda = s.k;
      g.b = wq.data(); g.ldb = s.k; g.b_type = qt;
      g.bias = bias.data(); g.activation = Activation::kSilu;
      std::vector<double> want = ref_gemm([&] { GemmArgs r = g; r.b_type = DType::kF32; return r; }(), a, wd, {});
      for (CpuIsa isa : testing::available_isas()) {
        SCOPED_TRACE(std::string(engine::dtype_name(qt)) + " " + std::string(cpu_isa_name(isa)) + " m=" + std::to_string(s.m));
        std::vector<float> c(static_cast<std::size_t>(s.m * s.n), -99.0f);
        g.c = c.data(); g.ldc = s.n;
        ASSERT_TRUE(cpu::gemm(g, testing::ctx_for(isa)).is_ok());
        EXPECT_TRUE(testing::all_close(c, want, 4e-7 * static_cast<double>(s.k + 8), 1e-5));
      }
    }
  }
}

TEST(GemmTest, RejectsBadArguments) {
  float x[4] = {};
  GemmArgs g;
  g.m = 2; g.n = 2; g.k = 2; g.a = x; g.lda = 1; g.b = x; g.ldb = 2; g.c = x; g.ldc = 2;
  EXPECT_EQ(cpu::gemm(g).code(), StatusCode::kInvalidArgument);  // lda < k
  g.lda = 2; g.b_type = DType::kI8;
  EXPECT_EQ(cpu::gemm(g).code(), StatusCode::kInvalidArgument);  // int8 B belongs to gemm_int8
  g.b_type = DType::kQ4_0;
  EXPECT_EQ(cpu::gemm(g).code(), StatusCode::kInvalidArgument);  // K not a multiple of 32
  g.b_type = DType::kF32; g.c = nullptr;
  EXPECT_EQ(cpu::gemm(g).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels

namespace parley::kernels {
namespace {

// The vector activations (exp, erfc, tanh) of the SIMD epilogues over a wide input range:
// GEMM with K = 1, A = 1 gives C = act(B).
TEST(GemmTest, EpilogueActivationsMatchLibmEveryIsa) {
  const std::int64_t n = 2001;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) x[static_cast<std::size_t>(j)] = -20.0f + 0.02f * static_cast<float>(j);
  const float one = 1.0f;
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu, Activation::kRelu}) {
    std::vector<double> want(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) want[j] = testing::ref_act(act, x[j]);
    for (CpuIsa isa : testing::available_isas()) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::string(activation_name(act)));
      for (std::int64_t m : {1, 8}) {  // both the small-M and the packed path
        std::vector<float> ones(static_cast<std::size_t>(m), one), c(static_cast<std::size_t>(m * n));
        GemmArgs g;
        g.m = m; g.n = n; g.k = 1; g.a = ones.data(); g.lda = 1; g.b = x.data(); g.ldb = 1;
        g.c = c.data(); g.ldc = n; g.activation = act;
        ASSERT_TRUE(cpu::gemm(g, testing::ctx_for(isa)).is_ok());
        EXPECT_TRUE(testing::all_close(std::vector<float>(c.begin(), c.begin() + n), want, 1e-7, 2e-6));
      }
    }
  }
}

}  // namespace
}  // namespace parley::kernels
