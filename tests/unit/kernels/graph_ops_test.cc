// The ONNX runtime's kernels on their own: conv1d's fast paths (AVX-512 direct tiles with and
// without the weight reordering, im2col GEMM, col2im transposed) against the scalar reference
// path, and the graph ops' edge cases (broadcast strides, integer division by zero, out-of-range
// gather indices, cumulative sums). Why: shared/onnx's conformance cases are small; these cover
// the long-sequence and partial-tile paths a vocoder takes. Depends on kernels/.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops/conv1d.h"
#include "kernels/ops/elementwise.h"
#include "kernels/ops/gather.h"
#include "kernels/ops/reduce.h"

namespace parley::kernels {
namespace {

std::vector<float> random_vec(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

struct ConvCase {
  bool transposed;
  std::int64_t cin, cout, len, ks, stride, pad, dil, output_padding = 0;
};

TEST(Conv1dPaths, FastPathsMatchTheScalarReference) {
  const ConvCase cases[] = {
      {false, 32, 32, 3000, 7, 1, 9, 3},   // long: reordered weights
      {false, 19, 29, 700, 5, 1, 2, 1},    // partial channel block, reordered
      {false, 19, 29, 100, 5, 1, 2, 1},    // short: weights read in place, zero-padded tail block
      {false, 192, 384, 40, 5, 1, 2, 1},   // text-rate layer
      {false, 32, 1, 3000, 7, 1, 3, 1},    // one output channel (HiFi-GAN's conv_post): narrow tiles
      {false, 12, 3, 1000, 5, 1, 4, 2},    // three output channels, dilated, partial last span
      {false, 16, 24, 500, 3, 2, 1, 1},    // stride 2: im2col GEMM path
      {true, 64, 32, 200, 8, 4, 2, 1},     // transposed: phases of direct tiles
      {true, 256, 128, 40, 16, 8, 4, 1},   // HiFi-GAN's first upsampling
      {true, 8, 8, 50, 3, 4, 0, 1, 2},     // kernel shorter than the stride: phases with no tap; output_padding
      {true, 16, 12, 60, 16, 8, 7, 1},     // padding near the kernel size
      {true, 6, 5, 33, 4, 2, 1, 2},        // dilated: GEMM + col2im
  };
  for (const ConvCase& c : cases) {
    Conv1dArgs a;
    a.output_padding = c.output_padding;
    a.transposed = c.transposed;
    a.batch = 2;
    a.in_channels = c.cin;
    a.out_channels = c.cout;
    a.in_length = c.len;
    a.kernel_size = c.ks;
    a.stride = c.stride;
    a.padding = c.pad;
    a.dilation = c.dil;
    const std::int64_t lout = conv1d_output_length(a);
    auto x = random_vec(static_cast<std::size_t>(2 * c.cin * c.len), 1);
    auto w = random_vec(static_cast<std::size_t>(c.cin * c.cout * c.ks), 2);
    auto b = random_vec(static_cast<std::size_t>(c.cout), 3);
    std::vector<float> fast(static_cast<std::size_t>(2 * c.cout * lout)), ref(fast.size());
    a.x = x.data();
    a.w = w.data();
    a.bias = b.data();
    a.y = fast.data();
    ASSERT_TRUE(cpu::conv1d(a).is_ok());
    ExecContext scalar;
    scalar.cpu_isa = CpuIsa::kScalar;
    a.y = ref.data();
    ASSERT_TRUE(cpu::conv1d(a, scalar).is_ok());
    double worst = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(fast[i]) - ref[i]));
    EXPECT_LT(worst, 1e-4 * std::sqrt(static_cast<double>(c.cin * c.ks)))
        << (c.transposed ? "transposed " : "") << c.cin << "->" << c.cout << " len " << c.len << " k" << c.ks;
  }
}

// The fused input transform (x * scale, then LeakyReLU) and residual (added after the bias,
// before the activation) on every CPU path against the plain scalar path run on a transformed
// input with the residual added afterwards.
TEST(Conv1dPaths, FusedInputTransformAndResidualMatchTheUnfusedOps) {
  const ConvCase cases[] = {
      {false, 32, 32, 3000, 7, 1, 9, 3},   // direct, reordered weights
      {false, 19, 29, 100, 5, 1, 2, 1},    // direct, weights in place, partial block
      {false, 16, 24, 500, 3, 2, 1, 1},    // im2col GEMM
      {false, 24, 16, 300, 1, 1, 0, 1},    // 1x1: the GEMM reads a transformed copy, not x itself
      {false, 32, 1, 3000, 7, 1, 3, 1},    // narrow tiles
      {true, 64, 32, 200, 8, 4, 2, 1},     // transposed
      {true, 32, 16, 77, 16, 8, 4, 1},     // transposed, HiFi-GAN upsampling
  };
  for (const ConvCase& c : cases) {
    for (Activation act : {Activation::kNone, Activation::kSilu}) {
      Conv1dArgs a;
      a.transposed = c.transposed;
      a.batch = 2;
      a.in_channels = c.cin;
      a.out_channels = c.cout;
      a.in_length = c.len;
      a.kernel_size = c.ks;
      a.stride = c.stride;
      a.padding = c.pad;
      a.dilation = c.dil;
      a.activation = act;
      const std::int64_t lout = conv1d_output_length(a);
      auto x = random_vec(static_cast<std::size_t>(2 * c.cin * c.len), 4);
      auto w = random_vec(static_cast<std::size_t>(c.cin * c.cout * c.ks), 5);
      auto b = random_vec(static_cast<std::size_t>(c.cout), 6);
      auto r = random_vec(static_cast<std::size_t>(2 * c.cout * lout), 7);
      // The unfused reference: transform x, conv with no activation, + residual, activation.
      std::vector<float> xt(x.size()), ref(r.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const float v = x[i] / 3.0f;
        xt[i] = v < 0 ? v * 0.1f : v;
      }
      ExecContext scalar;
      scalar.cpu_isa = CpuIsa::kScalar;
      a.x = xt.data();
      a.w = w.data();
      a.bias = b.data();
      a.y = ref.data();
      a.activation = Activation::kNone;
      ASSERT_TRUE(cpu::conv1d(a, scalar).is_ok());
      for (std::size_t i = 0; i < ref.size(); ++i) {
        const float v = ref[i] + r[i];
        ref[i] = act == Activation::kSilu ? v / (1.0f + std::exp(-v)) : v;
      }
      a.activation = act;
      a.x = x.data();
      a.input_leaky = true;
      a.input_slope = 0.1f;
      a.input_scale = 1.0f / 3.0f;
      a.residual = r.data();
      for (const ExecContext& ctx : {ExecContext::cpu(), scalar}) {
        std::vector<float> fused(ref.size());
        a.y = fused.data();
        ASSERT_TRUE(cpu::conv1d(a, ctx).is_ok());
        double worst = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(fused[i]) - ref[i]));
        EXPECT_LT(worst, 1e-4 * std::sqrt(static_cast<double>(c.cin * c.ks)))
            << (c.transposed ? "transposed " : "") << c.cin << "->" << c.cout << " len " << c.len << " k" << c.ks
            << (ctx.cpu_isa == CpuIsa::kScalar ? " (scalar)" : " (fast path)") << " act " << static_cast<int>(act);
      }
    }
  }
}

TEST(GraphOps, ElementwiseBroadcastAndIntegerEdgeCases) {
  // [2, 3] + [3] (row broadcast) and int64 division by zero -> 0.
  std::vector<float> x = {1, 2, 3, 4, 5, 6}, r = {10, 20, 30}, y(6);
  ElementwiseArgs e;
  e.op = EwOp::kAdd;
  e.rank = 2;
  e.dims[0] = 2;
  e.dims[1] = 3;
  e.a = x.data();
  e.a_strides[0] = 3;
  e.a_strides[1] = 1;
  e.b = r.data();
  e.b_strides[1] = 1;
  e.y = y.data();
  ASSERT_TRUE(cpu::elementwise(e).is_ok());
  EXPECT_EQ(y, (std::vector<float>{11, 22, 33, 14, 25, 36}));
  std::vector<std::int64_t> n = {7, -7, 5}, d = {2, 2, 0}, q(3);
  ElementwiseArgs div;
  div.op = EwOp::kDiv;
  div.rank = 1;
  div.dims[0] = 3;
  div.a = n.data();
  div.a_type = ElemType::kI64;
  div.a_strides[0] = 1;
  div.b = d.data();
  div.b_type = ElemType::kI64;
  div.b_strides[0] = 1;
  div.y = q.data();
  div.y_type = ElemType::kI64;
  ASSERT_TRUE(cpu::elementwise(div).is_ok());
  EXPECT_EQ(q, (std::vector<std::int64_t>{3, -3, 0}));
}

TEST(GraphOps, GatherChecksIndicesAndReduceScans) {
  std::vector<float> table = {0, 1, 2, 3, 4, 5}, out(4);
  std::vector<std::int64_t> idx = {2, -1};
  GatherArgs g;
  g.kind = GatherKind::kGather;
  g.outer = 1;
  g.axis_dim = 3;
  g.inner = 2;
  g.n = 2;
  g.x = table.data();
  g.indices = idx.data();
  g.y = out.data();
  ASSERT_TRUE(cpu::gather(g).is_ok());
  EXPECT_EQ(out, (std::vector<float>{4, 5, 4, 5}));
  idx[1] = 3;
  const Status bad = cpu::gather(g);
  EXPECT_EQ(bad.code(), StatusCode::kOutOfRange);
  EXPECT_NE(bad.message().find("index 3 at position 1 is outside [-3, 3)"), std::string::npos) << bad.message();
  std::vector<float> v = {1, 2, 3, 4}, s(4);
  ReduceArgs c;
  c.kind = ReduceKind::kCumSum;
  c.outer = 1;
  c.n = 4;
  c.inner = 1;
  c.x = v.data();
  c.y = s.data();
  c.exclusive = true;
  c.reverse = true;
  ASSERT_TRUE(cpu::reduce(c).is_ok());
  EXPECT_EQ(s, (std::vector<float>{9, 7, 4, 0}));
}

}  // namespace
}  // namespace parley::kernels
