// Element-wise ONNX ops: arithmetic, comparisons, logic, activations, Cast, Clip, Where,
// Identity, Max/Min. All run through Backend::elementwise with broadcast strides (no copies).
// Why: most of a VITS graph is element-wise glue. Depends on op_util.h, kernels/ops/elementwise.h.
#include <cmath>
#include <limits>

#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

using kernels::EwOp;

bool is_compare(EwOp op) {
  return op == EwOp::kEqual || op == EwOp::kLess || op == EwOp::kLessOrEqual || op == EwOp::kGreater ||
         op == EwOp::kGreaterOrEqual;
}
bool is_logic(EwOp op) { return op == EwOp::kAnd || op == EwOp::kOr || op == EwOp::kXor || op == EwOp::kNot; }
bool float_only(EwOp op) {
  switch (op) {
    case EwOp::kExp: case EwOp::kLog: case EwOp::kSqrt: case EwOp::kReciprocal: case EwOp::kErf: case EwOp::kTanh:
    case EwOp::kSigmoid: case EwOp::kLeakyRelu: case EwOp::kSoftplus: case EwOp::kCeil: case EwOp::kFloor:
    case EwOp::kRound:
      return true;
    default:
      return false;
  }
}

Status check_rank(const Dims& d) {
  if (d.size() > static_cast<std::size_t>(kernels::kEwMaxRank)) {
    return unimplemented("rank " + std::to_string(d.size()) + " tensor (element-wise ops handle rank <= 8)");
  }
  return Status::ok();
}

// Runs y = op(a, b, c) with broadcasting into a fresh output of type `yt`.
Status run_ew(RunContext& ctx, EwOp op, const Tensor* a, const Tensor* b, const Tensor* c, DataType yt, Tensor& out,
              float alpha = 0.0f, float beta = 0.0f) {
  Dims od = a->dims();
  if (b) {
    PARLEY_ASSIGN_OR_RETURN(od, broadcast(od, b->dims()));
  }
  if (c) {
    PARLEY_ASSIGN_OR_RETURN(od, broadcast(od, c->dims()));
  }
  PARLEY_RETURN_IF_ERROR(check_rank(od));
  PARLEY_ASSIGN_OR_RETURN(out, ctx.alloc(yt, od));
  kernels::ElementwiseArgs e;
  e.op = op;
  e.rank = static_cast<int>(od.size());
  for (int d = 0; d < e.rank; ++d) e.dims[d] = od[static_cast<std::size_t>(d)];
  e.a = a->raw();
  e.a_type = to_elem_type(a->type());
  broadcast_strides(a->dims(), od, e.a_strides);
  if (b) {
    e.b = b->raw();
    e.b_type = to_elem_type(b->type());
    broadcast_strides(b->dims(), od, e.b_strides);
  }
  if (c) {
    e.c = c->raw();
    e.c_type = to_elem_type(c->type());
    broadcast_strides(c->dims(), od, e.c_strides);
  }
  e.y = out.raw();
  e.y_type = to_elem_type(yt);
  e.alpha = alpha;
  e.beta = beta;
  return ctx.backend().elementwise(e, ctx.exec());
}

// ---- binary
template <EwOp OP>
Status infer_binary(InferContext& c) {
  const ValueInfo* a = c.input(0);
  const ValueInfo* b = c.input(1);
  if (is_logic(OP)) {
    PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kBool}));
    PARLEY_RETURN_IF_ERROR(expect_type(c, 1, {DataType::kBool}));
  } else if (OP != EwOp::kPow && a->type != b->type) {
    return bad("inputs are " + data_type_name(a->type) + " and " + data_type_name(b->type) + "; they must match");
  } else if (OP != EwOp::kEqual) {
    PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat, DataType::kInt64, DataType::kInt32}));
  }
  const DataType yt = is_compare(OP) || is_logic(OP) ? DataType::kBool : a->type;
  if (a->rank_known && b->rank_known) {
    PARLEY_ASSIGN_OR_RETURN(Dims d, broadcast(a->dims, b->dims));
    set_output(c, 0, yt, d);
  } else {
    set_output(c, 0, yt);
  }
  return Status::ok();
}

template <EwOp OP>
Status run_binary(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const DataType yt = is_compare(OP) || is_logic(OP) ? DataType::kBool : in[0].type();
  return run_ew(ctx, OP, &in[0], &in[1], nullptr, yt, out[0]);
}

// Max / Min: variadic, folded pairwise.
template <EwOp OP>
Status infer_variadic(InferContext& c) {
  for (std::size_t i = 1; i < c.in.size(); ++i) {
    if (c.in[i]->type != c.in[0]->type) return bad("all inputs must have one type");
  }
  set_output(c, 0, c.in[0]->type);
  return Status::ok();
}

template <EwOp OP>
Status run_variadic(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  if (in.size() == 1) {
    out[0] = in[0];
    return Status::ok();
  }
  Tensor acc;
  PARLEY_RETURN_IF_ERROR(run_ew(ctx, OP, &in[0], &in[1], nullptr, in[0].type(), acc));
  for (std::size_t i = 2; i < in.size(); ++i) {
    Tensor next;
    PARLEY_RETURN_IF_ERROR(run_ew(ctx, OP, &acc, &in[i], nullptr, in[0].type(), next));
    acc = next;
  }
  out[0] = acc;
  return Status::ok();
}

// ---- unary
template <EwOp OP>
Status infer_unary(InferContext& c) {
  if (float_only(OP)) PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat}));
  if (OP == EwOp::kNot) PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kBool}));
  const DataType yt = OP == EwOp::kNot ? DataType::kBool : c.in[0]->type;
  if (c.in[0]->rank_known) {
    set_output(c, 0, yt, c.in[0]->dims);
  } else {
    set_output(c, 0, yt);
  }
  return Status::ok();
}

template <EwOp OP>
Status run_unary(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const float alpha = OP == EwOp::kLeakyRelu ? node.attr_float("alpha", 0.01f) : 0.0f;
  return run_ew(ctx, OP, &in[0], nullptr, nullptr, in[0].type(), out[0], alpha);
}

// ---- Cast
Status infer_cast(InferContext& c) {
  const Attribute* to = c.node.attr("to");
  if (to == nullptr) return bad("missing attribute 'to'");
  if (!is_supported_type(static_cast<int>(to->i))) {
    return unimplemented("Cast to " + data_type_name(static_cast<int>(to->i)) +
                         " (the runtime computes with float, int64, int32, bool)");
  }
  if (c.in[0]->rank_known) {
    set_output(c, 0, static_cast<DataType>(to->i), c.in[0]->dims);
  } else {
    set_output(c, 0, static_cast<DataType>(to->i));
  }
  return Status::ok();
}

Status run_cast(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const auto to = static_cast<DataType>(node.attr_int("to", 1));
  if (to == in[0].type()) {
    out[0] = in[0];
    return Status::ok();
  }
  return run_ew(ctx, EwOp::kCast, &in[0], nullptr, nullptr, to, out[0]);
}

// ---- Clip (opset >= 11: min and max are optional scalar inputs)
Status infer_clip(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat, DataType::kInt64, DataType::kInt32}));
  return infer_unary<EwOp::kClip>(c);
}

Status run_clip(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const bool is_float = in[0].type() == DataType::kFloat;
  float lo = is_float ? -std::numeric_limits<float>::infinity() : -9.2e18f;
  float hi = is_float ? std::numeric_limits<float>::infinity() : 9.2e18f;
  if (in.size() > 1 && in[1].defined()) {
    PARLEY_ASSIGN_OR_RETURN(lo, read_scalar(in[1], ctx));
  }
  if (in.size() > 2 && in[2].defined()) {
    PARLEY_ASSIGN_OR_RETURN(hi, read_scalar(in[2], ctx));
  }
  return run_ew(ctx, EwOp::kClip, &in[0], nullptr, nullptr, in[0].type(), out[0], lo, hi);
}

// ---- Where
Status infer_where(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kBool}));
  if (c.in[1]->type != c.in[2]->type) return bad("X and Y types differ");
  if (c.in[0]->rank_known && c.in[1]->rank_known && c.in[2]->rank_known) {
    PARLEY_ASSIGN_OR_RETURN(Dims d, broadcast(c.in[0]->dims, c.in[1]->dims));
    PARLEY_ASSIGN_OR_RETURN(d, broadcast(d, c.in[2]->dims));
    set_output(c, 0, c.in[1]->type, d);
  } else {
    set_output(c, 0, c.in[1]->type);
  }
  return Status::ok();
}

Status run_where(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  return run_ew(ctx, EwOp::kWhere, &in[0], &in[1], &in[2], in[1].type(), out[0]);
}

// ---- Identity
Status infer_identity(InferContext& c) {
  *c.out[0] = ValueInfo{c.out[0]->name, c.in[0]->type, c.in[0]->dims, c.in[0]->rank_known, std::nullopt,
                        c.out[0]->graph_input, c.out[0]->graph_output};
  return Status::ok();
}
Status run_identity(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext&) {
  out[0] = in[0];
  return Status::ok();
}

template <EwOp OP>
OpDef binary_def(std::string_view name) {
  return OpDef{name, 2, 2, 1, 1, &infer_binary<OP>, &run_binary<OP>, true};
}
template <EwOp OP>
OpDef unary_def(std::string_view name) {
  return OpDef{name, 1, 1, 1, 1, &infer_unary<OP>, &run_unary<OP>, true};
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_elementwise_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(binary_def<EwOp::kAdd>("Add"));
  v.push_back(binary_def<EwOp::kSub>("Sub"));
  v.push_back(binary_def<EwOp::kMul>("Mul"));
  v.push_back(binary_def<EwOp::kDiv>("Div"));
  v.push_back(binary_def<EwOp::kPow>("Pow"));
  v.push_back(binary_def<EwOp::kEqual>("Equal"));
  v.push_back(binary_def<EwOp::kLess>("Less"));
  v.push_back(binary_def<EwOp::kLessOrEqual>("LessOrEqual"));
  v.push_back(binary_def<EwOp::kGreater>("Greater"));
  v.push_back(binary_def<EwOp::kGreaterOrEqual>("GreaterOrEqual"));
  v.push_back(binary_def<EwOp::kAnd>("And"));
  v.push_back(binary_def<EwOp::kOr>("Or"));
  v.push_back(binary_def<EwOp::kXor>("Xor"));
  v.push_back(OpDef{"Max", 1, 8, 1, 1, &infer_variadic<EwOp::kMax>, &run_variadic<EwOp::kMax>, true});
  v.push_back(OpDef{"Min", 1, 8, 1, 1, &infer_variadic<EwOp::kMin>, &run_variadic<EwOp::kMin>, true});
  v.push_back(unary_def<EwOp::kNeg>("Neg"));
  v.push_back(unary_def<EwOp::kAbs>("Abs"));
  v.push_back(unary_def<EwOp::kExp>("Exp"));
  v.push_back(unary_def<EwOp::kLog>("Log"));
  v.push_back(unary_def<EwOp::kSqrt>("Sqrt"));
  v.push_back(unary_def<EwOp::kReciprocal>("Reciprocal"));
  v.push_back(unary_def<EwOp::kErf>("Erf"));
  v.push_back(unary_def<EwOp::kTanh>("Tanh"));
  v.push_back(unary_def<EwOp::kSigmoid>("Sigmoid"));
  v.push_back(unary_def<EwOp::kRelu>("Relu"));
  v.push_back(unary_def<EwOp::kLeakyRelu>("LeakyRelu"));
  v.push_back(unary_def<EwOp::kSoftplus>("Softplus"));
  v.push_back(unary_def<EwOp::kCeil>("Ceil"));
  v.push_back(unary_def<EwOp::kFloor>("Floor"));
  v.push_back(unary_def<EwOp::kNot>("Not"));
  v.push_back(unary_def<EwOp::kSign>("Sign"));
  v.push_back(OpDef{"Cast", 1, 1, 1, 1, &infer_cast, &run_cast, true});
  v.push_back(OpDef{"Clip", 1, 3, 1, 1, &infer_clip, &run_clip, true});
  v.push_back(OpDef{"Where", 3, 3, 1, 1, &infer_where, &run_where, true});
  v.push_back(OpDef{"Identity", 1, 1, 1, 1, &infer_identity, &run_identity, true});
}

}  // namespace parley::onnx::detail
