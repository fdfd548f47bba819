// The load-time conv fusions (shared/onnx/fusion.h) on a small HiFi-GAN-shaped graph built here:
// Div -> LeakyRelu -> ConvTranspose, a LeakyRelu shared by two convolutions whose outputs are
// added to the block input (both operand orders), a LeakyRelu with a non-conv reader (kept), and
// an Add that broadcasts (the residual added after the kernel). The fused model has fewer nodes
// and gives the unfused model's outputs at two input lengths; intermediate values the fusion
// keeps can still be fetched. And the decomposed layer norm fused into one LayerNormalization.
// Depends on shared/onnx, onnx.pb.h (parley_onnx_proto).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "onnx/onnx.pb.h"
#include "shared/onnx/model.h"

namespace parley::onnx {
namespace {

struct Graph {
  ::onnx::ModelProto m;
  Graph() {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_version(15);
  }
  ::onnx::GraphProto* g() { return m.mutable_graph(); }
  ::onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, std::string out) {
    auto* n = g()->add_node();
    n->set_op_type(op);
    n->set_name("/" + out + "/" + op);
    for (auto& s : in) n->add_input(s);
    n->add_output(out);
    return n;
  }
  static void ints(::onnx::NodeProto* n, const std::string& k, std::vector<std::int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(::onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void real(::onnx::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(::onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  /// A float graph input; a dim of -1 is the symbolic length "n".
  void input(const std::string& name, const std::vector<std::int64_t>& dims) {
    auto* x = g()->add_input();
    x->set_name(name);
    auto* tt = x->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(1);
    for (std::int64_t d : dims) {
      if (d < 0) {
        tt->mutable_shape()->add_dim()->set_dim_param("n");
      } else {
        tt->mutable_shape()->add_dim()->set_dim_value(d);
      }
    }
  }
  void weights(const std::string& name, std::vector<std::int64_t> dims, unsigned seed) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    std::int64_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= d;
    }
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (std::int64_t i = 0; i < n; ++i) t->add_float_data(u(rng));
  }
};

Graph hifigan_like() {
  Graph b;
  b.input("x", {1, 4, -1});
  b.weights("three", {}, 0);
  b.g()->mutable_initializer(0)->set_float_data(0, 3.0f);
  b.weights("w_up", {4, 3, 4}, 1);
  b.weights("b_up", {3}, 2);
  b.weights("w1", {3, 3, 3}, 3);
  b.weights("w2", {3, 3, 5}, 4);
  b.weights("b2", {3}, 5);
  b.weights("w3", {1, 3, 3}, 6);
  b.node("Div", {"x", "three"}, "xd");
  Graph::real(b.node("LeakyRelu", {"xd"}, "xa"), "alpha", 0.1f);
  auto* up = b.node("ConvTranspose", {"xa", "w_up", "b_up"}, "u");
  Graph::ints(up, "strides", {2});
  Graph::ints(up, "pads", {1, 1});
  Graph::ints(up, "kernel_shape", {4});
  Graph::real(b.node("LeakyRelu", {"u"}, "a"), "alpha", 0.1f);
  auto* c1 = b.node("Conv", {"a", "w1"}, "c1");
  Graph::ints(c1, "pads", {1, 1});
  b.node("Add", {"c1", "u"}, "s1");
  auto* c2 = b.node("Conv", {"a", "w2", "b2"}, "c2");
  Graph::ints(c2, "pads", {4, 4});
  Graph::ints(c2, "dilations", {2});
  b.node("Add", {"u", "c2"}, "s2");
  b.node("Add", {"s1", "s2"}, "y1");
  Graph::real(b.node("LeakyRelu", {"y1"}, "l2"), "alpha", 0.01f);
  auto* c3 = b.node("Conv", {"l2", "w3"}, "c3");
  Graph::ints(c3, "pads", {1, 1});
  b.node("Tanh", {"l2"}, "t");            // a second reader: l2 stays
  b.node("Add", {"c3", "t"}, "y");        // [1,1,L] + [1,3,L]: broadcast, added after the kernel
  b.g()->add_output()->set_name("y");
  b.g()->add_output()->set_name("y1");
  return b;
}

// The graph loaded as written (fuse = false) and fused (the default).
struct Both {
  std::shared_ptr<const Model> unfused, fused;
};
Both load_both(const Graph& g) {
  const std::string bytes = g.m.SerializeAsString();
  LoadOptions plain;
  plain.fuse = false;
  auto unfused = Model::load_bytes(bytes, "unfused.onnx", plain);
  auto fused = Model::load_bytes(bytes, "fused.onnx");
  EXPECT_TRUE(unfused.ok()) << unfused.status().to_string();
  EXPECT_TRUE(fused.ok()) << fused.status().to_string();
  if (!unfused.ok() || !fused.ok()) return {};
  return {*unfused, *fused};
}

int count_ops(const Model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.data().graphs.front().nodes) n += node.op_type == op;
  return n;
}

// Runs both sessions on "x" of `dims` (normal values around `mean` from `seed`) and expects every
// output to agree within 1e-5; returns the first session's outputs.
std::vector<Tensor> expect_same_outputs(Session& a, Session& b, const Dims& dims, unsigned seed, float mean) {
  std::vector<float> xv(static_cast<std::size_t>(numel(dims)));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(mean, 2.0f);
  for (float& v : xv) v = nd(rng);
  auto x = Tensor::from_vector<float>(dims, xv);
  auto ya = a.run({{"x", *x}});
  auto yb = b.run({{"x", *x}});
  EXPECT_TRUE(ya.ok()) << ya.status().to_string();
  EXPECT_TRUE(yb.ok()) << yb.status().to_string();
  if (!ya.ok() || !yb.ok()) return {};
  for (std::size_t o = 0; o < ya->size(); ++o) {
    EXPECT_EQ((*ya)[o].dims(), (*yb)[o].dims()) << o;
    const auto va = (*ya)[o].to_vector<float>(), vb = (*yb)[o].to_vector<float>();
    if (va.size() != vb.size()) continue;
    double worst = 0;
    for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(va[i]) - vb[i]));
    EXPECT_LT(worst, 1e-5) << "output " << o << " for input " << dims_string(dims);
  }
  return std::move(*ya);
}

TEST(OnnxFusion, FusedGraphGivesTheUnfusedOutputs) {
  const auto [unfused, fused] = load_both(hifigan_like());
  ASSERT_TRUE(unfused && fused);
  // Div + LeakyRelu into the ConvTranspose, the shared LeakyRelu into both convs, three Adds
  // into their convs; l2 (read by Tanh too) stays.
  EXPECT_EQ(unfused->stats().nodes, 13);
  EXPECT_EQ(fused->stats().nodes, 7);
  EXPECT_EQ(count_ops(*fused, "LeakyRelu"), 1);
  Session a(unfused), b(fused);
  for (std::int64_t len : {37, 50}) {
    const auto ya = expect_same_outputs(a, b, {1, 4, len}, static_cast<unsigned>(len), 0.0f);
    ASSERT_EQ(ya.size(), 2u);
    EXPECT_EQ(ya[0].dims(), (Dims{1, 3, 2 * len}));
  }
  // A value the fusion kept can still be fetched by a partial run; one it removed is an error.
  auto u = b.run_partial({{"x", *Tensor::from_vector<float>({1, 4, 5}, std::vector<float>(20, 1.0f))}}, {"u"});
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ((*u)[0].dims(), (Dims{1, 3, 10}));
  auto gone = b.run_partial({{"x", *Tensor::from_vector<float>({1, 4, 5}, std::vector<float>(20, 1.0f))}}, {"c1"});
  EXPECT_FALSE(gone.ok());
}

// The layer norm PyTorch exports below opset 17 (VITS's LayerNorm after a Transpose), three times:
// once with every condition met; once where the centred value has a third reader, and once with a
// [1, C] gamma (both left alone).
Graph decomposed_layer_norms() {
  Graph b;
  b.input("x", {1, -1, 6});
  b.weights("two", {}, 0);
  b.g()->mutable_initializer(0)->set_float_data(0, 2.0f);
  b.weights("eps", {}, 0);
  b.g()->mutable_initializer(1)->set_float_data(0, 1e-5f);
  b.weights("gamma", {6}, 7);
  b.weights("beta", {6}, 8);
  b.weights("gamma_2d", {1, 6}, 9);  // broadcasts in a Mul, not as a LayerNormalization scale
  auto chain = [&](const std::string& in, const std::string& p, bool extra_reader, const std::string& gamma = "gamma") {
    Graph::ints(b.node("ReduceMean", {in}, p + "m"), "axes", {-1});
    b.node("Sub", {in, p + "m"}, p + "c");
    b.node("Pow", {p + "c", "two"}, p + "p");
    Graph::ints(b.node("ReduceMean", {p + "p"}, p + "v"), "axes", {-1});
    b.node("Add", {p + "v", "eps"}, p + "ve");
    b.node("Sqrt", {p + "ve"}, p + "s");
    b.node("Div", {p + "c", p + "s"}, p + "d");
    b.node("Mul", {p + "d", gamma}, p + "g");
    b.node("Add", {p + "g", "beta"}, p + "y");
    if (extra_reader) {
      b.node("Tanh", {p + "c"}, p + "t");
      b.node("Add", {p + "y", p + "t"}, p + "yt");
    }
  };
  chain("x", "a", false);
  chain("ay", "b", true);
  chain("byt", "c", false, "gamma_2d");
  b.g()->add_output()->set_name("cy");
  return b;
}

TEST(OnnxFusion, DecomposedLayerNormBecomesOneNode) {
  const auto [unfused, fused] = load_both(decomposed_layer_norms());
  ASSERT_TRUE(unfused && fused);
  EXPECT_EQ(unfused->stats().nodes, 29);
  EXPECT_EQ(fused->stats().nodes, 21);  // the first chain is one node; the others stay
  EXPECT_EQ(count_ops(*fused, "LayerNormalization"), 1);
  Session a(unfused), b(fused);
  for (std::int64_t len : {1, 9}) EXPECT_EQ(expect_same_outputs(a, b, {1, len, 6}, static_cast<unsigned>(len), 3.0f).size(), 1u);
}

}  // namespace
}  // namespace parley::onnx
