// A small two-layer MLP (x -> GELU(x W1^T + b1) -> . W2^T + b2) built on the kernel API in FP32,
// W8A8 INT8 and 2:4-sparse (f32 and int8) forms, plus its f64 reference.
// Why: the INT8 and 2:4 tests report end-to-end relative error against FP32, not just per-op error.
// Depends on kernels/ops/*.h, test_util.h.
#pragma once

#include <cmath>
#include <vector>

#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/quantize.h"
#include "kernels/ops/sparse24.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels::testing {

struct Mlp {
  std::int64_t tokens = 0, d = 0, hidden = 0;
  std::vector<float> x, w1, b1, w2, b2;
};

inline Mlp make_mlp(std::int64_t tokens, std::int64_t d, std::int64_t hidden, std::uint64_t seed) {
  Mlp m;
  m.tokens = tokens; m.d = d; m.hidden = hidden;
  m.x = random_floats(static_cast<std::size_t>(tokens * d), seed, -2.0f, 2.0f);
  // Uniform weights with variance ~ 1/fan_in, like trained layers' scale.
  const float s1 = std::sqrt(3.0f / static_cast<float>(d)), s2 = std::sqrt(3.0f / static_cast<float>(hidden));
  m.w1 = random_floats(static_cast<std::size_t>(hidden * d), seed + 1, -s1, s1);
  m.b1 = random_floats(static_cast<std::size_t>(hidden), seed + 2, -0.1f, 0.1f);
  m.w2 = random_floats(static_cast<std::size_t>(d * hidden), seed + 3, -s2, s2);
  m.b2 = random_floats(static_cast<std::size_t>(d), seed + 4, -0.1f, 0.1f);
  return m;
}

/// f64 forward pass with the given weights.
inline std::vector<double> mlp_reference(const Mlp& m, const std::vector<float>& w1, const std::vector<float>& w2) {
  std::vector<double> h(static_cast<std::size_t>(m.tokens * m.hidden)), y(static_cast<std::size_t>(m.tokens * m.d));
  for (std::int64_t t = 0; t < m.tokens; ++t) {
    for (std::int64_t j = 0; j < m.hidden; ++j) {
      double acc = m.b1[static_cast<std::size_t>(j)];
      for (std::int64_t k = 0; k < m.d; ++k) acc += static_cast<double>(m.x[static_cast<std::size_t>(t * m.d + k)]) * w1[static_cast<std::size_t>(j * m.d + k)];
      h[static_cast<std::size_t>(t * m.hidden + j)] = ref_act(Activation::kGeluErf, acc);
    }
    for (std::int64_t j = 0; j < m.d; ++j) {
      double acc = m.b2[static_cast<std::size_t>(j)];
      for (std::int64_t k = 0; k < m.hidden; ++k) acc += h[static_cast<std::size_t>(t * m.hidden + k)] * w2[static_cast<std::size_t>(j * m.hidden + k)];
      y[static_cast<std::size_t>(t * m.d + j)] = acc;
    }
  }
  return y;
}

struct QuantMatrix {
  std::vector<std::int8_t> q;
  std::vector<float> scales;
};

/// Symmetric int8, one scale per row (per output channel for weights, per token for activations).
inline QuantMatrix quantize_rows(const std::vector<float>& x, std::int64_t rows, std::int64_t cols, const ExecContext& ctx) {
  QuantMatrix out;
  out.q.resize(static_cast<std::size_t>(rows * cols));
  out.scales.resize(static_cast<std::size_t>(rows));
  QuantizeArgs q;
  q.rows = rows; q.cols = cols; q.x = x.data(); q.ldx = cols; q.y = out.q.data(); q.ldy = cols;
  q.scales = out.scales.data(); q.granularity = QuantGranularity::kPerRow;
  EXPECT_TRUE(cpu::quantize(q, ctx).is_ok());
  return out;
}

inline GemmInt8Args int8_args(const QuantMatrix& a, const QuantMatrix& w, std::int64_t m, std::int64_t n, std::int64_t k,
                              const float* bias, Activation act, float* c) {
  GemmInt8Args g;
  g.m = m; g.n = n; g.k = k;
  g.a = a.q.data(); g.lda = k; g.b = w.q.data(); g.ldb = k;
  g.a_scales = a.scales.data(); g.b_scales = w.scales.data();
  g.bias = bias; g.activation = act; g.c = c; g.ldc = n; g.c_type = DType::kF32;
  return g;
}

/// W8A8: weights per channel, activations per token (dynamic), both layers through gemm_int8.
inline std::vector<float> mlp_int8(const Mlp& m, const ExecContext& ctx) {
  const QuantMatrix w1 = quantize_rows(m.w1, m.hidden, m.d, ctx), w2 = quantize_rows(m.w2, m.d, m.hidden, ctx);
  const QuantMatrix x = quantize_rows(m.x, m.tokens, m.d, ctx);
  std::vector<float> h(static_cast<std::size_t>(m.tokens * m.hidden)), y(static_cast<std::size_t>(m.tokens * m.d));
  EXPECT_TRUE(cpu::gemm_int8(int8_args(x, w1, m.tokens, m.hidden, m.d, m.b1.data(), Activation::kGeluErf, h.data()), ctx).is_ok());
  const QuantMatrix hq = quantize_rows(h, m.tokens, m.hidden, ctx);
  EXPECT_TRUE(cpu::gemm_int8(int8_args(hq, w2, m.tokens, m.d, m.hidden, m.b2.data(), Activation::kNone, y.data()), ctx).is_ok());
  return y;
}

/// Prunes a copy of w ([rows, cols]) to 2:4 by magnitude.
inline std::vector<float> pruned(const std::vector<float>& w, std::int64_t rows, std::int64_t cols) {
  std::vector<float> p = w;
  Prune24Args a;
  a.rows = rows; a.cols = cols; a.w = p.data(); a.ldw = cols; a.dtype = DType::kF32;
  EXPECT_TRUE(prune24(a).is_ok());
  return p;
}

/// A compressed 2:4 matrix that owns its values and metadata (kCpu layout).
struct Sparse24Owned {
  std::vector<std::uint8_t> values, meta;
  Sparse24Matrix view;
};

inline Sparse24Owned compress(const void* w, std::int64_t rows, std::int64_t cols, DType t) {
  Sparse24Owned s;
  const std::int64_t es = t == DType::kI8 ? 1 : 4;
  s.values.resize(static_cast<std::size_t>(rows * cols / 2 * es));
  s.meta.resize(static_cast<std::size_t>(rows * sparse24_meta_bytes(cols)));
  Compress24Args c;
  c.rows = rows; c.cols = cols; c.w = w; c.ldw = cols; c.dtype = t;
  c.values = s.values.data(); c.values_ld = cols / 2; c.meta = s.meta.data(); c.meta_ld = sparse24_meta_bytes(cols);
  EXPECT_TRUE(compress24(c).is_ok());
  s.view.rows = rows; s.view.cols = cols; s.view.dtype = t;
  s.view.values = s.values.data(); s.view.values_ld = cols / 2; s.view.meta = s.meta.data(); s.view.meta_ld = c.meta_ld;
  return s;
}

/// The MLP with 2:4 weights (already pruned: w1p, w2p) through sparse24_gemm, f32 or int8.
inline std::vector<float> mlp_sparse24(const Mlp& m, const std::vector<float>& w1p, const std::vector<float>& w2p,
                                       bool int8, const ExecContext& ctx) {
  std::vector<float> h(static_cast<std::size_t>(m.tokens * m.hidden)), y(static_cast<std::size_t>(m.tokens * m.d));
  auto layer = [&](const std::vector<float>& in, std::int64_t k, const std::vector<float>& w, std::int64_t n,
                   const std::vector<float>& bias, Activation act, std::vector<float>& out) {
    Sparse24GemmArgs g;
    g.m = m.tokens; g.n = n; g.k = k; g.bias = bias.data(); g.activation = act;
    g.c = out.data(); g.ldc = n;
    if (!int8) {
      Sparse24Owned s = compress(w.data(), n, k, DType::kF32);
      g.a = in.data(); g.lda = k; g.a_type = DType::kF32; g.b = s.view;
      EXPECT_TRUE(cpu::sparse24_gemm(g, ctx).is_ok());
      return;
    }
    const QuantMatrix wq = quantize_rows(w, n, k, ctx), xq = quantize_rows(in, m.tokens, k, ctx);
    Sparse24Owned s = compress(wq.q.data(), n, k, DType::kI8);  // pruned zeros stay zero after quantization
    g.a = xq.q.data(); g.lda = k; g.a_type = DType::kI8; g.b = s.view;
    g.a_scales = xq.scales.data(); g.b_scales = wq.scales.data();
    EXPECT_TRUE(cpu::sparse24_gemm(g, ctx).is_ok());
  };
  layer(m.x, m.d, w1p, m.hidden, m.b1, Activation::kGeluErf, h);
  layer(h, m.hidden, w2p, m.d, m.b2, Activation::kNone, y);
  return y;
}

}  // namespace parley::kernels::testing
