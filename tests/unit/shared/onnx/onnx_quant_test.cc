// The ONNX runtime's quantized values (QDQ models) and LayerNormalization on tiny generated
// models: QuantizeLinear -> DequantizeLinear fused into one round trip gives exactly what the two
// nodes give apart; per-axis scales; int8 weights stored as int32_data; 8-bit values refused by
// ops that cannot read them (naming the node); LayerNormalization's broadcast Scale and its Mean /
// InvStdDev outputs; Cast to uint8 refused. Depends on shared/onnx, onnx_test_builder.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "shared/onnx/model.h"
#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/int8_linear.h"
#include "tests/unit/shared/onnx/onnx_test_builder.h"

namespace parley::onnx {
namespace {

// x -> QuantizeLinear(s, zp) -> DequantizeLinear(s, zp) -> Mul(w) with w = DequantizeLinear(int8
// per-channel weights), like a QDQ linear layer.
Builder qdq_model() {
  Builder b(18);
  b.input("x", 1, {-1, 3});
  b.init_floats("s", {}, {0.05f});
  b.init_8bit("zp", 2, {}, {128});
  b.init_8bit("wq", 3, {3}, {-100, 7, 127});
  b.init_floats("ws", {3}, {0.01f, 0.5f, 0.001f});
  b.init_8bit("wzp", 3, {3}, {0, 1, -1});
  auto* wdq = b.node("DequantizeLinear", {"wq", "ws", "wzp"}, {"w"}, "/w_dq");
  auto* ax = wdq->add_attribute();
  ax->set_name("axis");
  ax->set_type(::onnx::AttributeProto::INT);
  ax->set_i(0);
  b.node("QuantizeLinear", {"x", "s", "zp"}, {"xq"}, "/q");
  b.node("DequantizeLinear", {"xq", "s", "zp"}, {"xd"}, "/dq");
  b.node("Mul", {"xd", "w"}, {"y"}, "/mul");
  b.output("y");
  return b;
}

// The first output of two models on the same "x" (empty where a run failed, with the error).
std::pair<std::vector<float>, std::vector<float>> run_both(const std::shared_ptr<const Model>& ma,
                                                           const std::shared_ptr<const Model>& mb, const Tensor& x) {
  Session a(ma), b(mb);
  auto ya = a.run({{"x", x}});
  auto yb = b.run({{"x", x}});
  EXPECT_TRUE(ya.ok()) << ya.status().to_string();
  EXPECT_TRUE(yb.ok()) << yb.status().to_string();
  return {ya.ok() ? (*ya)[0].to_vector<float>() : std::vector<float>{}, yb.ok() ? (*yb)[0].to_vector<float>() : std::vector<float>{}};
}

TEST(OnnxQuant, FusedRoundTripEqualsTheTwoNodes) {
  LoadOptions apart;
  apart.fuse_quantize_dequantize = false;
  auto fused = qdq_model().load();
  auto split = qdq_model().load(apart);
  ASSERT_TRUE(fused.ok()) << fused.status().to_string();
  ASSERT_TRUE(split.ok()) << split.status().to_string();
  // The fused graph lost the DequantizeLinear node (and runs the round trip instead).
  EXPECT_EQ((*fused)->data().graphs[0].nodes.size() + 1, (*split)->data().graphs[0].nodes.size());
  std::vector<float> xs;
  for (int i = 0; i < 60; ++i) xs.push_back(-8.0f + 0.2725f * static_cast<float>(i));  // saturates at both ends
  xs.push_back(0.025f);  // exactly half a step: rounds to even (0)
  xs.push_back(0.075f);  // 1.5 steps: rounds to even (2)
  xs.push_back(-0.025f);
  while (xs.size() % 3 != 0) xs.push_back(0.0f);
  auto x = Tensor::from_vector<float>({static_cast<std::int64_t>(xs.size() / 3), 3}, xs);
  const auto [va, vb] = run_both(*fused, *split, *x);
  ASSERT_EQ(va.size(), xs.size());
  ASSERT_EQ(vb.size(), xs.size());
  const float* pa = va.data();
  const float* pb = vb.data();
  const float w[3] = {-100 * 0.01f, 6 * 0.5f, 128 * 0.001f};
  for (std::size_t i = 0; i < xs.size(); ++i) {
    ASSERT_EQ(pa[i], pb[i]) << i;
    // The reference arithmetic: saturate(rint(x / s) + 128) in [0, 255], minus 128, times s.
    const float q = std::clamp(std::nearbyint(xs[i] / 0.05f) + 128.0f, 0.0f, 255.0f);
    EXPECT_FLOAT_EQ(pa[i], (q - 128.0f) * 0.05f * w[i % 3]) << "x=" << xs[i];
  }
}

// A QDQ linear layer: x -> QuantizeLinear/DequantizeLinear (uint8, zero point 130) -> MatMul with
// B = DequantizeLinear(8-bit [k, n], per-column scales). The loader packs B's integers and the
// MatMul multiplies integers exactly (fusion.h, mark/pack_integer_matmuls): int8 weights go to
// the int8 linear where the CPU has AVX-512 VNNI, uint8 weights with a zero point (integers up
// to 255, past int8) to the bf16 linear where it has AVX512_BF16. The result must equal the
// integer arithmetic to f32 summation error, and the f32 path too.
void check_integer_matmul(bool int8_weights) {
  constexpr std::int64_t k = 40, n = 33, m = 7;
  const int w_zero = int8_weights ? 0 : 100;
  std::vector<int> wq;
  std::vector<float> ws;
  for (std::int64_t i = 0; i < k * n; ++i) wq.push_back(static_cast<int>((i * 37) % 255) - (int8_weights ? 127 : 0));
  for (std::int64_t j = 0; j < n; ++j) ws.push_back(0.001f * static_cast<float>(j + 1));
  auto model = [&] {
    Builder b(18);
    b.input("x", 1, {-1, k});
    b.init_floats("s", {}, {0.05f});
    b.init_8bit("zp", 2, {}, {130});
    b.init_8bit("wq", int8_weights ? 3 : 2, {k, n}, wq);
    b.init_floats("ws", {n}, ws);
    if (int8_weights) {
      b.node("DequantizeLinear", {"wq", "ws"}, {"w"}, "/w_dq");  // axis 1 (the default): per column
    } else {
      b.init_8bit("wzp", 2, {n}, std::vector<int>(static_cast<std::size_t>(n), w_zero));
      b.node("DequantizeLinear", {"wq", "ws", "wzp"}, {"w"}, "/w_dq");
    }
    b.node("QuantizeLinear", {"x", "s", "zp"}, {"xq"}, "/q");
    b.node("DequantizeLinear", {"xq", "s", "zp"}, {"xd"}, "/dq");
    b.node("MatMul", {"xd", "w"}, {"y"}, "/matmul");
    b.output("y");
    return b;
  };
  LoadOptions plain;
  plain.fuse = false;
  auto fused = model().load();
  auto unfused = model().load(plain);
  ASSERT_TRUE(fused.ok()) << fused.status().to_string();
  ASSERT_TRUE(unfused.ok()) << unfused.status().to_string();
  auto has_packed = [](const Model& md, const char* attr) {
    for (const Node& node : md.data().graphs[0].nodes) {
      if (node.op_type == "MatMul") return node.attr(attr) != nullptr;
    }
    return false;
  };
  const bool want_int8 = int8_weights && kernels::cpu::int8_linear_fast();
  EXPECT_EQ(has_packed(**fused, "_int_b_packed_i8"), want_int8);
  EXPECT_EQ(has_packed(**fused, "_int_b_packed"), !want_int8 && kernels::cpu::bf16_linear_fast())
      << "packed for bf16 iff not for int8 and the CPU runs bf16 linears fast";
  EXPECT_FALSE(has_packed(**unfused, "_int_b_packed_i8"));
  EXPECT_FALSE(has_packed(**unfused, "_int_b_packed"));
  std::vector<float> xs;
  for (std::int64_t i = 0; i < m * k; ++i) xs.push_back(-7.0f + 0.0371f * static_cast<float>((i * 53) % 377));
  auto x = Tensor::from_vector<float>({m, k}, xs);
  const auto [va, vb] = run_both(*fused, *unfused, *x);
  ASSERT_EQ(va.size(), static_cast<std::size_t>(m * n));
  ASSERT_EQ(vb.size(), static_cast<std::size_t>(m * n));
  const float* pa = va.data();
  const float* pb = vb.data();
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0, mag = 0;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        const double q = std::clamp(std::nearbyint(xs[static_cast<std::size_t>(i * k + kk)] / 0.05f) + 130.0f, 0.0f, 255.0f) - 130.0;
        const double term = q * (wq[static_cast<std::size_t>(kk * n + j)] - w_zero);
        acc += term;
        mag += std::abs(term);
      }
      const double scale = 0.05 * static_cast<double>(ws[static_cast<std::size_t>(j)]);
      const std::size_t at = static_cast<std::size_t>(i * n + j);
      EXPECT_NEAR(pa[at], acc * scale, (1e-6 * mag + 1e-3) * scale) << i << "," << j;
      EXPECT_NEAR(pb[at], acc * scale, (1e-5 * mag + 1e-3) * scale) << i << "," << j;
    }
  }
}

TEST(OnnxQuant, IntegerMatMulOverQuantizedValuesIsExact) { check_integer_matmul(/*int8_weights=*/true); }

// Attention's products in a QDQ model: both MatMul operands are round trips (uint8, zero points
// 130 and b_zero), batched [2, m, k] x [2, k, n]. Where the CPU has AVX-512 VNNI they run on the
// int8 linear (B's bytes packed per call, the zero points' share as row offsets): the result must
// equal the integer arithmetic to f32 rounding, and the unfused f32 path too. b_zero 128 takes
// the path without row offsets.
void check_activation_matmul(int b_zero) {
  constexpr std::int64_t batch = 2, m = 13, k = 37, n = 19;
  auto model = [&] {
    Builder b(18);
    b.input("x", 1, {batch, m, k});
    b.input("z", 1, {batch, k, n});
    b.init_floats("sx", {}, {0.05f});
    b.init_8bit("zx", 2, {}, {130});
    b.init_floats("sz", {}, {0.02f});
    b.init_8bit("zz", 2, {}, {b_zero});
    b.node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"}, "/qx");
    b.node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"}, "/dqx");
    b.node("QuantizeLinear", {"z", "sz", "zz"}, {"zq"}, "/qz");
    b.node("DequantizeLinear", {"zq", "sz", "zz"}, {"zd"}, "/dqz");
    b.node("MatMul", {"xd", "zd"}, {"y"}, "/matmul");
    b.output("y");
    return b;
  };
  LoadOptions plain;
  plain.fuse = false;
  auto fused = model().load();
  auto unfused = model().load(plain);
  ASSERT_TRUE(fused.ok()) << fused.status().to_string();
  ASSERT_TRUE(unfused.ok()) << unfused.status().to_string();
  auto marked = [](const Model& md) {
    for (const Node& node : md.data().graphs[0].nodes) {
      if (node.op_type == "MatMul") return node.attr("_int_b_dyn_scale") != nullptr;
    }
    return false;
  };
  EXPECT_TRUE(marked(**fused));
  EXPECT_FALSE(marked(**unfused));
  std::vector<float> xs, zs;
  for (std::int64_t i = 0; i < batch * m * k; ++i) xs.push_back(-7.0f + 0.0371f * static_cast<float>((i * 53) % 377));
  for (std::int64_t i = 0; i < batch * k * n; ++i) zs.push_back(-3.0f + 0.0173f * static_cast<float>((i * 29) % 401));
  auto x = Tensor::from_vector<float>({batch, m, k}, xs);
  auto z = Tensor::from_vector<float>({batch, k, n}, zs);
  Session sa(*fused), sb(*unfused);
  auto ya = sa.run({{"x", *x}, {"z", *z}});
  auto yb = sb.run({{"x", *x}, {"z", *z}});
  ASSERT_TRUE(ya.ok()) << ya.status().to_string();
  ASSERT_TRUE(yb.ok()) << yb.status().to_string();
  const auto va = (*ya)[0].to_vector<float>(), vb = (*yb)[0].to_vector<float>();
  ASSERT_EQ(va.size(), static_cast<std::size_t>(batch * m * n));
  ASSERT_EQ(vb.size(), va.size());
  auto code = [](float v, float s, int zero) { return std::clamp(std::nearbyint(v / s) + static_cast<float>(zero), 0.0f, 255.0f) - zero; };
  for (std::int64_t bi = 0; bi < batch; ++bi) {
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0, mag = 0;
        for (std::int64_t kk = 0; kk < k; ++kk) {
          const double term = static_cast<double>(code(xs[static_cast<std::size_t>((bi * m + i) * k + kk)], 0.05f, 130)) *
                              code(zs[static_cast<std::size_t>((bi * k + kk) * n + j)], 0.02f, b_zero);
          acc += term;
          mag += std::abs(term);
        }
        const double scale = 0.05 * 0.02;
        const std::size_t at = static_cast<std::size_t>((bi * m + i) * n + j);
        EXPECT_NEAR(va[at], acc * scale, (1e-6 * mag + 1e-3) * scale) << bi << "," << i << "," << j;
        EXPECT_NEAR(vb[at], acc * scale, (1e-5 * mag + 1e-3) * scale) << bi << "," << i << "," << j;
      }
    }
  }
}

TEST(OnnxQuant, MatMulOfTwoRoundTripsIsExact) { check_activation_matmul(/*b_zero=*/90); }
TEST(OnnxQuant, MatMulOfTwoRoundTripsWithZeroPoint128IsExact) { check_activation_matmul(/*b_zero=*/128); }
TEST(OnnxQuant, IntegerMatMulOverUint8WeightsIsExact) { check_integer_matmul(/*int8_weights=*/false); }

TEST(OnnxQuant, QuantizedValuesOnlyReachOpsThatReadThem) {
  Builder b(18);
  b.input("x", 1, {4});
  b.init_floats("s", {}, {0.1f});
  b.init_8bit("zp", 2, {}, {0});
  b.node("QuantizeLinear", {"x", "s", "zp"}, {"q"}, "/q");
  b.node("Relu", {"q"}, {"y"}, "/relu");
  b.output("y");
  auto m = b.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/relu' (Relu): input 'q' is uint8; Relu does not compute with quantized values"),
            std::string::npos)
      << m.status().message();

  Builder c(18);
  c.input("x", 1, {4});
  auto* n = c.node("Cast", {"x"}, {"y"}, "/cast");
  auto* a = n->add_attribute();
  a->set_name("to");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(2);  // uint8
  c.output("y");
  m = c.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/cast' (Cast)"), std::string::npos) << m.status().message();

  // A per-axis scale that does not match the axis is a run-time error naming the node.
  Builder d(18);
  d.input("x", 1, {2, 3});
  d.init_floats("s", {2}, {0.1f, 0.2f});
  d.node("QuantizeLinear", {"x", "s"}, {"y"}, "/q");  // axis 1 (default) has 3 entries
  d.output("y");
  m = d.load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  Session s(*m);
  auto x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto r = s.run({{"x", *x}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node '/q' (QuantizeLinear): scale float[2] does not match axis 1"), std::string::npos)
      << r.status().message();
}

TEST(OnnxQuant, LayerNormBroadcastScaleAndStatistics) {
  Builder b(17);
  b.input("x", 1, {2, 4});
  b.init_floats("g", {1}, {2.0f});  // broadcast to the normalized shape [4]
  b.init_floats("bias", {4}, {0, 1, 0, 1});
  b.node("LayerNormalization", {"x", "g", "bias"}, {"y", "mean", "inv"}, "/ln");
  b.output("y");
  b.output("mean");
  b.output("inv");
  auto m = b.load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  Session s(*m);
  auto x = Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, -1, -1, 5, 5});
  auto r = s.run({{"x", *x}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const float* y = (*r)[0].data<float>();
  const float* mean = (*r)[1].data<float>();
  const float* inv = (*r)[2].data<float>();
  EXPECT_EQ((*r)[1].dims(), (Dims{2, 1}));
  EXPECT_FLOAT_EQ(mean[0], 2.5f);
  EXPECT_FLOAT_EQ(mean[1], 2.0f);
  EXPECT_NEAR(inv[0], 1.0 / std::sqrt(1.25 + 1e-5), 1e-5);
  EXPECT_NEAR(inv[1], 1.0 / std::sqrt(9.0 + 1e-5), 1e-5);
  EXPECT_NEAR(y[0], 2.0 * (1 - 2.5) * inv[0] + 0, 1e-5);
  EXPECT_NEAR(y[7], 2.0 * (5 - 2.0) * inv[1] + 1, 1e-5);
}

}  // namespace
}  // namespace parley::onnx
