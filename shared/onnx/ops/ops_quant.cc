// Quantization ops of QDQ models: QuantizeLinear (float -> uint8/int8), DequantizeLinear
// (uint8/int8/int32 -> float), per tensor or per axis, through Backend::affine_quantize; and the
// fused round trip the loader puts where a QuantizeLinear feeds exactly one matching
// DequantizeLinear (see fuse_quantize_dequantize in loader.cc).
// Why: smart-turn v3 (pipecat) ships as an int8 QDQ graph: uint8 activations with zero points
// between the float ops, int8 per-channel weights. Depends on op_util.h.
#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

Result<kernels::AffineType> affine_type(DataType t) {
  switch (t) {
    case DataType::kUint8: return kernels::AffineType::kU8;
    case DataType::kInt8: return kernels::AffineType::kI8;
    case DataType::kInt32: return kernels::AffineType::kI32;
    default: return bad("quantized type " + data_type_name(t) + " (expected uint8, int8 or int32)");
  }
}

// Load-time checks shared by both ops: a scalar or 1-D scale; a zero point of the same shape
// and, for DequantizeLinear, of x's type.
Status check_scale(const InferContext& c, std::size_t quantized_input) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 1, {DataType::kFloat}));
  const Dims* sd = known_dims(c, 1);
  if (sd && sd->size() > 1) return bad("scale must be a scalar or 1-D, got " + dims_string(*sd));
  const ValueInfo* zp = c.input(2);
  if (zp) {
    const Dims* zd = known_dims(c, 2);
    if (sd && zd && numel(*sd) >= 0 && numel(*zd) >= 0 && numel(*sd) != numel(*zd)) {
      return bad("zero point " + dims_string(*zd) + " and scale " + dims_string(*sd) + " differ in size");
    }
    if (quantized_input < c.in.size() && c.input(quantized_input) && zp->type != c.input(quantized_input)->type) {
      return bad("zero point is " + data_type_name(zp->type) + ", x is " + data_type_name(c.input(quantized_input)->type));
    }
  }
  return Status::ok();
}

// The [outer, channels, inner] view of x for a scale of `scale` (scalar: per tensor; 1-D:
// along `axis`, whose length must match).
Status affine_view(const Node& node, const Tensor& x, const Tensor& scale, const Tensor* zp, kernels::AffineQuantizeArgs& a) {
  const std::int64_t n = x.numel();
  if (zp && zp->defined() && zp->numel() != scale.numel()) {
    return bad("zero point " + zp->describe() + " and scale " + scale.describe() + " differ in size");
  }
  if (scale.numel() == 1 && scale.rank() <= 1) {
    a.outer = 1;
    a.channels = 1;
    a.inner = n;
    return Status::ok();
  }
  if (scale.rank() != 1) return bad("scale must be a scalar or 1-D, got " + scale.describe());
  PARLEY_ASSIGN_OR_RETURN(int axis, normalize_axis(node.attr_int("axis", 1), x.rank()));
  if (x.dim(axis) != scale.numel()) {
    return bad("scale " + scale.describe() + " does not match axis " + std::to_string(axis) + " of x " + x.describe());
  }
  a.outer = 1;
  for (int i = 0; i < axis; ++i) a.outer *= x.dim(i);
  a.channels = x.dim(axis);
  a.inner = a.channels == 0 ? 0 : n / (a.outer * a.channels == 0 ? 1 : a.outer * a.channels);
  return Status::ok();
}

Status run_affine(kernels::AffineMode mode, const Node& node, std::span<const Tensor> in, Tensor& y, DataType y_type,
                  DataType q_type, RunContext& ctx) {
  const Tensor& x = in[0];
  const Tensor& scale = in[1];
  const Tensor* zp = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  kernels::AffineQuantizeArgs a;
  a.mode = mode;
  PARLEY_ASSIGN_OR_RETURN(a.q_type, affine_type(q_type));
  PARLEY_RETURN_IF_ERROR(affine_view(node, x, scale, zp, a));
  PARLEY_ASSIGN_OR_RETURN(y, ctx.alloc(y_type, x.dims()));
  a.x = x.raw();
  a.y = y.raw();
  a.scale = scale.data<float>();
  a.zero_point = zp ? zp->raw() : nullptr;
  return ctx.backend().affine_quantize(a, ctx.exec());
}

// ---- QuantizeLinear (opset >= 10; opset 13 added per-axis scales): y = saturate(round(x / s) + zp)
Status infer_quantize(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat}));
  PARLEY_RETURN_IF_ERROR(check_scale(c, 99));
  const DataType yt = c.input(2) ? c.input(2)->type : DataType::kUint8;
  if (yt != DataType::kUint8 && yt != DataType::kInt8) return bad("zero point is " + data_type_name(yt) + ", expected uint8 or int8");
  if (c.in[0]->rank_known) {
    set_output(c, 0, yt, c.in[0]->dims);
  } else {
    set_output(c, 0, yt);
  }
  return Status::ok();
}

Status run_quantize(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const DataType yt = in.size() > 2 && in[2].defined() ? in[2].type() : DataType::kUint8;
  return run_affine(kernels::AffineMode::kQuantize, node, in, out[0], yt, yt, ctx);
}

// ---- DequantizeLinear (opset >= 10; 13: per axis): y = (x - zp) * s
Status infer_dequantize(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kUint8, DataType::kInt8, DataType::kInt32}));
  PARLEY_RETURN_IF_ERROR(check_scale(c, 0));
  if (c.in[0]->rank_known) {
    set_output(c, 0, DataType::kFloat, c.in[0]->dims);
  } else {
    set_output(c, 0, DataType::kFloat);
  }
  return Status::ok();
}

Status run_dequantize(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  return run_affine(kernels::AffineMode::kDequantize, node, in, out[0], DataType::kFloat, in[0].type(), ctx);
}

// ---- the fused QuantizeLinear -> DequantizeLinear (float -> float, one pass)
Status infer_round_trip(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(infer_quantize(c));
  if (c.out[0]) c.out[0]->type = DataType::kFloat;
  return Status::ok();
}

Status run_round_trip(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const DataType qt = in.size() > 2 && in[2].defined() ? in[2].type() : DataType::kUint8;
  return run_affine(kernels::AffineMode::kRoundTrip, node, in, out[0], DataType::kFloat, qt, ctx);
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_quant_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(OpDef{"QuantizeLinear", 2, 3, 1, 1, &infer_quantize, &run_quantize, true});
  v.push_back(OpDef{"DequantizeLinear", 2, 3, 1, 1, &infer_dequantize, &run_dequantize, true});
}

const OpDef& quantize_dequantize_op() {
  static const OpDef def{kQuantizeDequantize, 2, 3, 1, 1, &ops::infer_round_trip, &ops::run_round_trip, true};
  return def;
}

}  // namespace parley::onnx::detail
