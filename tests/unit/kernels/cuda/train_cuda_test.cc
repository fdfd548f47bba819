// The CUDA training ops (kernels/cuda/train.cu) and the strided copy / f32 element-wise ops
// fine-tuning uses (tensor_ops.cu) against the CPU backend, on odd shapes, with the aliasing and
// bad-input cases the contracts in kernels/ops/train.h name. Label gpu: skips with "no CUDA
// device" where none is present. Tolerances: f32 throughout; sums in another order (block
// reductions, atomics) differ from the CPU's by rounding only.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/ops/train.h"
#include "tests/unit/kernels/cuda/cuda_test_support.h"

namespace parley::kernels::cuda {
namespace {

const Backend& gpu() { return cuda_backend_table(); }

TEST(CudaTrain, NormBackwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (auto [rows, cols] : {std::pair<int, int>{1, 5}, {37, 384}, {300, 129}}) {
    for (float beta : {0.0f, 1.0f}) {
      const auto n = static_cast<std::size_t>(rows * cols);
      auto h = randf(n, 1, -2.0f, 3.0f), dy = randf(n, 2), dx0 = randf(n, 3);
      auto gamma = randf(static_cast<std::size_t>(cols), 4, 0.5f, 1.5f);
      std::vector<float> dx = dx0, dg(static_cast<std::size_t>(cols)), db(dg.size());
      NormBackwardArgs a;
      a.rows = rows, a.cols = cols, a.ldh = a.lddy = a.lddx = cols, a.eps = 1e-5f, a.dx_beta = beta;
      a.h = h.data(), a.dy = dy.data(), a.gamma = gamma.data(), a.dx = dx.data(), a.dgamma = dg.data(), a.dbeta = db.data();
      ASSERT_TRUE(cpu::norm_backward(a).is_ok());
      Dev<float> dh(h), ddy(dy), dgam(gamma), ddx(dx0), ddg(dg.size()), ddb(db.size());
      a.h = dh.get(), a.dy = ddy.get(), a.gamma = dgam.get(), a.dx = ddx.get(), a.dgamma = ddg.get(), a.dbeta = ddb.get();
      ASSERT_TRUE(gpu().norm_backward(a, gpu_ctx()).is_ok());
      expect_close(ddx.host(), dx, 1e-4f, 1e-3f);
      expect_close(ddg.host(), dg, 1e-3f, 1e-3f);
      expect_close(ddb.host(), db, 1e-3f, 1e-3f);
    }
  }
}

// dx may alias dy (dx_beta 0): dgamma/dbeta must still see the upstream gradient.
TEST(CudaTrain, NormBackwardInPlaceMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int rows = 70, cols = 384;
  const auto n = static_cast<std::size_t>(rows * cols);
  auto h = randf(n, 5), dy = randf(n, 6);
  std::vector<float> g = dy, dg(cols), db(cols);
  NormBackwardArgs a;
  a.rows = rows, a.cols = cols, a.ldh = a.lddy = a.lddx = cols;
  a.h = h.data(), a.dy = g.data(), a.dx = g.data(), a.dgamma = dg.data(), a.dbeta = db.data();
  ASSERT_TRUE(cpu::norm_backward(a).is_ok());
  Dev<float> dh(h), dd(dy), ddg(dg.size()), ddb(db.size());
  a.h = dh.get(), a.dy = dd.get(), a.dx = dd.get(), a.dgamma = ddg.get(), a.dbeta = ddb.get();
  ASSERT_TRUE(gpu().norm_backward(a, gpu_ctx()).is_ok());
  expect_close(dd.host(), g, 1e-4f, 1e-3f);
  expect_close(ddg.host(), dg, 1e-3f, 1e-3f);
  expect_close(ddb.host(), db, 1e-3f, 1e-3f);
}

TEST(CudaTrain, ActivationBackwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int rows = 13, cols = 77;
  const auto n = static_cast<std::size_t>(rows * cols);
  auto x = randf(n, 7, -4.0f, 4.0f), dy = randf(n, 8);
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGeluErf, Activation::kGeluTanh,
                         Activation::kSilu}) {
    std::vector<float> dx(n);
    ActivationBackwardArgs a;
    a.activation = act, a.rows = rows, a.cols = cols, a.ldx = a.lddy = a.lddx = cols;
    a.x = x.data(), a.dy = dy.data(), a.dx = dx.data();
    ASSERT_TRUE(cpu::activation_backward(a).is_ok());
    Dev<float> dxin(x), ddy(dy), ddx(n);
    a.x = dxin.get(), a.dy = ddy.get(), a.dx = ddx.get();
    ASSERT_TRUE(gpu().activation_backward(a, gpu_ctx()).is_ok());
    expect_close(ddx.host(), dx, 1e-5f, 1e-4f);
  }
}

TEST(CudaTrain, AttentionBackwardMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int heads = 3, d = 16, hd = heads * d;
  const std::vector<std::int32_t> offsets = {0, 5, 22, 23, 56};
  const int rows = offsets.back(), ld_qkv = 3 * hd + 4;
  auto qkv = randf(static_cast<std::size_t>(rows * ld_qkv), 9, -2.0f, 2.0f);
  auto dout = randf(static_cast<std::size_t>(rows * hd), 10);
  std::vector<float> dqkv(qkv.size(), 7.0f);
  AttentionBackwardArgs a;
  a.sequences = 4, a.num_heads = heads, a.head_dim = d, a.max_len = 40;
  a.offsets = offsets.data(), a.qkv = qkv.data(), a.ld_qkv = ld_qkv, a.dout = dout.data(), a.ld_dout = hd;
  a.dqkv = dqkv.data(), a.ld_dqkv = ld_qkv;
  ASSERT_TRUE(cpu::attention_backward(a).is_ok());
  Dev<std::int32_t> doff(offsets);
  Dev<float> dq(qkv), ddo(dout), dd(std::vector<float>(qkv.size(), 7.0f));
  a.offsets = doff.get(), a.qkv = dq.get(), a.dout = ddo.get(), a.dqkv = dd.get();
  ASSERT_TRUE(gpu().attention_backward(a, gpu_ctx()).is_ok());
  expect_close(dd.host(), dqkv, 1e-5f, 1e-4f);  // the 4 padding columns per row stay 7 on both

  // With MPNet's relative position bias (a constant: the same formulas on shifted scores).
  const auto bias = randf(static_cast<std::size_t>(heads * 7), 11, -2.0f, 2.0f);
  Dev<float> dbias(bias);
  std::vector<float> dqkv_b(qkv.size(), 7.0f);
  a.offsets = offsets.data(), a.qkv = qkv.data(), a.dout = dout.data(), a.dqkv = dqkv_b.data();
  a.rel_bias = bias.data(), a.rel_bias_radius = 3;
  ASSERT_TRUE(cpu::attention_backward(a).is_ok());
  Dev<float> dd_b(std::vector<float>(qkv.size(), 7.0f));
  a.offsets = doff.get(), a.qkv = dq.get(), a.dout = ddo.get(), a.dqkv = dd_b.get(), a.rel_bias = dbias.get();
  ASSERT_TRUE(gpu().attention_backward(a, gpu_ctx()).is_ok());
  expect_close(dd_b.host(), dqkv_b, 1e-5f, 1e-4f);
  a.rel_bias = nullptr, a.rel_bias_radius = 0;

  // A sequence longer than max_len: InvalidArgument naming it.
  a.max_len = 16;
  const Status bad = gpu().attention_backward(a, gpu_ctx());
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("sequence 1 has length 17"), std::string::npos) << bad.to_string();
}

TEST(CudaTrain, EmbeddingBackwardMatchesCpuAndRejectsBadIds) {
  SKIP_WITHOUT_GPU();
  const int rows = 11, dim = 37, ld = 40;
  std::vector<std::int32_t> ids = {3, 0, 3, 10, 3, 7};
  const int tokens = static_cast<int>(ids.size());
  auto dy = randf(static_cast<std::size_t>(tokens * dim), 11);
  auto grad0 = randf(static_cast<std::size_t>(rows * ld), 12);
  for (bool zero : {false, true}) {
    std::vector<float> grad = grad0;
    EmbeddingBackwardArgs a;
    a.num_tokens = tokens, a.dim = dim, a.rows = rows, a.lddy = dim, a.ld_grad = ld, a.zero_grad = zero;
    a.ids = ids.data(), a.dy = dy.data(), a.grad = grad.data();
    ASSERT_TRUE(cpu::embedding_backward(a).is_ok());
    Dev<std::int32_t> did(ids);
    Dev<float> ddy(dy), dg(grad0);
    a.ids = did.get(), a.dy = ddy.get(), a.grad = dg.get();
    ASSERT_TRUE(gpu().embedding_backward(a, gpu_ctx()).is_ok());
    expect_close(dg.host(), grad, 1e-5f, 1e-5f);
  }
  // An id outside [0, rows): InvalidArgument naming it, nothing written (zero_grad included).
  ids[4] = rows;
  Dev<std::int32_t> did(ids);
  Dev<float> ddy(dy), dg(grad0);
  EmbeddingBackwardArgs a;
  a.num_tokens = tokens, a.dim = dim, a.rows = rows, a.lddy = dim, a.ld_grad = ld, a.zero_grad = true;
  a.ids = did.get(), a.dy = ddy.get(), a.grad = dg.get();
  const Status bad = gpu().embedding_backward(a, gpu_ctx());
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("id 11 of token 4"), std::string::npos) << bad.to_string();
  EXPECT_EQ(dg.host(), grad0);
}

TEST(CudaTrain, CrossEntropyMatchesCpuInPlaceAndRejectsBadLabels) {
  SKIP_WITHOUT_GPU();
  const int rows = 9, classes = 133, ld = 136;
  std::vector<std::int32_t> labels = {0, 132, -1, 5, 77, -1, 1, 2, 100};
  auto logits = randf(static_cast<std::size_t>(rows * ld), 13, -5.0f, 5.0f);
  for (float smoothing : {0.0f, 0.1f}) {
    std::vector<float> want = logits, loss(rows);
    CrossEntropyArgs a;
    a.rows = rows, a.classes = classes, a.ld_logits = a.ld_dlogits = ld, a.scale = 0.25f, a.label_smoothing = smoothing;
    a.logits = want.data(), a.dlogits = want.data(), a.labels = labels.data(), a.loss = loss.data();
    ASSERT_TRUE(cpu::cross_entropy(a).is_ok());
    Dev<float> dl(logits), dloss(static_cast<std::size_t>(rows));
    Dev<std::int32_t> dlab(labels);
    a.logits = dl.get(), a.dlogits = dl.get(), a.labels = dlab.get(), a.loss = dloss.get();
    ASSERT_TRUE(gpu().cross_entropy(a, gpu_ctx()).is_ok());
    expect_close(dl.host(), want, 1e-6f, 1e-4f);
    expect_close(dloss.host(), loss, 1e-5f, 1e-4f);
  }
  labels[3] = classes;
  Dev<float> dl(logits);
  Dev<std::int32_t> dlab(labels);
  CrossEntropyArgs a;
  a.rows = rows, a.classes = classes, a.ld_logits = a.ld_dlogits = ld;
  a.logits = dl.get(), a.dlogits = dl.get(), a.labels = dlab.get();
  const Status bad = gpu().cross_entropy(a, gpu_ctx());
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("label 133 of row 3"), std::string::npos) << bad.to_string();
  EXPECT_EQ(dl.host(), logits);
}

TEST(CudaTrain, AdamWMatchesCpuWithMask) {
  SKIP_WITHOUT_GPU();
  const std::size_t n = 1000;
  auto p = randf(n, 14), g = randf(n, 15), m = randf(n, 16, 0.0f, 0.1f), v = randf(n, 17, 0.0f, 0.01f);
  std::vector<std::uint8_t> mask(n);
  for (std::size_t i = 0; i < n; ++i) mask[i] = (i % 4) < 2 ? 1 : 0;
  std::vector<float> wp = p, wg = g, wm = m, wv = v;
  AdamWArgs a;
  a.n = static_cast<std::int64_t>(n), a.lr = 1e-3f, a.weight_decay = 0.01f, a.grad_scale = 0.5f, a.step = 3, a.zero_grad = true;
  a.param = wp.data(), a.grad = wg.data(), a.m = wm.data(), a.v = wv.data(), a.mask = mask.data();
  ASSERT_TRUE(cpu::adamw(a).is_ok());
  Dev<float> dp(p), dg(g), dm(m), dv(v);
  Dev<std::uint8_t> dmask(mask);
  a.param = dp.get(), a.grad = dg.get(), a.m = dm.get(), a.v = dv.get(), a.mask = dmask.get();
  ASSERT_TRUE(gpu().adamw(a, gpu_ctx()).is_ok());
  expect_close(dp.host(), wp, 1e-6f, 1e-5f);
  expect_close(dm.host(), wm, 1e-7f, 1e-5f);
  expect_close(dv.host(), wv, 1e-8f, 1e-5f);
  expect_close(dg.host(), wg, 0.0f, 0.0f);
}

// Transposes (fine-tuning's weight gradients), a reversed slice, 2- and 3-byte elements.
TEST(CudaTensorOps, StridedCopyMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int r = 37, c = 29;
  auto src = randf(static_cast<std::size_t>(r * c), 18);
  struct Case {
    int rank;
    std::int64_t dims[3], ss[3], ds[3];
    std::int64_t elem;
    std::int64_t src_base;  // elements from the start (negative strides start at the end)
  };
  const Case cases[] = {
      {2, {c, r, 0}, {1, c, 0}, {r, 1, 0}, 4, 0},                   // transpose
      {3, {2, r / 2, 5}, {c, -2, 3}, {5 * (r / 2), 5, 1}, 4, 40},  // reversed, strided
      {2, {r, c, 0}, {c, 1, 0}, {c, 1, 0}, 2, 0},                   // 2-byte elements
      {2, {10, 7, 0}, {7, 1, 0}, {1, 10, 0}, 3, 0},                 // 3-byte elements, transposed
  };
  for (const Case& k : cases) {
    std::int64_t total = 1;
    for (int d = 0; d < k.rank; ++d) total *= k.dims[d];
    StridedCopyArgs a;
    a.rank = k.rank, a.elem_bytes = k.elem;
    for (int d = 0; d < k.rank; ++d) a.dims[d] = k.dims[d], a.src_strides[d] = k.ss[d], a.dst_strides[d] = k.ds[d];
    std::vector<std::uint8_t> want(static_cast<std::size_t>(total * k.elem));
    a.src = reinterpret_cast<const std::uint8_t*>(src.data()) + k.src_base * k.elem;
    a.dst = want.data();
    ASSERT_TRUE(cpu::strided_copy(a).is_ok());
    std::vector<std::uint8_t> bytes(src.size() * 4);
    std::memcpy(bytes.data(), src.data(), bytes.size());
    Dev<std::uint8_t> ds(bytes), dd(want.size());
    a.src = ds.get() + k.src_base * k.elem;
    a.dst = dd.get();
    ASSERT_TRUE(gpu().strided_copy(a, gpu_ctx()).is_ok());
    EXPECT_EQ(dd.host(), want) << "rank " << k.rank << " elem " << k.elem;
  }
}

// Dropout's mask product and a broadcast; other types are UNIMPLEMENTED, and supports() says so.
TEST(CudaTensorOps, ElementwiseF32MatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int r = 19, c = 33;
  auto x = randf(static_cast<std::size_t>(r * c), 19), row = randf(static_cast<std::size_t>(c), 20, 0.5f, 2.0f);
  for (EwOp op : {EwOp::kMul, EwOp::kAdd, EwOp::kDiv, EwOp::kMax, EwOp::kTanh, EwOp::kErf, EwOp::kClip}) {
    ElementwiseArgs a;
    a.op = op, a.rank = 2, a.dims[0] = r, a.dims[1] = c;
    a.a_strides[0] = c, a.a_strides[1] = 1, a.b_strides[0] = 0, a.b_strides[1] = 1;  // b: one row, broadcast
    a.alpha = -0.5f, a.beta = 0.5f;
    std::vector<float> want(x.size());
    a.a = x.data(), a.b = row.data(), a.y = want.data();
    ASSERT_TRUE(cpu::elementwise(a).is_ok());
    Dev<float> dx(x), drow(row), dy(x.size());
    a.a = dx.get(), a.b = drow.get(), a.y = dy.get();
    ASSERT_TRUE(gpu().elementwise(a, gpu_ctx()).is_ok()) << ew_op_name(op);
    expect_close(dy.host(), want, 1e-6f, 1e-5f);
  }
  ElementwiseArgs a;
  a.op = EwOp::kLess, a.rank = 1, a.dims[0] = 4, a.a_strides[0] = a.b_strides[0] = 1, a.y_type = ElemType::kBool;
  Dev<float> dx(x), dy(x.size());
  a.a = dx.get(), a.b = dx.get(), a.y = dy.get();
  EXPECT_EQ(gpu().elementwise(a, gpu_ctx()).code(), StatusCode::kUnimplemented);
  const DType f32 = DType::kF32;
  EXPECT_TRUE(gpu().supports(OpQuery{Op::kElementwise, {&f32, 1}, {}}));
  EXPECT_FALSE(gpu().supports(OpQuery{Op::kElementwise, {}, {}}));
  EXPECT_TRUE(gpu().supports(OpQuery{Op::kAttentionBackward, {}, {}}));
}

}  // namespace
}  // namespace parley::kernels::cuda
