// Neural-network ops: MatMul and Gemm (Backend::gemm), 1-D Conv and ConvTranspose
// (Backend::conv1d: im2col + GEMM on the CPU), Softmax, LSTM (GEMMs + element-wise gates),
// RandomNormalLike. Why: the compute of VITS voices and Silero VAD. Depends on op_util.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/onnx/fusion.h"
#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

using kernels::EwOp;

Status float_inputs(const InferContext& c, std::size_t n) {
  for (std::size_t i = 0; i < n && i < c.in.size(); ++i) PARLEY_RETURN_IF_ERROR(expect_type(c, i, {DataType::kFloat}));
  return Status::ok();
}

// ---- MatMul: numpy semantics, batch dims broadcast.
Status infer_matmul(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(float_inputs(c, 2));
  const Dims* a = known_dims(c, 0);
  const Dims* b = known_dims(c, 1);
  if (a && b && a->size() >= 2 && b->size() >= 2) {
    const std::int64_t ka = a->back(), kb = (*b)[b->size() - 2];
    if (ka >= 0 && kb >= 0 && ka != kb) {
      return bad("inner dimensions differ: " + dims_string(*a) + " x " + dims_string(*b));
    }
  }
  set_output(c, 0, DataType::kFloat);
  return Status::ok();
}

Status gemm_call(RunContext& ctx, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                 const float* b, std::int64_t ldb, bool b_transposed, float* y, std::int64_t ldy, const float* bias = nullptr,
                 float alpha = 1.0f, float beta = 0.0f) {
  kernels::GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = std::max<std::int64_t>(lda, std::max<std::int64_t>(k, 1));
  g.b = b;
  g.b_transposed = b_transposed;
  g.ldb = std::max<std::int64_t>(ldb, std::max<std::int64_t>(b_transposed ? k : n, 1));
  g.c = y;
  g.ldc = std::max<std::int64_t>(ldy, std::max<std::int64_t>(n, 1));
  g.bias = bias;
  g.alpha = alpha;
  g.beta = beta;
  return ctx.backend().gemm(g, ctx.exec());
}

// QuantizeLinear of `count` floats to uint8 with a uint8 zero code (the backend's AVX-512 row).
Status quantize_u8(const float* x, std::int64_t count, float scale, std::int32_t zero, std::uint8_t* y, RunContext& ctx) {
  const std::uint8_t z = static_cast<std::uint8_t>(zero);
  kernels::AffineQuantizeArgs qa;
  qa.mode = kernels::AffineMode::kQuantize;
  qa.q_type = kernels::AffineType::kU8;
  qa.outer = 1;
  qa.inner = count;
  qa.x = x;
  qa.y = y;
  qa.scale = &scale;
  qa.zero_point = &z;
  return ctx.backend().affine_quantize(qa, ctx.exec());
}

// A MatMul between quantized values whose B integers were packed at load (fusion.h,
// integer_matmul). int8: A's bytes (QuantizeLinear again: A is a round trip's output, so this is
// exact) times B's int8 in the backend's int8 linear (exact int32 sums; the zero point's share
// comes off through B's column sums), scaled by sa * sb[column]. bf16: A's integers (A / sa,
// exact), the backend's bf16 linear over them (exact products, f32 sums), then the scales.
Status run_integer_matmul(const IntegerMatmul& im, std::int64_t m, const float* a, float* y, RunContext& ctx) {
  const std::int64_t n = im.n, k = im.k;
  if (im.int8) {  // A's bytes: QuantizeLinear to uint8 with the zero point as a uint8 code
    PARLEY_ASSIGN_OR_RETURN(Tensor aq, ctx.alloc(DataType::kUint8, Dims{m, k}));
    std::uint8_t* q = aq.data<std::uint8_t>();
    PARLEY_RETURN_IF_ERROR(quantize_u8(a, m * k, im.a_scale, im.a_zero, q, ctx));
    kernels::Int8LinearArgs la;
    la.m = m;
    la.n = n;
    la.k = k;
    la.a = q;
    la.lda = k;
    la.a_zero = im.a_zero;
    la.w = im.packed->raw();
    la.scales = im.scales->data();
    la.c = y;
    la.ldc = n;
    return ctx.backend().int8_linear(la, ctx.exec());
  }
  PARLEY_ASSIGN_OR_RETURN(Tensor ai, ctx.alloc(DataType::kFloat, Dims{m, k}));
  float* aip = ai.data<float>();
  const float inv = 1.0f / im.a_scale;
  // Round to nearest even by the 1.5 * 2^23 trick (|A / sa| <= 255 here): vectorizes, unlike a
  // libm call per element.
  constexpr float kMagic = 12582912.0f;
  for (std::int64_t i = 0; i < m * k; ++i) aip[i] = (a[i] * inv + kMagic) - kMagic;
  kernels::Bf16LinearArgs la;
  la.m = m;
  la.n = n;
  la.k = k;
  la.a = aip;
  la.lda = k;
  la.w = im.packed->raw();
  la.c = y;
  la.ldc = n;
  PARLEY_RETURN_IF_ERROR(ctx.backend().bf16_linear(la, ctx.exec()));
  const std::vector<float>& sb = *im.b_scales;
  std::vector<float> col(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) col[static_cast<std::size_t>(j)] = im.a_scale * (sb.size() == 1 ? sb[0] : sb[static_cast<std::size_t>(j)]);
  for (std::int64_t i = 0; i < m; ++i) {
    float* row = y + i * n;
    for (std::int64_t j = 0; j < n; ++j) row[j] *= col[static_cast<std::size_t>(j)];
  }
  return Status::ok();
}

// [m, k] x [k, n] products of two round trips (ActivationIntegerMatmul), one per batch entry:
// A's bytes as they are; B's bytes minus 128 as the int8 weights, packed per call (B is an
// activation), and the 128 - zb share of every product summed per row of A into the row offsets:
//   sum (a - za)(b - zb) = sum (a - za)(b - 128) + (128 - zb) * sum (a - za).
// Exact int32 sums, as ONNX Runtime's integer kernels for such MatMuls.
class ActivationInt8Product {
 public:
  ActivationInt8Product(const ActivationIntegerMatmul& am, std::int64_t m, std::int64_t n, std::int64_t k)
      : am_(am), m_(m), n_(n), k_(k), a8_(static_cast<std::size_t>(m * k)), b8_(static_cast<std::size_t>(k * n)),
        bt_(static_cast<std::size_t>(n * k)), offsets_(static_cast<std::size_t>(m)),
        scales_(static_cast<std::size_t>(n), am.a_scale * am.b_scale) {}

  Status run(const float* a, const float* b, float* y, RunContext& ctx) {
    const kernels::Backend& be = ctx.backend();
    PARLEY_RETURN_IF_ERROR(quantize_u8(a, m_ * k_, am_.a_scale, am_.a_zero, a8_.data(), ctx));
    PARLEY_RETURN_IF_ERROR(quantize_u8(b, k_ * n_, am_.b_scale, am_.b_zero, b8_.data(), ctx));
    for (std::int64_t x = 0; x < k_; ++x) {  // [k, n] bytes -> [n, k] int8 (byte - 128)
      const std::uint8_t* row = b8_.data() + x * n_;
      for (std::int64_t j = 0; j < n_; ++j) bt_[static_cast<std::size_t>(j * k_ + x)] = static_cast<std::int8_t>(row[j] ^ 0x80);
    }
    const std::int64_t bytes = be.int8_packed_bytes(n_, k_);
    if (bytes <= 0) return internal_error("int8_packed_bytes refused " + std::to_string(n_) + " x " + std::to_string(k_));
    packed_.resize(static_cast<std::size_t>(bytes));
    kernels::Int8PackArgs pa;
    pa.n = n_;
    pa.k = k_;
    pa.w = bt_.data();
    pa.ldw = k_;
    pa.dst = packed_.data();
    pa.dst_bytes = packed_.size();
    PARLEY_RETURN_IF_ERROR(be.pack_int8(pa, ctx.exec()));
    const std::int32_t shift = 128 - am_.b_zero;
    if (shift != 0) {
      for (std::int64_t i = 0; i < m_; ++i) {
        const std::uint8_t* row = a8_.data() + i * k_;
        std::int32_t s = 0;
        for (std::int64_t x = 0; x < k_; ++x) s += row[x];
        offsets_[static_cast<std::size_t>(i)] = shift * (s - static_cast<std::int32_t>(k_) * am_.a_zero);
      }
    }
    kernels::Int8LinearArgs la;
    la.m = m_;
    la.n = n_;
    la.k = k_;
    la.a = a8_.data();
    la.lda = k_;
    la.a_zero = am_.a_zero;
    la.w = packed_.data();
    la.scales = scales_.data();
    la.row_offsets = shift != 0 ? offsets_.data() : nullptr;
    la.c = y;
    la.ldc = n_;
    return be.int8_linear(la, ctx.exec());
  }

 private:
  ActivationIntegerMatmul am_;
  std::int64_t m_, n_, k_;
  std::vector<std::uint8_t> a8_, b8_;
  std::vector<std::int8_t> bt_;
  std::vector<std::int32_t> offsets_;
  std::vector<float> scales_;
  std::vector<std::uint8_t> packed_;
};

bool int8_linear_fast(RunContext& ctx, std::int64_t m, std::int64_t n, std::int64_t k) {
  const kernels::Backend& be = ctx.backend();
  if (!ctx.exec().stream.device.is_cpu() || be.int8_linear == nullptr || be.pack_int8 == nullptr ||
      be.int8_packed_bytes == nullptr || be.affine_quantize == nullptr || be.supports == nullptr) {
    return false;
  }
  const std::int64_t dims[3] = {m, n, k};
  return be.supports(kernels::OpQuery{kernels::Op::kInt8Linear, {}, dims});
}

Status run_matmul(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  Dims ad = in[0].dims(), bd = in[1].dims();
  const bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (ad.empty() || bd.empty()) return bad("MatMul of a scalar");
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  const std::int64_t m = ad[ad.size() - 2], k = ad.back(), n = bd.back();
  if (bd[bd.size() - 2] != k) return bad("MatMul inner dimensions differ: " + in[0].describe() + " x " + in[1].describe());
  Dims abatch(ad.begin(), ad.end() - 2), bbatch(bd.begin(), bd.end() - 2);
  PARLEY_ASSIGN_OR_RETURN(Dims batch, broadcast(abatch, bbatch));
  Dims od = batch;
  if (!a1) od.push_back(m);
  if (!b1) od.push_back(n);
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, od));
  std::vector<std::int64_t> as(batch.size()), bs(batch.size());
  broadcast_strides(abatch, batch, as.data());
  broadcast_strides(bbatch, batch, bs.data());
  const std::int64_t nb = numel(batch);
  const float* A = in[0].data<float>();
  const float* B = in[1].data<float>();
  float* Y = out[0].data<float>();
  // One GEMM when B is shared by the whole batch and A's batch is contiguous: [nb*m, k] x [k, n].
  bool b_shared = true, a_contig = true;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (bs[i] != 0 && batch[i] != 1) b_shared = false;
    if (as[i] == 0 && batch[i] != 1) a_contig = false;
  }
  IntegerMatmul im;
  if (b_shared && a_contig && !a1 && !b1 && integer_matmul(node, im) && im.n == n && im.k == k &&
      ctx.exec().stream.device.is_cpu()) {
    return run_integer_matmul(im, nb * m, A, Y, ctx);
  }
  ActivationIntegerMatmul am;
  // k <= 32000: the products of two activations reach 255 * 255, and their int32 sums (the row
  // offsets included) must not overflow.
  const bool int8 = !a1 && !b1 && activation_integer_matmul(node, am) && k <= 32000 && int8_linear_fast(ctx, m, n, k);
  if (b_shared && a_contig && !int8) return gemm_call(ctx, nb * m, n, k, A, k, B, n, false, Y, n);
  std::optional<ActivationInt8Product> product;
  if (int8) product.emplace(am, m, n, k);
  for (std::int64_t bi = 0; bi < nb; ++bi) {
    std::int64_t rem = bi, ao = 0, bo = 0;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t i = rem % batch[d];
      rem /= batch[d];
      ao += i * as[d];
      bo += i * bs[d];
    }
    if (product) {
      PARLEY_RETURN_IF_ERROR(product->run(A + ao * m * k, B + bo * k * n, Y + bi * m * n, ctx));
      continue;
    }
    PARLEY_RETURN_IF_ERROR(gemm_call(ctx, m, n, k, A + ao * m * k, k, B + bo * k * n, n, false, Y + bi * m * n, n));
  }
  return Status::ok();
}

// ---- Gemm: Y = alpha * op(A) op(B) + beta * C (2-D). transA is not offered by the backend.
Status infer_gemm(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(float_inputs(c, 3));
  set_output(c, 0, DataType::kFloat);
  return Status::ok();
}

Status run_gemm(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  Tensor a = in[0];
  const Tensor& b = in[1];
  if (a.rank() != 2 || b.rank() != 2) return bad("Gemm needs 2-D A and B");
  if (node.attr_int("transA", 0) != 0) {  // the backend GEMM reads A row-major: transpose it first
    PARLEY_ASSIGN_OR_RETURN(Tensor at, ctx.alloc(DataType::kFloat, Dims{a.dim(1), a.dim(0)}));
    const std::int64_t ss[2] = {1, a.dim(1)}, ds[2] = {a.dim(0), 1};
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, a, 0, ss, at, 0, ds, at.dims()));
    a = at;
  }
  const bool tb = node.attr_int("transB", 0) != 0;
  const std::int64_t m = a.dim(0), k = a.dim(1), n = tb ? b.dim(0) : b.dim(1);
  if ((tb ? b.dim(1) : b.dim(0)) != k) return bad("Gemm inner dimensions differ: " + a.describe() + " x " + b.describe());
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, Dims{m, n}));
  const float alpha = node.attr_float("alpha", 1.0f), beta = node.attr_float("beta", 1.0f);
  float bet = 0.0f;
  if (in.size() > 2 && in[2].defined() && beta != 0.0f) {
    // C broadcast into Y first; the GEMM then accumulates.
    PARLEY_ASSIGN_OR_RETURN(Dims bd, broadcast(in[2].dims(), Dims{m, n}));
    if (bd != Dims{m, n}) return bad("Gemm C " + in[2].describe() + " does not broadcast to [M, N]");
    std::vector<std::int64_t> ss(2), ds = contiguous_strides(Dims{m, n});
    broadcast_strides(in[2].dims(), Dims{m, n}, ss.data());
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, in[2], 0, ss.data(), out[0], 0, ds.data(), Dims{m, n}));
    bet = beta;
  }
  return gemm_call(ctx, m, n, k, a.data<float>(), k, b.data<float>(), tb ? k : n, tb, out[0].data<float>(), n, nullptr,
                   alpha, bet);
}

// ---- Conv / ConvTranspose (1-D)
Status check_conv_attrs(const InferContext& c, bool transposed) {
  PARLEY_RETURN_IF_ERROR(float_inputs(c, 3));
  const Dims* w = known_dims(c, 1);
  if (w && w->size() != 3) {
    return unimplemented((transposed ? std::string("ConvTranspose") : std::string("Conv")) + " with a " +
                         std::to_string(w->size() - 2) + "-D kernel (the runtime runs 1-D convolutions)");
  }
  for (const char* key : {"strides", "dilations", "kernel_shape", "output_padding", "output_shape"}) {
    const Attribute* a = c.node.attr(key);
    if (a && a->ints.size() != 1) return unimplemented(std::string(key) + " of a non-1-D convolution");
  }
  const std::string ap = c.node.attr_string("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID" && ap != "SAME_UPPER" && ap != "SAME_LOWER") return bad("unknown auto_pad '" + ap + "'");
  const Dims* x = known_dims(c, 0);
  if (x && w && x->size() == 3 && (*x)[1] >= 0) {
    const std::int64_t g = c.node.attr_int("group", 1);
    const std::int64_t cin = transposed ? (*w)[0] : (*w)[1] * g;
    if ((*x)[1] != cin) {
      return bad("input has " + std::to_string((*x)[1]) + " channels, the weights " + dims_string(*w) + " expect " + std::to_string(cin));
    }
  }
  return Status::ok();
}

Status infer_conv(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(check_conv_attrs(c, false));
  set_output(c, 0, DataType::kFloat);
  return Status::ok();
}
Status infer_conv_transpose(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(check_conv_attrs(c, true));
  set_output(c, 0, DataType::kFloat);
  return Status::ok();
}

std::int64_t first_or(const std::vector<std::int64_t>& v, std::int64_t fallback) { return v.empty() ? fallback : v[0]; }

// Pads `x` [N, C, L] with zeros: `front` at the start and `back` at the end of L.
Result<Tensor> zero_pad_1d(RunContext& ctx, const Tensor& x, std::int64_t front, std::int64_t back) {
  Dims od = x.dims();
  od[2] += front + back;
  PARLEY_ASSIGN_OR_RETURN(Tensor out, ctx.alloc(DataType::kFloat, od));
  std::vector<std::int64_t> zero(3, 0), ds = contiguous_strides(od), xs = contiguous_strides(x.dims());
  PARLEY_ASSIGN_OR_RETURN(Tensor z, ctx.alloc(DataType::kFloat, Dims{1}));
  const float zv = 0.0f;
  PARLEY_RETURN_IF_ERROR(upload(ctx, z, &zv, sizeof zv));
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, z, 0, zero.data(), out, 0, ds.data(), od));
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, x, 0, xs.data(), out, front, ds.data(), x.dims()));
  return out;
}

Status run_conv(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  if (x.rank() != 3 || w.rank() != 3) return unimplemented("Conv on " + x.describe() + " with weights " + w.describe() + " (1-D only)");
  const std::int64_t groups = node.attr_int("group", 1);
  const std::int64_t stride = first_or(node.attr_ints("strides"), 1), dil = first_or(node.attr_ints("dilations"), 1);
  const std::int64_t ks = w.dim(2);
  std::vector<std::int64_t> pads = node.attr_ints("pads");
  std::int64_t pb = pads.size() == 2 ? pads[0] : 0, pe = pads.size() == 2 ? pads[1] : 0;
  const std::string ap = node.attr_string("auto_pad", "NOTSET");
  if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    const std::int64_t lout = (x.dim(2) + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>(0, (lout - 1) * stride + dil * (ks - 1) + 1 - x.dim(2));
    pb = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
    pe = total - pb;
  } else if (ap == "VALID") {
    pb = pe = 0;
  }
  if (x.dim(1) != w.dim(1) * groups) {
    return bad("input " + x.describe() + " has " + std::to_string(x.dim(1)) + " channels; weights " + w.describe() +
               " with group " + std::to_string(groups) + " expect " + std::to_string(w.dim(1) * groups));
  }
  Tensor xin = x;
  std::int64_t pad = pb;
  if (pb != pe) {  // asymmetric: pad explicitly, run unpadded
    PARLEY_ASSIGN_OR_RETURN(xin, zero_pad_1d(ctx, x, pb, pe));
    pad = 0;
  }
  kernels::Conv1dArgs a;
  a.batch = x.dim(0);
  a.in_channels = x.dim(1);
  a.out_channels = w.dim(0);
  a.in_length = xin.dim(2);
  a.kernel_size = ks;
  a.stride = stride;
  a.padding = pad;
  a.dilation = dil;
  a.groups = groups;
  const std::int64_t lout = kernels::conv1d_output_length(a);
  if (lout < 0) return bad("Conv output length is negative for input " + x.describe());
  if (in.size() > 2 && in[2].defined() && in[2].numel() != a.out_channels) return bad("bias " + in[2].describe() + " does not match the output channels");
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, Dims{a.batch, a.out_channels, std::max<std::int64_t>(lout, 0)}));
  if (lout == 0) return Status::ok();
  a.x = xin.raw();
  a.w = w.raw();
  a.bias = in.size() > 2 && in[2].defined() ? in[2].data<float>() : nullptr;
  a.y = out[0].raw();
  const bool add_after = prepare_fused_conv(node, in, out[0], a);  // fusion.h: input transform, residual
  PARLEY_RETURN_IF_ERROR(ctx.backend().conv1d(a, ctx.exec()));
  return add_after ? add_fused_residual(in, out[0], ctx) : Status::ok();
}

Status run_conv_transpose(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const Tensor& w = in[1];
  if (x.rank() != 3 || w.rank() != 3) return unimplemented("ConvTranspose on " + x.describe() + " (1-D only)");
  const std::int64_t groups = node.attr_int("group", 1);
  const std::int64_t stride = first_or(node.attr_ints("strides"), 1), dil = first_or(node.attr_ints("dilations"), 1);
  const std::int64_t ks = w.dim(2), lin = x.dim(2);
  std::int64_t opad = first_or(node.attr_ints("output_padding"), 0);
  std::vector<std::int64_t> pads = node.attr_ints("pads");
  std::int64_t pb = pads.size() == 2 ? pads[0] : 0, pe = pads.size() == 2 ? pads[1] : 0;
  const std::int64_t full = (lin - 1) * stride + dil * (ks - 1) + 1 + opad;  // output with no padding
  const std::vector<std::int64_t> oshape = node.attr_ints("output_shape");
  const std::string ap = node.attr_string("auto_pad", "NOTSET");
  if (!oshape.empty() || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    const std::int64_t want = !oshape.empty() ? oshape.back() : lin * stride;
    const std::int64_t total = full - want;
    if (total < 0) {
      opad += -total;
      pb = pe = 0;
    } else if (ap == "SAME_LOWER") {
      pb = (total + 1) / 2;
      pe = total - pb;
    } else {
      pb = total / 2;
      pe = total - pb;
    }
  }
  if (x.dim(1) != w.dim(0)) return bad("input " + x.describe() + " does not match weights " + w.describe());
  kernels::Conv1dArgs a;
  a.transposed = true;
  a.batch = x.dim(0);
  a.in_channels = x.dim(1);
  a.out_channels = w.dim(1) * groups;
  a.in_length = lin;
  a.kernel_size = ks;
  a.stride = stride;
  a.dilation = dil;
  a.groups = groups;
  a.padding = pb == pe ? pb : 0;
  a.output_padding = pb == pe ? opad : opad;
  if (a.output_padding >= std::max(stride, dil)) {
    // The kernel bounds output_padding; larger (from output_shape) runs with 0 and pads after.
    a.output_padding = 0;
  }
  const std::int64_t lk = kernels::conv1d_output_length(a);
  const std::int64_t lout = full - pb - pe;
  if (lout < 0) return bad("ConvTranspose output length is negative");
  if (in.size() > 2 && in[2].defined() && in[2].numel() != a.out_channels) return bad("bias does not match the output channels");
  const float* bias = in.size() > 2 && in[2].defined() ? in[2].data<float>() : nullptr;
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, Dims{a.batch, a.out_channels, lout}));
  a.x = x.raw();
  a.w = w.raw();
  const bool direct = lk == lout && a.padding == pb;
  const bool add_after = prepare_fused_conv(node, in, out[0], a, direct);  // fusion.h: input transform, residual
  if (direct) {
    a.bias = bias;
    a.y = out[0].raw();
    PARLEY_RETURN_IF_ERROR(ctx.backend().conv1d(a, ctx.exec()));
    return add_after ? add_fused_residual(in, out[0], ctx) : Status::ok();
  }
  // Asymmetric pads or a longer output: run into a scratch, then crop/extend.
  PARLEY_ASSIGN_OR_RETURN(Tensor tmp, ctx.alloc(DataType::kFloat, Dims{a.batch, a.out_channels, std::max<std::int64_t>(lk, 0)}));
  a.y = tmp.raw();
  a.bias = nullptr;
  PARLEY_RETURN_IF_ERROR(ctx.backend().conv1d(a, ctx.exec()));
  // Output position j corresponds to tmp position j + pb - a.padding; outside tmp: bias only.
  PARLEY_ASSIGN_OR_RETURN(Tensor z, ctx.alloc(DataType::kFloat, Dims{1}));
  const float zv = 0.0f;
  PARLEY_RETURN_IF_ERROR(upload(ctx, z, &zv, sizeof zv));
  std::vector<std::int64_t> zero(3, 0), ds = contiguous_strides(out[0].dims()), ts = contiguous_strides(tmp.dims());
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, z, 0, zero.data(), out[0], 0, ds.data(), out[0].dims()));
  const std::int64_t shift = pb - a.padding;
  const std::int64_t j0 = std::max<std::int64_t>(0, -shift), j1 = std::min(lout, lk - shift);
  if (j1 > j0) {
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, tmp, j0 + shift, ts.data(), out[0], j0, ds.data(), Dims{a.batch, a.out_channels, j1 - j0}));
  }
  if (bias) {
    Tensor y = out[0];
    PARLEY_ASSIGN_OR_RETURN(Tensor b, ctx.alloc(DataType::kFloat, Dims{a.out_channels, 1}));
    PARLEY_RETURN_IF_ERROR(upload(ctx, b, bias, static_cast<std::size_t>(a.out_channels) * sizeof(float)));
    kernels::ElementwiseArgs e;
    e.op = EwOp::kAdd;
    e.rank = 3;
    e.dims[0] = a.batch;
    e.dims[1] = a.out_channels;
    e.dims[2] = lout;
    e.a = y.raw();
    e.a_strides[0] = a.out_channels * lout;
    e.a_strides[1] = lout;
    e.a_strides[2] = 1;
    e.b = b.raw();
    e.b_strides[1] = 1;
    e.y = y.raw();
    PARLEY_RETURN_IF_ERROR(ctx.backend().elementwise(e, ctx.exec()));
  }
  return add_after ? add_fused_residual(in, out[0], ctx) : Status::ok();
}

// ---- Softmax (opset >= 13: one axis, default -1)
Status infer_softmax(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(float_inputs(c, 1));
  if (c.node.opset < 13) return unimplemented("Softmax before opset 13 (2-D coercion semantics)");
  if (c.in[0]->rank_known) {
    set_output(c, 0, DataType::kFloat, c.in[0]->dims);
  } else {
    set_output(c, 0, DataType::kFloat);
  }
  return Status::ok();
}

Status softmax_last(RunContext& ctx, const Tensor& x, Tensor& y) {
  kernels::SoftmaxArgs s;
  s.cols = x.rank() == 0 ? 1 : x.dims().back();
  s.rows = s.cols == 0 ? 0 : x.numel() / s.cols;
  s.x = x.raw();
  s.ldx = std::max<std::int64_t>(s.cols, 1);
  s.y = y.raw();
  s.ldy = s.ldx;
  return ctx.backend().softmax(s, ctx.exec());
}

Status run_softmax(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(node.attr_int("axis", -1), x.rank()));
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, x.dims()));
  if (ax == x.rank() - 1 || x.rank() == 0) return softmax_last(ctx, x, out[0]);
  // Move the axis last, softmax, move it back.
  Dims td = x.dims();
  std::swap(td[static_cast<std::size_t>(ax)], td.back());
  std::vector<std::int64_t> xs = contiguous_strides(x.dims()), ss = xs;
  std::swap(ss[static_cast<std::size_t>(ax)], ss.back());
  PARLEY_ASSIGN_OR_RETURN(Tensor t, ctx.alloc(DataType::kFloat, td));
  std::vector<std::int64_t> ts = contiguous_strides(td);
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, x, 0, ss.data(), t, 0, ts.data(), td));
  PARLEY_RETURN_IF_ERROR(softmax_last(ctx, t, t));
  std::vector<std::int64_t> back = ts;
  std::swap(back[static_cast<std::size_t>(ax)], back.back());
  return strided_copy(ctx, t, 0, back.data(), out[0], 0, xs.data(), x.dims());
}

// ---- LSTM (gate order i, o, f, c; default activations only)
Status infer_lstm(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(float_inputs(c, 3));
  if (const Attribute* a = c.node.attr("activations")) {
    const std::vector<std::string> def = {"Sigmoid", "Tanh", "Tanh"};
    for (std::size_t i = 0; i < a->strings.size(); ++i) {
      if (a->strings[i] != def[i % 3]) return unimplemented("LSTM activation '" + a->strings[i] + "'");
    }
  }
  if (c.node.attr_int("input_forget", 0) != 0) return unimplemented("LSTM input_forget=1");
  if (c.node.attr("hidden_size") == nullptr) return bad("missing attribute 'hidden_size'");
  for (std::size_t i = 0; i < c.out.size(); ++i) set_output(c, i, DataType::kFloat);
  return Status::ok();
}

struct Ew2 {
  RunContext& ctx;
  std::int64_t rows, cols;
  // y[r, j] = op(a[r*lda + j], b[r*ldb + j]) into contiguous y; ld 0 broadcasts rows.
  Status operator()(EwOp op, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* y,
                    float alpha = 0.0f, float beta = 0.0f) const {
    kernels::ElementwiseArgs e;
    e.op = op;
    e.rank = 2;
    e.dims[0] = rows;
    e.dims[1] = cols;
    e.a = a;
    e.a_strides[0] = lda;
    e.a_strides[1] = 1;
    if (b) {
      e.b = b;
      e.b_strides[0] = ldb;
      e.b_strides[1] = 1;
    }
    e.y = y;
    e.alpha = alpha;
    e.beta = beta;
    return ctx.backend().elementwise(e, ctx.exec());
  }
};

Status run_lstm(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const bool batch_first = node.attr_int("layout", 0) != 0;
  const Tensor& X = in[0];
  const Tensor& W = in[1];
  const Tensor& R = in[2];
  if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3) return bad("LSTM needs 3-D X, W and R");
  const std::int64_t seq = batch_first ? X.dim(1) : X.dim(0), batch = batch_first ? X.dim(0) : X.dim(1), isz = X.dim(2);
  const std::int64_t H = node.attr_int("hidden_size", 0), dirs = W.dim(0);
  const std::string direction = node.attr_string("direction", "forward");
  if ((direction == "bidirectional") != (dirs == 2) || H <= 0) return bad("LSTM direction/hidden_size do not match W " + W.describe());
  if (W.dim(1) != 4 * H || W.dim(2) != isz || R.dim(1) != 4 * H || R.dim(2) != H) {
    return bad("LSTM weights W " + W.describe() + " / R " + R.describe() + " do not match hidden_size " + std::to_string(H) + " and input " + X.describe());
  }
  const Tensor* B = in.size() > 3 && in[3].defined() ? &in[3] : nullptr;
  if (in.size() > 4 && in[4].defined()) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> lens, read_ints(in[4], ctx));
    for (std::int64_t l : lens) {
      if (l != seq) return unimplemented("LSTM sequence_lens shorter than the sequence");
    }
  }
  const Tensor* h0 = in.size() > 5 && in[5].defined() ? &in[5] : nullptr;
  const Tensor* c0 = in.size() > 6 && in[6].defined() ? &in[6] : nullptr;
  const Tensor* P = in.size() > 7 && in[7].defined() ? &in[7] : nullptr;
  const float clip = node.attr_float("clip", 0.0f);
  const bool has_clip = node.attr("clip") != nullptr;
  const std::int64_t G = 4 * H;

  // X as [seq, batch, isz] contiguous.
  Tensor Xs = X;
  if (batch_first) {
    PARLEY_ASSIGN_OR_RETURN(Xs, ctx.alloc(DataType::kFloat, Dims{seq, batch, isz}));
    std::vector<std::int64_t> ss = {isz, seq * isz, 1}, ds = contiguous_strides(Xs.dims());
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, X, 0, ss.data(), Xs, 0, ds.data(), Xs.dims()));
  }
  Tensor Y, Yh, Yc;
  PARLEY_ASSIGN_OR_RETURN(Y, ctx.alloc(DataType::kFloat, Dims{seq, dirs, batch, H}));
  PARLEY_ASSIGN_OR_RETURN(Yh, ctx.alloc(DataType::kFloat, Dims{dirs, batch, H}));
  PARLEY_ASSIGN_OR_RETURN(Yc, ctx.alloc(DataType::kFloat, Dims{dirs, batch, H}));
  PARLEY_ASSIGN_OR_RETURN(Tensor gx, ctx.alloc(DataType::kFloat, Dims{seq, batch, G}));
  PARLEY_ASSIGN_OR_RETURN(Tensor gt, ctx.alloc(DataType::kFloat, Dims{batch, G}));
  PARLEY_ASSIGN_OR_RETURN(Tensor bias, ctx.alloc(DataType::kFloat, Dims{G}));
  PARLEY_ASSIGN_OR_RETURN(Tensor tmp, ctx.alloc(DataType::kFloat, Dims{4, batch, H}));
  float* ig = tmp.data<float>();
  float* fg = ig + batch * H;
  float* cg = fg + batch * H;
  float* og = cg + batch * H;
  const Ew2 ew{ctx, batch, H};
  PARLEY_ASSIGN_OR_RETURN(Tensor zeros, ctx.alloc(DataType::kFloat, Dims{H}));
  {
    const float zero = 0.0f;
    PARLEY_ASSIGN_OR_RETURN(Tensor zt, ctx.alloc(DataType::kFloat, Dims{1}));
    PARLEY_RETURN_IF_ERROR(upload(ctx, zt, &zero, sizeof zero));
    const std::int64_t s0 = 0, s1 = 1;
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, zt, 0, &s0, zeros, 0, &s1, Dims{H}));
  }
  const Ew2 ewg{ctx, 1, G};
  const Ew2 ewb{ctx, batch, G};
  for (std::int64_t d = 0; d < dirs; ++d) {
    float* h = Yh.data<float>() + d * batch * H;
    float* c = Yc.data<float>() + d * batch * H;
    // h, c <- initial states (or zeros).
    if (h0) {
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kIdentity, h0->data<float>() + d * batch * H, H, nullptr, 0, h));
    } else {
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kIdentity, zeros.data<float>(), 0, nullptr, 0, h));
    }
    if (c0) {
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kIdentity, c0->data<float>() + d * batch * H, H, nullptr, 0, c));
    } else {
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kIdentity, zeros.data<float>(), 0, nullptr, 0, c));
    }
    // bias = Wb + Rb
    const float* bptr = nullptr;
    if (B) {
      PARLEY_RETURN_IF_ERROR(ewg(EwOp::kAdd, B->data<float>() + d * 2 * G, G, B->data<float>() + d * 2 * G + G, G, bias.data<float>()));
      bptr = bias.data<float>();
    }
    // All input projections at once: [seq*batch, G] = X W^T + bias.
    PARLEY_RETURN_IF_ERROR(gemm_call(ctx, seq * batch, G, isz, Xs.data<float>(), isz, W.data<float>() + d * G * isz, isz, true,
                                     gx.data<float>(), G, bptr));
    const float* Rd = R.data<float>() + d * G * H;
    const float* Pd = P ? P->data<float>() + d * 3 * H : nullptr;
    const bool reverse = direction == "reverse" || d == 1;
    for (std::int64_t s = 0; s < seq; ++s) {
      const std::int64_t t = reverse ? seq - 1 - s : s;
      float* g = gt.data<float>();
      // g = gx[t] + h R^T
      PARLEY_RETURN_IF_ERROR(ewb(EwOp::kIdentity, gx.data<float>() + t * batch * G, G, nullptr, 0, g));
      PARLEY_RETURN_IF_ERROR(gemm_call(ctx, batch, G, H, h, H, Rd, H, true, g, G, nullptr, 1.0f, 1.0f));
      if (has_clip) PARLEY_RETURN_IF_ERROR(ewb(EwOp::kClip, g, G, nullptr, 0, g, -clip, clip));
      float* gi = g;
      float* go = g + H;
      float* gf = g + 2 * H;
      float* gc = g + 3 * H;
      if (Pd) {  // peepholes on the previous cell state: i and f
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, c, H, Pd, 0, ig));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kAdd, gi, G, ig, H, ig));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, c, H, Pd + 2 * H, 0, fg));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kAdd, gf, G, fg, H, fg));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, ig, H, nullptr, 0, ig));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, fg, H, nullptr, 0, fg));
      } else {
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, gi, G, nullptr, 0, ig));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, gf, G, nullptr, 0, fg));
      }
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kTanh, gc, G, nullptr, 0, cg));
      // c = f*c + i*g
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, fg, H, c, H, c));
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, ig, H, cg, H, ig));
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kAdd, c, H, ig, H, c));
      if (Pd) {
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, c, H, Pd + H, 0, og));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kAdd, go, G, og, H, og));
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, og, H, nullptr, 0, og));
      } else {
        PARLEY_RETURN_IF_ERROR(ew(EwOp::kSigmoid, go, G, nullptr, 0, og));
      }
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kTanh, c, H, nullptr, 0, cg));
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kMul, og, H, cg, H, h));
      PARLEY_RETURN_IF_ERROR(ew(EwOp::kIdentity, h, H, nullptr, 0, Y.data<float>() + ((t * dirs + d) * batch) * H));
    }
  }
  if (batch_first) {
    // layout 1: Y [batch, seq, dirs, H], Y_h / Y_c [batch, dirs, H].
    PARLEY_ASSIGN_OR_RETURN(Tensor Yb, ctx.alloc(DataType::kFloat, Dims{batch, seq, dirs, H}));
    std::vector<std::int64_t> ss = {H, dirs * batch * H, batch * H, 1}, ds = contiguous_strides(Yb.dims());
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, Y, 0, ss.data(), Yb, 0, ds.data(), Yb.dims()));
    Y = Yb;
    for (Tensor* st : {&Yh, &Yc}) {
      PARLEY_ASSIGN_OR_RETURN(Tensor sb, ctx.alloc(DataType::kFloat, Dims{batch, dirs, H}));
      std::vector<std::int64_t> s2 = {H, batch * H, 1}, d2 = contiguous_strides(sb.dims());
      PARLEY_RETURN_IF_ERROR(strided_copy(ctx, *st, 0, s2.data(), sb, 0, d2.data(), sb.dims()));
      *st = sb;
    }
  }
  if (out.size() > 0) out[0] = Y;
  if (out.size() > 1) out[1] = Yh;
  if (out.size() > 2) out[2] = Yc;
  return Status::ok();
}

// ---- RandomNormalLike: N(mean, scale) from the session's generator (Box-Muller).
Status infer_random_normal_like(InferContext& c) {
  const std::int64_t dt = c.node.attr_int("dtype", static_cast<std::int64_t>(c.in[0]->type));
  if (dt != 1) return unimplemented("RandomNormalLike of " + data_type_name(static_cast<int>(dt)));
  if (c.in[0]->rank_known) {
    set_output(c, 0, DataType::kFloat, c.in[0]->dims);
  } else {
    set_output(c, 0, DataType::kFloat);
  }
  return Status::ok();
}

Status run_random_normal_like(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const float mean = node.attr_float("mean", 0.0f), scale = node.attr_float("scale", 1.0f);
  std::vector<float> v(static_cast<std::size_t>(in[0].numel()));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto& rng = ctx.rng();
  for (std::size_t i = 0; i < v.size(); i += 2) {
    const double u1 = std::max(u(rng), 1e-300), u2 = u(rng);
    const double r = std::sqrt(-2.0 * std::log(u1));
    v[i] = static_cast<float>(mean + scale * r * std::cos(6.283185307179586 * u2));
    if (i + 1 < v.size()) v[i + 1] = static_cast<float>(mean + scale * r * std::sin(6.283185307179586 * u2));
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, in[0].dims()));
  return upload(ctx, out[0], v.data(), v.size() * sizeof(float));
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_nn_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(OpDef{"MatMul", 2, 2, 1, 1, &infer_matmul, &run_matmul, true});
  v.push_back(OpDef{"Gemm", 2, 3, 1, 1, &infer_gemm, &run_gemm, true});
  v.push_back(OpDef{"Conv", 2, 3, 1, 1, &infer_conv, &run_conv, true});
  v.push_back(OpDef{"ConvTranspose", 2, 3, 1, 1, &infer_conv_transpose, &run_conv_transpose, true});
  v.push_back(OpDef{"Softmax", 1, 1, 1, 1, &infer_softmax, &run_softmax, true});
  v.push_back(OpDef{"LSTM", 3, 8, 0, 3, &infer_lstm, &run_lstm, true});
  v.push_back(OpDef{"RandomNormalLike", 1, 1, 1, 1, &infer_random_normal_like, &run_random_normal_like, false});
}

}  // namespace parley::onnx::detail
