// Reductions (ReduceMean/Sum/Max/Min/Prod/SumSquare over any set of axes, keepdims) and CumSum,
// through Backend::reduce one axis at a time. Why: normalisation statistics and alignment paths
// in graph models. Depends on op_util.h, kernels/ops/reduce.h.
#include <algorithm>

#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

using kernels::ReduceKind;

template <ReduceKind K>
Status infer_reduce(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat, DataType::kInt64}));
  set_output(c, 0, c.in[0]->type);
  return Status::ok();
}

template <ReduceKind K>
Status run_reduce(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const int r = x.rank();
  std::vector<std::int64_t> axes;
  bool axes_given = false;
  // ReduceSum takes axes as an input from opset 13, the others from opset 18.
  const bool axes_input = (K == ReduceKind::kSum && node.opset >= 13) || node.opset >= 18;
  if (axes_input) {
    if (in.size() > 1 && in[1].defined()) {
      PARLEY_ASSIGN_OR_RETURN(axes, read_ints(in[1], ctx));
      axes_given = true;
    }
  } else if (const Attribute* a = node.attr("axes")) {
    axes = a->ints;
    axes_given = true;
  }
  if (axes.empty() && axes_given && node.attr_int("noop_with_empty_axes", 0) != 0) {
    out[0] = x;
    return Status::ok();
  }
  std::vector<bool> red(static_cast<std::size_t>(r), axes.empty());
  for (std::int64_t a : axes) {
    PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(a, r));
    red[static_cast<std::size_t>(ax)] = true;
  }
  const bool keep = node.attr_int("keepdims", 1) != 0;
  Dims kd = x.dims(), od;
  for (int d = 0; d < r; ++d) {
    if (red[static_cast<std::size_t>(d)]) kd[static_cast<std::size_t>(d)] = 1;
    if (!red[static_cast<std::size_t>(d)] || keep) od.push_back(kd[static_cast<std::size_t>(d)]);
  }
  // Reduce one axis at a time, innermost first.
  Tensor cur = x;
  Dims cd = x.dims();
  bool first = true;
  for (int d = r - 1; d >= 0; --d) {
    if (!red[static_cast<std::size_t>(d)]) continue;
    Dims nd = cd;
    nd[static_cast<std::size_t>(d)] = 1;
    PARLEY_ASSIGN_OR_RETURN(Tensor next, ctx.alloc(x.type(), nd));
    kernels::ReduceArgs a;
    a.kind = (K == ReduceKind::kSumSquare && !first) ? ReduceKind::kSum : K;
    a.outer = 1;
    for (int i = 0; i < d; ++i) a.outer *= cd[static_cast<std::size_t>(i)];
    a.n = cd[static_cast<std::size_t>(d)];
    a.inner = 1;
    for (int i = d + 1; i < r; ++i) a.inner *= cd[static_cast<std::size_t>(i)];
    a.type = to_elem_type(x.type());
    a.x = cur.raw();
    a.y = next.raw();
    PARLEY_RETURN_IF_ERROR(ctx.backend().reduce(a, ctx.exec()));
    cur = next;
    cd = nd;
    first = false;
  }
  out[0] = cur.reshaped(od);
  return Status::ok();
}

Status infer_cumsum(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kFloat, DataType::kInt64}));
  PARLEY_RETURN_IF_ERROR(expect_type(c, 1, {DataType::kInt64, DataType::kInt32}));
  if (c.in[0]->rank_known) {
    set_output(c, 0, c.in[0]->type, c.in[0]->dims);
  } else {
    set_output(c, 0, c.in[0]->type);
  }
  return Status::ok();
}

Status run_cumsum(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> axis, read_ints(in[1], ctx));
  if (axis.size() != 1) return bad("CumSum axis must be a scalar");
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(axis[0], x.rank()));
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(x.type(), x.dims()));
  kernels::ReduceArgs a;
  a.kind = ReduceKind::kCumSum;
  a.outer = 1;
  for (int i = 0; i < ax; ++i) a.outer *= x.dim(i);
  a.n = x.dim(ax);
  a.inner = 1;
  for (int i = ax + 1; i < x.rank(); ++i) a.inner *= x.dim(i);
  a.type = to_elem_type(x.type());
  a.x = x.raw();
  a.y = out[0].raw();
  a.exclusive = node.attr_int("exclusive", 0) != 0;
  a.reverse = node.attr_int("reverse", 0) != 0;
  return ctx.backend().reduce(a, ctx.exec());
}

template <ReduceKind K>
OpDef reduce_def(std::string_view name) {
  return OpDef{name, 1, 2, 1, 1, &infer_reduce<K>, &run_reduce<K>, true};
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_reduce_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(reduce_def<ReduceKind::kMean>("ReduceMean"));
  v.push_back(reduce_def<ReduceKind::kSum>("ReduceSum"));
  v.push_back(reduce_def<ReduceKind::kMax>("ReduceMax"));
  v.push_back(reduce_def<ReduceKind::kMin>("ReduceMin"));
  v.push_back(reduce_def<ReduceKind::kProd>("ReduceProd"));
  v.push_back(reduce_def<ReduceKind::kSumSquare>("ReduceSumSquare"));
  v.push_back(OpDef{"CumSum", 2, 2, 1, 1, &infer_cumsum, &run_cumsum, true});
}

}  // namespace parley::onnx::detail
