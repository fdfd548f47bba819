// Gradient checks of the training ops (kernels/ops/train.h) against central finite differences of
// the forward ops they invert (norm, activation, attention_prefill, embedding), in double where
// the reference is written here. Why: every backward pass must be right before anything trains on
// it. Depends on kernels/backend.h, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"

namespace parley::kernels {
namespace {

std::vector<float> randn(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

const Backend& be() { return cpu_backend(); }

TEST(TrainOps, LayerNormBackwardMatchesFiniteDifferences) {
  const std::int64_t rows = 5, cols = 24;
  std::vector<float> h = randn(rows * cols, 1, 2.0f), gamma = randn(cols, 2), beta = randn(cols, 3), r = randn(rows * cols, 4);
  auto loss = [&](const std::vector<float>& hh, const std::vector<float>& g) {
    std::vector<float> y(hh.size());
    NormArgs a;
    a.rows = rows;
    a.cols = cols;
    a.x = hh.data();
    a.ldx = cols;
    a.gamma = g.data();
    a.beta = beta.data();
    a.eps = 1e-5f;
    a.y = y.data();
    a.ldy = cols;
    EXPECT_TRUE(be().norm(a, ExecContext::cpu()).is_ok());
    return dot(y, r);
  };
  std::vector<float> dx(h.size(), 0.5f), dgamma(cols), dbeta(cols);
  NormBackwardArgs b;
  b.rows = rows;
  b.cols = cols;
  b.h = h.data();
  b.ldh = cols;
  b.dy = r.data();
  b.lddy = cols;
  b.gamma = gamma.data();
  b.eps = 1e-5f;
  b.dx = dx.data();
  b.lddx = cols;
  b.dgamma = dgamma.data();
  b.dbeta = dbeta.data();
  ASSERT_TRUE(be().norm_backward(b, ExecContext::cpu()).is_ok());
  const float e = 1e-2f;
  for (std::size_t i = 0; i < h.size(); i += 7) {
    auto hp = h, hm = h;
    hp[i] += e;
    hm[i] -= e;
    const double fd = (loss(hp, gamma) - loss(hm, gamma)) / (2 * e);
    EXPECT_NEAR(dx[i], fd, 2e-2 * std::max(1.0, std::fabs(fd))) << "dx " << i;
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    auto gp = gamma, gm = gamma;
    gp[static_cast<std::size_t>(j)] += e;
    gm[static_cast<std::size_t>(j)] -= e;
    const double fd = (loss(h, gp) - loss(h, gm)) / (2 * e);
    EXPECT_NEAR(dgamma[static_cast<std::size_t>(j)], fd, 1e-2 * std::max(1.0, std::fabs(fd))) << "dgamma " << j;
    double sb = 0;
    for (std::int64_t rr = 0; rr < rows; ++rr) sb += r[static_cast<std::size_t>(rr * cols + j)];
    EXPECT_NEAR(dbeta[static_cast<std::size_t>(j)], sb, 1e-4);
  }
  // Accumulate mode adds to what dx held.
  std::vector<float> acc(h.size(), 1.0f);
  b.dx = acc.data();
  b.dx_beta = 1.0f;
  ASSERT_TRUE(be().norm_backward(b, ExecContext::cpu()).is_ok());
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_NEAR(acc[i], 1.0f + dx[i], 1e-5);
}

TEST(TrainOps, ActivationBackwardMatchesFiniteDifferences) {
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu, Activation::kRelu}) {
    std::vector<float> x = randn(64, 5, 2.0f), dy = randn(64, 6), dx(64);
    ActivationBackwardArgs a;
    a.activation = act;
    a.rows = 4;
    a.cols = 16;
    a.x = x.data();
    a.ldx = 16;
    a.dy = dy.data();
    a.lddy = 16;
    a.dx = dx.data();
    a.lddx = 16;
    ASSERT_TRUE(be().activation_backward(a, ExecContext::cpu()).is_ok());
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (act == Activation::kRelu && std::fabs(x[i]) < 1e-2f) continue;
      const double e = 1e-3;
      const double fd = (activation_ref(act, static_cast<float>(x[i] + e)) - activation_ref(act, static_cast<float>(x[i] - e))) / (2 * e);
      EXPECT_NEAR(dx[i], dy[i] * fd, 5e-3 * std::max(1.0, std::fabs(dy[i] * fd))) << activation_name(act) << " " << x[i];
    }
  }
}

// The AVX-512 GELU gradient (vector erfc and exp) against the scalar libm loop, over the range
// activations take, tails and a row length that is not a multiple of 16 included.
TEST(TrainOps, GeluGradientVectorLoopMatchesScalar) {
  std::vector<float> x(3 * 37), dy(x.size(), 1.0f), d_vec(x.size()), d_ref(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -12.0f + 24.0f * static_cast<float>(i) / static_cast<float>(x.size() - 1);
  ActivationBackwardArgs a;
  a.activation = Activation::kGeluErf;
  a.rows = 3;
  a.cols = 37;
  a.x = x.data();
  a.ldx = 37;
  a.dy = dy.data();
  a.lddy = 37;
  a.lddx = 37;
  a.dx = d_vec.data();
  ASSERT_TRUE(be().activation_backward(a, ExecContext::cpu()).is_ok());
  ExecContext scalar;
  scalar.cpu_isa = CpuIsa::kScalar;
  a.dx = d_ref.data();
  ASSERT_TRUE(be().activation_backward(a, scalar).is_ok());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(d_vec[i], d_ref[i], 3e-7 + 1e-6 * std::fabs(d_ref[i])) << x[i];
}

// With `bias` (MPNet's relative position bias, radius 2): the same scores plus a constant table.
void check_attention_backward(const std::vector<float>* bias) {
  const std::int64_t heads = 2, d = 4, hd = heads * d;
  const std::vector<std::int32_t> offsets = {0, 3, 8};  // two sequences, lengths 3 and 5
  const std::int64_t rows = 8;
  std::vector<float> qkv = randn(rows * 3 * hd, 7), r = randn(rows * hd, 8);
  auto loss = [&](const std::vector<float>& x) {
    std::vector<float> out(static_cast<std::size_t>(rows * hd), 0.0f);
    for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
      const std::int64_t len = offsets[s + 1] - offsets[s];
      AttentionPrefillArgs a;
      a.batch = 1;
      a.q_len = a.kv_len = len;
      a.num_heads = a.num_kv_heads = heads;
      a.head_dim = d;
      a.q = x.data() + offsets[s] * 3 * hd;
      a.k = x.data() + offsets[s] * 3 * hd + hd;
      a.v = x.data() + offsets[s] * 3 * hd + 2 * hd;
      a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = len * 3 * hd;
      a.q_token_stride = a.k_token_stride = a.v_token_stride = 3 * hd;
      a.q_head_stride = a.k_head_stride = a.v_head_stride = d;
      a.out = out.data() + offsets[s] * hd;
      a.out_batch_stride = len * hd;
      a.out_token_stride = hd;
      a.out_head_stride = d;
      if (bias != nullptr) {
        a.rel_bias = bias->data();
        a.rel_bias_radius = 2;
      }
      EXPECT_TRUE(be().attention_prefill(a, ExecContext::cpu()).is_ok());
    }
    return dot(out, r);
  };
  std::vector<float> dqkv(qkv.size(), 99.0f);
  AttentionBackwardArgs b;
  b.sequences = 2;
  b.num_heads = heads;
  b.head_dim = d;
  b.max_len = 5;
  b.offsets = offsets.data();
  b.qkv = qkv.data();
  b.ld_qkv = 3 * hd;
  b.dout = r.data();
  b.ld_dout = hd;
  b.dqkv = dqkv.data();
  b.ld_dqkv = 3 * hd;
  if (bias != nullptr) {
    b.rel_bias = bias->data();
    b.rel_bias_radius = 2;
  }
  ASSERT_TRUE(be().attention_backward(b, ExecContext::cpu()).is_ok());
  const float e = 1e-2f;
  for (std::size_t i = 0; i < qkv.size(); ++i) {
    auto p = qkv, m = qkv;
    p[i] += e;
    m[i] -= e;
    const double fd = (loss(p) - loss(m)) / (2 * e);
    EXPECT_NEAR(dqkv[i], fd, 1e-2 * std::max(1.0, std::fabs(fd))) << "element " << i;
  }
  b.max_len = 4;
  EXPECT_FALSE(be().attention_backward(b, ExecContext::cpu()).is_ok()) << "a sequence past max_len is refused";
}

TEST(TrainOps, AttentionBackwardMatchesFiniteDifferences) { check_attention_backward(nullptr); }

TEST(TrainOps, AttentionBackwardWithRelativeBiasMatchesFiniteDifferences) {
  std::vector<float> bias = randn(2 * 5, 9);  // 2 heads x (2 * radius 2 + 1) distances
  for (float& x : bias) x *= 2.0f;
  check_attention_backward(&bias);
}

TEST(TrainOps, EmbeddingBackwardScatterAdds) {
  const std::vector<std::int32_t> ids = {2, 0, 2, 3};
  std::vector<float> dy = randn(4 * 20, 9), grad(5 * 20, 7.0f);
  EmbeddingBackwardArgs a;
  a.num_tokens = 4;
  a.dim = 20;
  a.rows = 5;
  a.ids = ids.data();
  a.dy = dy.data();
  a.lddy = 20;
  a.grad = grad.data();
  a.ld_grad = 20;
  a.zero_grad = true;
  ASSERT_TRUE(be().embedding_backward(a, ExecContext::cpu()).is_ok());
  for (int j = 0; j < 20; ++j) {
    EXPECT_FLOAT_EQ(grad[2 * 20 + j], dy[0 * 20 + j] + dy[2 * 20 + j]);
    EXPECT_FLOAT_EQ(grad[0 * 20 + j], dy[1 * 20 + j]);
    EXPECT_FLOAT_EQ(grad[1 * 20 + j], 0.0f);
    EXPECT_FLOAT_EQ(grad[4 * 20 + j], 0.0f);
  }
  const std::vector<std::int32_t> bad = {5};
  a.ids = bad.data();
  a.num_tokens = 1;
  EXPECT_FALSE(be().embedding_backward(a, ExecContext::cpu()).is_ok());
}

TEST(TrainOps, CrossEntropyGradientIsSoftmaxMinusTarget) {
  std::vector<float> logits = randn(3 * 5, 10, 3.0f), d(15), loss(3);
  const std::vector<std::int32_t> labels = {4, -1, 0};
  CrossEntropyArgs a;
  a.rows = 3;
  a.classes = 5;
  a.logits = logits.data();
  a.ld_logits = 5;
  a.labels = labels.data();
  a.dlogits = d.data();
  a.ld_dlogits = 5;
  a.loss = loss.data();
  a.scale = 0.5f;
  ASSERT_TRUE(be().cross_entropy(a, ExecContext::cpu()).is_ok());
  for (int r : {0, 2}) {
    double z = 0;
    for (int j = 0; j < 5; ++j) z += std::exp(static_cast<double>(logits[r * 5 + j]));
    EXPECT_NEAR(loss[r], std::log(z) - logits[r * 5 + labels[r]], 1e-5);
    for (int j = 0; j < 5; ++j) {
      const double p = std::exp(static_cast<double>(logits[r * 5 + j])) / z;
      EXPECT_NEAR(d[r * 5 + j], 0.5 * (p - (j == labels[r] ? 1.0 : 0.0)), 1e-6);
    }
  }
  for (int j = 0; j < 5; ++j) EXPECT_EQ(d[5 + j], 0.0f);
  EXPECT_EQ(loss[1], 0.0f);
}

TEST(TrainOps, AdamWMatchesTheFormulaAndHoldsMaskedWeightsAtZero) {
  std::vector<float> p = {1.0f, -2.0f, 0.5f, 3.0f}, g = {0.1f, -0.2f, 0.3f, 0.4f}, m(4, 0.0f), v(4, 0.0f);
  const std::vector<std::uint8_t> mask = {1, 1, 0, 1};
  AdamWArgs a;
  a.n = 4;
  a.param = p.data();
  a.grad = g.data();
  a.m = m.data();
  a.v = v.data();
  a.mask = mask.data();
  a.lr = 0.1f;
  a.weight_decay = 0.01f;
  a.step = 1;
  a.zero_grad = true;
  ASSERT_TRUE(be().adamw(a, ExecContext::cpu()).is_ok());
  // Step 1: m_hat = g, v_hat = g^2 -> update = lr * sign(g) (eps aside) + lr*wd*p.
  EXPECT_NEAR(p[0], 1.0f - 0.1f - 0.1f * 0.01f * 1.0f, 1e-5);
  EXPECT_NEAR(p[1], -2.0f + 0.1f - 0.1f * 0.01f * -2.0f, 1e-5);
  EXPECT_EQ(p[2], 0.0f);
  EXPECT_EQ(m[2], 0.0f);
  EXPECT_EQ(g[0], 0.0f) << "zero_grad clears the gradient";
}

}  // namespace
}  // namespace parley::kernels
