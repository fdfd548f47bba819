// The ONNX runtime's load-time checks and run-time behaviour on tiny models built here with the
// protobuf API: unsupported op / opset / domain, truncated and corrupt files, dangling inputs,
// bad initializers, 2-D Conv, bad run inputs, run errors naming the node, cancellation, constant
// folding, the memory plan, and RandomNormalLike statistics.
// Why: "a corrupt or unsupported .onnx gets a clear error naming the node" is a promise; these
// pin every message. Depends on shared/onnx, the generated onnx.pb.h (parley_onnx_proto).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "onnx/onnx.pb.h"
#include "shared/onnx/model.h"
#include "tests/unit/shared/onnx/onnx_test_builder.h"

namespace parley::onnx {
namespace {

Builder add_relu() {
  Builder b;
  b.input("x", 1, {-1, 3});
  b.init_floats("w", {3}, {1, -2, 3});
  b.node("Add", {"x", "w"}, {"s"});
  b.node("Relu", {"s"}, {"y"});
  b.output("y");
  return b;
}

TEST(OnnxModel, RunsATinyGraph) {
  auto model = add_relu().load();
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Session s(*model);
  auto x = Tensor::from_vector<float>({2, 3}, {1, 1, 1, -5, 0, 0});
  auto out = s.run({{"x", *x}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ((*out)[0].to_vector<float>(), (std::vector<float>{2, 0, 4, 0, 0, 3}));
  EXPECT_EQ((*model)->inputs()[0].dims, (Dims{-1, 3}));
}

TEST(OnnxModel, UnknownOperatorNamesTheNode) {
  Builder b;
  b.input("x", 1, {2});
  b.node("FancyOp", {"x"}, {"y"}, "/encoder/fancy");
  b.output("y");
  auto m = b.load();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(m.status().message().find("node '/encoder/fancy' (FancyOp): unsupported operator 'FancyOp'"), std::string::npos)
      << m.status().message();
}

TEST(OnnxModel, UnsupportedOpsetAndDomain) {
  Builder future(19);
  future.input("x", 1, {2});
  future.node("Relu", {"x"}, {"y"});
  future.output("y");
  auto m = future.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("opset 19 is not supported (1..18)"), std::string::npos) << m.status().message();

  Builder pad10(10);
  pad10.input("x", 1, {2});
  pad10.node("Pad", {"x", "x"}, {"y"}, "/pad");
  pad10.output("y");
  m = pad10.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/pad' (Pad): opset 10 semantics are not supported (Pad needs opset >= 11)"),
            std::string::npos) << m.status().message();

  Builder ms;
  ms.input("x", 1, {2});
  ms.node("Gelu", {"x"}, {"y"}, "/gelu")->set_domain("com.microsoft");
  ms.output("y");
  m = ms.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/gelu' (Gelu): operator domain 'com.microsoft'"), std::string::npos);
}

TEST(OnnxModel, TruncatedAndCorruptFiles) {
  const std::string full = add_relu().bytes();
  for (std::size_t cut : {full.size() / 2, full.size() - 3, std::size_t{5}}) {
    auto m = Model::load_bytes(std::string_view(full).substr(0, cut), "cut.onnx");
    ASSERT_FALSE(m.ok()) << "cut at " << cut;
    EXPECT_NE(m.status().message().find("cut.onnx"), std::string::npos);
  }
  auto m = Model::load_bytes("this is not a protobuf at all", "junk.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not an ONNX model"), std::string::npos) << m.status().message();
  auto missing = Model::load("/nonexistent/voice.onnx");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(OnnxModel, DanglingInputAndBadInitializer) {
  Builder b;
  b.input("x", 1, {2});
  b.node("Add", {"x", "nowhere"}, {"y"}, "/add");
  b.output("y");
  auto m = b.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/add' (Add): input 'nowhere' is not a graph input"), std::string::npos);

  Builder c;
  c.input("x", 1, {2});
  c.init_floats("w", {3}, {1, 2});  // 2 values for 3 elements
  c.node("Add", {"x", "w"}, {"y"});
  c.output("y");
  m = c.load();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(m.status().message().find("initializer 'w'"), std::string::npos) << m.status().message();
}

TEST(OnnxModel, TypeErrorsAtLoad) {
  Builder b;
  b.input("x", 1, {2});
  b.input("i", 7, {2});
  b.node("Add", {"x", "i"}, {"y"}, "/mixed");
  b.output("y");
  auto m = b.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/mixed' (Add): inputs are float and int64"), std::string::npos) << m.status().message();

  Builder c;
  c.input("x", 1, {2});
  auto* n = c.node("Cast", {"x"}, {"y"}, "/cast");
  auto* a = n->add_attribute();
  a->set_name("to");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(11);  // double
  c.output("y");
  m = c.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/cast' (Cast): Cast to double"), std::string::npos) << m.status().message();
}

TEST(OnnxModel, TwoDimensionalConvIsRefused) {
  Builder b;
  b.input("x", 1, {1, 1, 4, 4});
  b.init_floats("w", {1, 1, 2, 2}, {1, 1, 1, 1});
  b.node("Conv", {"x", "w"}, {"y"}, "/conv2d");
  b.output("y");
  auto m = b.load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("node '/conv2d' (Conv): Conv with a 2-D kernel"), std::string::npos) << m.status().message();
}

TEST(OnnxModel, BadRunInputs) {
  auto model = add_relu().load();
  ASSERT_TRUE(model.ok());
  Session s(*model);
  auto wrong_type = Tensor::from_vector<std::int64_t>({1, 3}, {1, 2, 3});
  auto r = s.run({{"x", *wrong_type}});
  EXPECT_NE(r.status().message().find("input 'x' is int64, the model expects float"), std::string::npos);
  auto wrong_shape = Tensor::from_vector<float>({1, 4}, {1, 2, 3, 4});
  r = s.run({{"x", *wrong_shape}});
  EXPECT_NE(r.status().message().find("input 'x' is float[1, 4], the model expects [?, 3]"), std::string::npos) << r.status().message();
  r = s.run({});
  EXPECT_NE(r.status().message().find("input 'x' is missing"), std::string::npos);
  auto x = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  r = s.run({{"y", *x}});
  EXPECT_NE(r.status().message().find("no input 'y'"), std::string::npos);
}

TEST(OnnxModel, RunErrorNamesTheNode) {
  Builder b;
  b.input("x", 1, {-1});
  b.input("shape", 7, {1});
  b.node("Reshape", {"x", "shape"}, {"y"}, "/dec/reshape");
  b.output("y");
  auto model = b.load();
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Session s(*model);
  auto x = Tensor::from_vector<float>({5}, {1, 2, 3, 4, 5});
  auto shape = Tensor::from_vector<std::int64_t>({1}, {4});
  auto r = s.run({{"x", *x}, {"shape", *shape}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node '/dec/reshape' (Reshape): cannot reshape [5]"), std::string::npos) << r.status().message();
}

TEST(OnnxModel, CancelStopsBeforeTheNextNode) {
  auto model = add_relu().load();
  ASSERT_TRUE(model.ok());
  Session s(*model);
  std::atomic<bool> cancel{true};
  auto x = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  auto r = s.run({{"x", *x}}, RunOptions{&cancel});
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

TEST(OnnxModel, FoldsConstantsAndShapeChains) {
  // y = x + (Shape(w) cast to float) * 2: everything but the final Add folds at load.
  Builder b;
  b.input("x", 1, {-1});
  b.init_floats("w", {3, 4}, std::vector<float>(12, 0.f));
  b.init_floats("two", {}, {2.f});
  b.node("Shape", {"w"}, {"s"});
  auto* cast = b.node("Cast", {"s"}, {"sf"});
  auto* a = cast->add_attribute();
  a->set_name("to");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(1);
  b.node("Mul", {"sf", "two"}, {"m"});
  b.node("Add", {"x", "m"}, {"y"});
  b.output("y");
  auto model = b.load();
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->stats().folded, 3);
  Session s(*model);
  auto x = Tensor::from_vector<float>({2}, {1, 1});
  auto r = s.run({{"x", *x}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].to_vector<float>(), (std::vector<float>{7, 9}));
}

// ONNX's CumSum node tests use double tensors, which the runtime does not compute with; these are
// the same cases (test_cumsum_1d*, test_cumsum_2d_*) in float.
TEST(OnnxModel, CumSumMatchesOnnxNodeTestValues) {
  struct Case {
    std::vector<std::int64_t> dims;
    std::int64_t axis;
    int exclusive, reverse;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {{5}, 0, 0, 0, {1, 3, 6, 10, 15}},           {{5}, 0, 1, 0, {0, 1, 3, 6, 10}},
      {{5}, 0, 0, 1, {15, 14, 12, 9, 5}},          {{5}, 0, 1, 1, {14, 12, 9, 5, 0}},
      {{2, 3}, 0, 0, 0, {1, 2, 3, 5, 7, 9}},       {{2, 3}, 1, 0, 0, {1, 3, 6, 4, 9, 15}},
      {{2, 3}, -1, 0, 0, {1, 3, 6, 4, 9, 15}}};
  for (const Case& c : cases) {
    Builder b;
    b.input("x", 1, c.dims);
    b.init_ints("axis", {}, {c.axis});
    auto* n = b.node("CumSum", {"x", "axis"}, {"y"});
    for (auto [name, v] : {std::pair{"exclusive", c.exclusive}, std::pair{"reverse", c.reverse}}) {
      auto* a = n->add_attribute();
      a->set_name(name);
      a->set_type(::onnx::AttributeProto::INT);
      a->set_i(v);
    }
    b.output("y");
    auto model = b.load();
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    Session s(*model);
    std::vector<float> x(c.want.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1);
    auto r = s.run({{"x", *Tensor::from_vector<float>(c.dims, x)}});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ((*r)[0].to_vector<float>(), c.want) << "axis " << c.axis << " exclusive " << c.exclusive << " reverse " << c.reverse;
  }
}

TEST(OnnxModel, CastBetweenFloatIntAndBool) {
  for (int to : {7, 6, 9, 1}) {
    Builder b;
    b.input("x", 1, {5});
    auto* n = b.node("Cast", {"x"}, {"y"});
    auto* a = n->add_attribute();
    a->set_name("to");
    a->set_type(::onnx::AttributeProto::INT);
    a->set_i(to);
    b.output("y");
    auto model = b.load();
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    Session s(*model);
    auto r = s.run({{"x", *Tensor::from_vector<float>({5}, {-2.7f, -0.5f, 0.0f, 0.5f, 3.9f})}});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const Tensor& y = (*r)[0];
    if (to == 7) {
      EXPECT_EQ(y.to_vector<std::int64_t>(), (std::vector<std::int64_t>{-2, 0, 0, 0, 3}));  // truncation
    }
    if (to == 6) {
      EXPECT_EQ(y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{-2, 0, 0, 0, 3}));
    }
    if (to == 9) {
      EXPECT_EQ(y.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{1, 1, 0, 1, 1}));
    }
    if (to == 1) {
      EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-2.7f, -0.5f, 0.0f, 0.5f, 3.9f}));
    }
  }
}

TEST(OnnxModel, PartialRunsFeedAndFetchIntermediateValues) {
  auto model = add_relu().load();  // y = relu(x + w), w = [1, -2, 3]
  ASSERT_TRUE(model.ok());
  Session s(*model);
  auto x = Tensor::from_vector<float>({1, 3}, {1, 1, 1});
  auto sum = s.run_partial({{"x", *x}}, {"s"});  // stop before Relu
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ((*sum)[0].to_vector<float>(), (std::vector<float>{2, -1, 4}));
  auto fed = Tensor::from_vector<float>({1, 3}, {-5, 5, 0});
  auto y = s.run_partial({{"s", *fed}}, {"y"});  // start after Add: x is not needed
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ((*y)[0].to_vector<float>(), (std::vector<float>{0, 5, 0}));
  EXPECT_NE(s.run_partial({}, {"y"}).status().message().find("input 'x' is missing"), std::string::npos);
  EXPECT_NE(s.run_partial({{"x", *x}}, {"nope"}).status().message().find("no value 'nope'"), std::string::npos);
}

TEST(OnnxModel, PoolIsReusedAcrossRuns) {
  auto model = add_relu().load();
  ASSERT_TRUE(model.ok());
  Session s(*model);
  auto x = Tensor::from_vector<float>({64, 3}, std::vector<float>(192, 1.f));
  ASSERT_TRUE(s.run({{"x", *x}}).ok());
  const auto after_first = s.pool_bytes();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.run({{"x", *x}}).ok());
  EXPECT_EQ(s.pool_bytes(), after_first);  // steady state: no new buffers
}

TEST(OnnxModel, RandomNormalLikeHasTheRequestedMoments) {
  Builder b;
  b.input("x", 1, {-1});
  auto* n = b.node("RandomNormalLike", {"x"}, {"y"});
  auto* a = n->add_attribute();
  a->set_name("scale");
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(2.0f);
  b.output("y");
  auto model = b.load();
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Session s(*model);
  auto x = Tensor::from_vector<float>({20000}, std::vector<float>(20000, 0.f));
  auto r = s.run({{"x", *x}});
  ASSERT_TRUE(r.ok());
  double sum = 0, sq = 0;
  for (float v : (*r)[0].to_vector<float>()) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double mean = sum / 20000, var = sq / 20000 - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.06);
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.06);
}

}  // namespace
}  // namespace parley::onnx
