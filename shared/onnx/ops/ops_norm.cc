// LayerNormalization (opset 17): normalizes over the trailing axes from `axis` on through
// Backend::norm; Scale and B broadcast to the normalized shape; the optional Mean and InvStdDev
// outputs come from Backend::reduce and element-wise ops.
// Why: transformer encoders exported at opset >= 17 (smart-turn v3) use the fused op instead of
// ReduceMean/Sub/Pow chains. Depends on op_util.h, kernels/ops/norm.h.
#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

using kernels::EwOp;

Status infer_layer_norm(InferContext& c) {
  for (std::size_t i = 0; i < 3; ++i) PARLEY_RETURN_IF_ERROR(expect_type(c, i, {DataType::kFloat}));
  if (c.node.attr_int("stash_type", 1) != 1) return unimplemented("LayerNormalization with stash_type other than 1 (float)");
  const Dims* xd = known_dims(c, 0);
  if (!xd) {
    for (std::size_t i = 0; i < c.out.size(); ++i) set_output(c, i, DataType::kFloat);
    return Status::ok();
  }
  const int r = static_cast<int>(xd->size());
  PARLEY_ASSIGN_OR_RETURN(int axis, normalize_axis(c.node.attr_int("axis", -1), r));
  set_output(c, 0, DataType::kFloat, *xd);
  Dims sd = *xd;
  for (int i = axis; i < r; ++i) sd[static_cast<std::size_t>(i)] = 1;
  set_output(c, 1, DataType::kFloat, sd);
  set_output(c, 2, DataType::kFloat, sd);
  return Status::ok();
}

// `p` ([cols] after broadcasting to the normalized dims `nd`) as a contiguous [cols] tensor:
// `p` itself when it already has cols elements, else an expanded copy.
Result<Tensor> per_column(RunContext& ctx, const Tensor& p, const Dims& nd, const char* what) {
  const std::int64_t cols = numel(nd);
  if (p.numel() == cols) return p;
  PARLEY_ASSIGN_OR_RETURN(Dims b, broadcast(nd, p.dims()));
  if (b != nd) return bad(std::string(what) + " " + p.describe() + " does not broadcast to the normalized shape " + dims_string(nd));
  PARLEY_ASSIGN_OR_RETURN(Tensor out, ctx.alloc(DataType::kFloat, nd));
  std::vector<std::int64_t> src(nd.size()), dst = contiguous_strides(nd);
  broadcast_strides(p.dims(), nd, src.data());
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, p, 0, src.data(), out, 0, dst.data(), nd));
  return out;
}

Status ew(RunContext& ctx, EwOp op, const Tensor& a, const Tensor* b, Tensor& y, bool b_scalar = false) {
  kernels::ElementwiseArgs e;
  e.op = op;
  e.rank = 1;
  e.dims[0] = y.numel();
  e.a = a.raw();
  e.a_strides[0] = 1;
  if (b) {
    e.b = b->raw();
    e.b_strides[0] = b_scalar ? 0 : 1;
  }
  e.y = y.raw();
  return ctx.backend().elementwise(e, ctx.exec());
}

Status run_layer_norm(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const int r = x.rank();
  PARLEY_ASSIGN_OR_RETURN(int axis, normalize_axis(node.attr_int("axis", -1), r));
  const Dims nd(x.dims().begin() + axis, x.dims().end());
  std::int64_t rows = 1;
  for (int i = 0; i < axis; ++i) rows *= x.dim(i);
  const std::int64_t cols = numel(nd);
  const float eps = node.attr_float("epsilon", 1e-5f);
  PARLEY_ASSIGN_OR_RETURN(Tensor gamma, per_column(ctx, in[1], nd, "Scale"));
  Tensor beta;
  if (in.size() > 2 && in[2].defined()) {
    PARLEY_ASSIGN_OR_RETURN(beta, per_column(ctx, in[2], nd, "B"));
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, x.dims()));
  kernels::NormArgs a;
  a.kind = kernels::NormKind::kLayerNorm;
  a.rows = cols == 0 ? 0 : rows;
  a.cols = cols;
  a.x = x.raw();
  a.ldx = std::max<std::int64_t>(cols, 1);
  a.gamma = gamma.data<float>();
  a.beta = beta.defined() ? beta.data<float>() : nullptr;
  a.eps = eps;
  a.y = out[0].raw();
  a.ldy = a.ldx;
  PARLEY_RETURN_IF_ERROR(ctx.backend().norm(a, ctx.exec()));
  const bool want_mean = out.size() > 1 && node.outputs.size() > 1 && node.outputs[1] >= 0;
  const bool want_inv = out.size() > 2 && node.outputs.size() > 2 && node.outputs[2] >= 0;
  if (!want_mean && !want_inv) return Status::ok();
  // The statistics, for graphs that read them: mean, then 1 / sqrt(mean((x - mean)^2) + eps).
  Dims sd = x.dims();
  for (int i = axis; i < r; ++i) sd[static_cast<std::size_t>(i)] = 1;
  PARLEY_ASSIGN_OR_RETURN(Tensor mean, ctx.alloc(DataType::kFloat, sd));
  kernels::ReduceArgs m;
  m.kind = kernels::ReduceKind::kMean;
  m.outer = rows;
  m.n = cols;
  m.inner = 1;
  m.x = x.raw();
  m.y = mean.raw();
  PARLEY_RETURN_IF_ERROR(ctx.backend().reduce(m, ctx.exec()));
  if (want_mean) out[1] = mean;
  if (!want_inv) return Status::ok();
  PARLEY_ASSIGN_OR_RETURN(Tensor d, ctx.alloc(DataType::kFloat, x.dims()));
  kernels::ElementwiseArgs e;
  e.op = EwOp::kSub;
  e.rank = 2;
  e.dims[0] = rows;
  e.dims[1] = cols;
  e.a = x.raw();
  e.a_strides[0] = cols;
  e.a_strides[1] = 1;
  e.b = mean.raw();
  e.b_strides[0] = 1;
  e.b_strides[1] = 0;
  e.y = d.raw();
  PARLEY_RETURN_IF_ERROR(ctx.backend().elementwise(e, ctx.exec()));
  PARLEY_ASSIGN_OR_RETURN(Tensor inv, ctx.alloc(DataType::kFloat, sd));
  m.kind = kernels::ReduceKind::kSumSquare;
  m.x = d.raw();
  m.y = inv.raw();
  PARLEY_RETURN_IF_ERROR(ctx.backend().reduce(m, ctx.exec()));
  PARLEY_ASSIGN_OR_RETURN(Tensor n_t, ctx.alloc(DataType::kFloat, {1}));
  PARLEY_ASSIGN_OR_RETURN(Tensor eps_t, ctx.alloc(DataType::kFloat, {1}));
  const float n_f = static_cast<float>(cols), eps_f = eps;
  PARLEY_RETURN_IF_ERROR(upload(ctx, n_t, &n_f, sizeof(float)));
  PARLEY_RETURN_IF_ERROR(upload(ctx, eps_t, &eps_f, sizeof(float)));
  PARLEY_RETURN_IF_ERROR(ew(ctx, EwOp::kDiv, inv, &n_t, inv, true));
  PARLEY_RETURN_IF_ERROR(ew(ctx, EwOp::kAdd, inv, &eps_t, inv, true));
  PARLEY_RETURN_IF_ERROR(ew(ctx, EwOp::kSqrt, inv, nullptr, inv));
  PARLEY_RETURN_IF_ERROR(ew(ctx, EwOp::kReciprocal, inv, nullptr, inv));
  out[2] = inv;
  return Status::ok();
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_norm_ops(std::vector<OpDef>& v) {
  v.push_back(OpDef{"LayerNormalization", 2, 3, 1, 3, &ops::infer_layer_norm, &ops::run_layer_norm, true});
}

}  // namespace parley::onnx::detail
