// Data-movement ops: Transpose, Slice, Concat, Split, Pad (constant/reflect/edge), Expand, Tile,
// Gather, GatherElements, GatherND, ScatterND. Layout changes go through Backend::strided_copy,
// index-driven ones through Backend::gather. Why: VITS exports use these for relative-position
// attention, alignment and spline bins. Depends on op_util.h, kernels/ops/gather.h.
#include <algorithm>
#include <limits>

#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

Status same_type_out(InferContext& c) {
  set_output(c, 0, c.in[0]->type);
  return Status::ok();
}

// ---- Transpose
Status infer_transpose(InferContext& c) {
  const Dims* in = known_dims(c, 0);
  std::vector<std::int64_t> perm = c.node.attr_ints("perm");
  if (in && !perm.empty()) {
    if (perm.size() != in->size()) return bad("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(in->size()));
    Dims d;
    for (std::int64_t p : perm) {
      if (p < 0 || p >= static_cast<std::int64_t>(in->size())) return bad("perm entry " + std::to_string(p) + " out of range");
      d.push_back((*in)[static_cast<std::size_t>(p)]);
    }
    set_output(c, 0, c.in[0]->type, d);
    return Status::ok();
  }
  return same_type_out(c);
}

Status run_transpose(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const int r = in[0].rank();
  std::vector<std::int64_t> perm = node.attr_ints("perm");
  if (perm.empty()) {
    for (int i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != r) return bad("perm does not match rank " + std::to_string(r));
  Dims od;
  std::vector<std::int64_t> is = contiguous_strides(in[0].dims()), ss;
  for (std::int64_t p : perm) {
    if (p < 0 || p >= r) return bad("perm entry out of range");
    od.push_back(in[0].dim(static_cast<int>(p)));
    ss.push_back(is[static_cast<std::size_t>(p)]);
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(in[0].type(), od));
  std::vector<std::int64_t> ds = contiguous_strides(od);
  return strided_copy(ctx, in[0], 0, ss.data(), out[0], 0, ds.data(), od);
}

// ---- Slice (opset >= 10: starts, ends, axes, steps are inputs)
Status run_slice(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const int r = x.rank();
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> starts, read_ints(in[1], ctx));
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> ends, read_ints(in[2], ctx));
  std::vector<std::int64_t> axes, steps;
  if (in.size() > 3 && in[3].defined()) {
    PARLEY_ASSIGN_OR_RETURN(axes, read_ints(in[3], ctx));
  } else {
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  }
  if (in.size() > 4 && in[4].defined()) {
    PARLEY_ASSIGN_OR_RETURN(steps, read_ints(in[4], ctx));
  } else {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return bad("starts, ends, axes and steps must have the same length");
  }
  Dims od = x.dims();
  std::vector<std::int64_t> xs = contiguous_strides(x.dims()), ss = xs;
  std::int64_t off = 0;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(axes[i], r));
    const std::int64_t dim = x.dim(ax), step = steps[i];
    if (step == 0) return bad("slice step is 0");
    std::int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0 && e > std::numeric_limits<std::int64_t>::min() / 2) e += dim;
    std::int64_t n;
    if (step > 0) {
      s = std::clamp<std::int64_t>(s, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
      n = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<std::int64_t>(s, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
      n = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    od[static_cast<std::size_t>(ax)] = n;
    off += s * xs[static_cast<std::size_t>(ax)];
    ss[static_cast<std::size_t>(ax)] = xs[static_cast<std::size_t>(ax)] * step;
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(x.type(), od));
  std::vector<std::int64_t> ds = contiguous_strides(od);
  return strided_copy(ctx, x, off, ss.data(), out[0], 0, ds.data(), od);
}

// ---- Concat
Status infer_concat(InferContext& c) {
  for (std::size_t i = 1; i < c.in.size(); ++i) {
    if (c.in[i]->type != c.in[0]->type) return bad("inputs have different types");
  }
  if (c.node.attr("axis") == nullptr) return bad("missing attribute 'axis'");
  return same_type_out(c);
}

Status run_concat(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const int r = in[0].rank();
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(node.attr_int("axis", 0), r));
  Dims od = in[0].dims();
  od[static_cast<std::size_t>(ax)] = 0;
  for (const Tensor& t : in) {
    if (t.rank() != r) return bad("Concat inputs " + in[0].describe() + " and " + t.describe() + " differ in rank");
    for (int d = 0; d < r; ++d) {
      if (d != ax && t.dim(d) != in[0].dim(d)) {
        return bad("Concat inputs " + in[0].describe() + " and " + t.describe() + " differ outside axis " + std::to_string(ax));
      }
    }
    od[static_cast<std::size_t>(ax)] += t.dim(ax);
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(in[0].type(), od));
  std::vector<std::int64_t> ds = contiguous_strides(od);
  std::int64_t at = 0;
  for (const Tensor& t : in) {
    if (t.numel() > 0) {
      std::vector<std::int64_t> ss = contiguous_strides(t.dims());
      PARLEY_RETURN_IF_ERROR(strided_copy(ctx, t, 0, ss.data(), out[0], at * ds[static_cast<std::size_t>(ax)], ds.data(), t.dims()));
    }
    at += t.dim(ax);
  }
  return Status::ok();
}

// ---- Split (opset 13: split sizes are an optional input)
Status run_split(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(node.attr_int("axis", 0), x.rank()));
  std::vector<std::int64_t> sizes;
  if (in.size() > 1 && in[1].defined()) {
    PARLEY_ASSIGN_OR_RETURN(sizes, read_ints(in[1], ctx));
  } else if (node.opset < 13 && node.attr("split")) {
    sizes = node.attr_ints("split");
  } else {
    const std::int64_t n = static_cast<std::int64_t>(out.size()), dim = x.dim(ax);
    const std::int64_t each = (dim + n - 1) / n;
    for (std::int64_t i = 0; i < n; ++i) sizes.push_back(std::max<std::int64_t>(0, std::min(each, dim - i * each)));
  }
  if (sizes.size() != out.size()) return bad("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(out.size()) + " outputs");
  std::int64_t total = 0;
  for (std::int64_t s : sizes) total += s;
  if (total != x.dim(ax)) return bad("split sizes sum to " + std::to_string(total) + ", axis has " + std::to_string(x.dim(ax)));
  std::vector<std::int64_t> xs = contiguous_strides(x.dims());
  std::int64_t at = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    Dims od = x.dims();
    od[static_cast<std::size_t>(ax)] = sizes[i];
    PARLEY_ASSIGN_OR_RETURN(out[i], ctx.alloc(x.type(), od));
    std::vector<std::int64_t> ds = contiguous_strides(od);
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, x, at * xs[static_cast<std::size_t>(ax)], xs.data(), out[i], 0, ds.data(), od));
    at += sizes[i];
  }
  return Status::ok();
}

// ---- Pad (opset >= 11: pads and constant_value are inputs; opset 18 axes not supported)
Status infer_pad(InferContext& c) {
  const std::string mode = c.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") return unimplemented("Pad mode '" + mode + "'");
  if (c.input(3) != nullptr) return unimplemented("Pad with axes (opset 18)");
  return same_type_out(c);
}

Status run_pad(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  const int r = x.rank();
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> pads, read_ints(in[1], ctx));
  if (static_cast<int>(pads.size()) != 2 * r) return bad("pads has " + std::to_string(pads.size()) + " entries for rank " + std::to_string(r));
  const std::string mode = node.attr_string("mode", "constant");
  Dims od = x.dims();
  for (int d = 0; d < r; ++d) {
    od[static_cast<std::size_t>(d)] += pads[static_cast<std::size_t>(d)] + pads[static_cast<std::size_t>(d + r)];
    if (od[static_cast<std::size_t>(d)] < 0) return bad("pads make dimension " + std::to_string(d) + " negative");
    if (mode == "reflect" && (pads[static_cast<std::size_t>(d)] >= x.dim(d) || pads[static_cast<std::size_t>(d + r)] >= x.dim(d)) &&
        (pads[static_cast<std::size_t>(d)] > 0 || pads[static_cast<std::size_t>(d + r)] > 0)) {
      return bad("reflect pad of " + std::to_string(std::max(pads[static_cast<std::size_t>(d)], pads[static_cast<std::size_t>(d + r)])) +
                 " needs a dimension longer than that (have " + std::to_string(x.dim(d)) + ")");
    }
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(x.type(), od));
  std::vector<std::int64_t> xs = contiguous_strides(x.dims()), ds = contiguous_strides(od);
  if (mode == "constant") {
    // Fill with the constant, then copy the (cropped, for negative pads) interior.
    std::vector<char> value(static_cast<std::size_t>(data_type_size(x.type())), 0);
    if (in.size() > 2 && in[2].defined() && in[2].numel() == 1) {
      PARLEY_ASSIGN_OR_RETURN(value, download(in[2], ctx));
    }
    PARLEY_ASSIGN_OR_RETURN(Tensor v, ctx.alloc(x.type(), Dims{1}));
    PARLEY_RETURN_IF_ERROR(upload(ctx, v, value.data(), value.size()));
    std::vector<std::int64_t> zero(od.size(), 0);
    PARLEY_RETURN_IF_ERROR(strided_copy(ctx, v, 0, zero.data(), out[0], 0, ds.data(), od));
  }
  // Interior.
  Dims id = x.dims();
  std::int64_t src_off = 0, dst_off = 0;
  for (int d = 0; d < r; ++d) {
    const std::int64_t b = pads[static_cast<std::size_t>(d)], e = pads[static_cast<std::size_t>(d + r)];
    const std::int64_t crop_b = b < 0 ? -b : 0, crop_e = e < 0 ? -e : 0;
    id[static_cast<std::size_t>(d)] = x.dim(d) - crop_b - crop_e;
    src_off += crop_b * xs[static_cast<std::size_t>(d)];
    dst_off += std::max<std::int64_t>(b, 0) * ds[static_cast<std::size_t>(d)];
  }
  if (numel(id) > 0) PARLEY_RETURN_IF_ERROR(strided_copy(ctx, x, src_off, xs.data(), out[0], dst_off, ds.data(), id));
  if (mode == "constant") return Status::ok();
  // reflect / edge: fill the borders dimension by dimension from the already written region of
  // the output (later dims see earlier dims' borders, as numpy.pad does).
  for (int d = 0; d < r; ++d) {
    const std::int64_t b = pads[static_cast<std::size_t>(d)], e = pads[static_cast<std::size_t>(d + r)];
    if (b <= 0 && e <= 0) continue;
    Dims slab = od;
    slab[static_cast<std::size_t>(d)] = 1;
    const std::int64_t lo = std::max<std::int64_t>(b, 0), n = x.dim(d);
    for (std::int64_t i = 0; i < b; ++i) {  // output position i
      const std::int64_t src = mode == "reflect" ? lo + (b - i) : lo;
      PARLEY_RETURN_IF_ERROR(strided_copy(ctx, out[0], src * ds[static_cast<std::size_t>(d)], ds.data(), out[0],
                                          i * ds[static_cast<std::size_t>(d)], ds.data(), slab));
    }
    for (std::int64_t i = 0; i < e; ++i) {
      const std::int64_t pos = lo + n + i;
      const std::int64_t src = mode == "reflect" ? lo + n - 2 - i : lo + n - 1;
      PARLEY_RETURN_IF_ERROR(strided_copy(ctx, out[0], src * ds[static_cast<std::size_t>(d)], ds.data(), out[0],
                                          pos * ds[static_cast<std::size_t>(d)], ds.data(), slab));
    }
  }
  return Status::ok();
}

// ---- Expand / Tile
Status run_expand(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> shape, read_ints(in[1], ctx));
  PARLEY_ASSIGN_OR_RETURN(Dims od, broadcast(in[0].dims(), Dims(shape.begin(), shape.end())));
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(in[0].type(), od));
  std::vector<std::int64_t> ss(od.size()), ds = contiguous_strides(od);
  broadcast_strides(in[0].dims(), od, ss.data());
  return strided_copy(ctx, in[0], 0, ss.data(), out[0], 0, ds.data(), od);
}

Status run_tile(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> reps, read_ints(in[1], ctx));
  const int r = in[0].rank();
  if (static_cast<int>(reps.size()) != r) return bad("repeats length must equal the rank");
  if (2 * r > kernels::kCopyMaxRank) return unimplemented("Tile of rank > 4");
  // View the output as [rep0, d0, rep1, d1, ...]; the source strides are 0 on the rep dims.
  Dims od, vd;
  std::vector<std::int64_t> xs = contiguous_strides(in[0].dims()), ss;
  for (int d = 0; d < r; ++d) {
    if (reps[static_cast<std::size_t>(d)] < 0) return bad("negative repeat");
    od.push_back(in[0].dim(d) * reps[static_cast<std::size_t>(d)]);
    vd.push_back(reps[static_cast<std::size_t>(d)]);
    vd.push_back(in[0].dim(d));
    ss.push_back(0);
    ss.push_back(xs[static_cast<std::size_t>(d)]);
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(in[0].type(), od));
  std::vector<std::int64_t> os = contiguous_strides(od), ds;
  for (int d = 0; d < r; ++d) {
    ds.push_back(in[0].dim(d) * os[static_cast<std::size_t>(d)]);
    ds.push_back(os[static_cast<std::size_t>(d)]);
  }
  return strided_copy(ctx, in[0], 0, ss.data(), out[0], 0, ds.data(), vd);
}

// ---- Gather family
Status infer_gather(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 1, {DataType::kInt64, DataType::kInt32}));
  const Dims* x = known_dims(c, 0);
  const Dims* idx = known_dims(c, 1);
  if (x && idx) {
    PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(c.node.attr_int("axis", 0), static_cast<int>(x->size())));
    Dims d(x->begin(), x->begin() + ax);
    d.insert(d.end(), idx->begin(), idx->end());
    d.insert(d.end(), x->begin() + ax + 1, x->end());
    set_output(c, 0, c.in[0]->type, d);
    return Status::ok();
  }
  return same_type_out(c);
}

Result<Tensor> as_int64(const Tensor& t, RunContext& ctx) {
  if (t.type() == DataType::kInt64) return t;
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> v, read_ints(t, ctx));
  return ints_tensor(ctx, t.dims(), v);
}

Status run_gather(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  PARLEY_ASSIGN_OR_RETURN(Tensor idx, as_int64(in[1], ctx));
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(node.attr_int("axis", 0), x.rank()));
  Dims od(x.dims().begin(), x.dims().begin() + ax);
  od.insert(od.end(), idx.dims().begin(), idx.dims().end());
  od.insert(od.end(), x.dims().begin() + ax + 1, x.dims().end());
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(x.type(), od));
  kernels::GatherArgs g;
  g.kind = kernels::GatherKind::kGather;
  g.elem_bytes = data_type_size(x.type());
  g.outer = 1;
  for (int d = 0; d < ax; ++d) g.outer *= x.dim(d);
  g.axis_dim = x.dim(ax);
  g.inner = 1;
  for (int d = ax + 1; d < x.rank(); ++d) g.inner *= x.dim(d);
  g.n = idx.numel();
  g.x = x.raw();
  g.indices = idx.data<std::int64_t>();
  g.y = out[0].raw();
  return ctx.backend().gather(g, ctx.exec());
}

Status run_gather_elements(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& x = in[0];
  PARLEY_ASSIGN_OR_RETURN(Tensor idx, as_int64(in[1], ctx));
  if (idx.rank() != x.rank()) return bad("indices rank " + std::to_string(idx.rank()) + " != data rank " + std::to_string(x.rank()));
  if (x.rank() > kernels::kGatherMaxRank) return unimplemented("GatherElements of rank > 8");
  PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(node.attr_int("axis", 0), x.rank()));
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(x.type(), idx.dims()));
  kernels::GatherArgs g;
  g.kind = kernels::GatherKind::kGatherElements;
  g.elem_bytes = data_type_size(x.type());
  g.rank = x.rank();
  for (int d = 0; d < g.rank; ++d) {
    g.x_dims[d] = x.dim(d);
    g.idx_dims[d] = idx.dim(d);
  }
  g.axis = ax;
  g.x = x.raw();
  g.indices = idx.data<std::int64_t>();
  g.y = out[0].raw();
  return ctx.backend().gather(g, ctx.exec());
}

// GatherND / ScatterND share the index-tuple view.
Status nd_args(const Tensor& data, const Tensor& idx, std::int64_t batch_dims, kernels::GatherArgs& g, Dims& out_dims) {
  const int q = idx.rank(), r = data.rank();
  if (q < 1) return bad("indices must have rank >= 1");
  const std::int64_t k = idx.dim(q - 1);
  if (k < 1 || batch_dims + k > r) return bad("index tuples of " + std::to_string(k) + " coordinates for data " + data.describe());
  if (k > kernels::kGatherMaxRank) return unimplemented("index tuples longer than 8");
  g.rank = static_cast<int>(k);
  g.outer = 1;
  for (std::int64_t b = 0; b < batch_dims; ++b) {
    if (idx.dim(static_cast<int>(b)) != data.dim(static_cast<int>(b))) return bad("batch dims of indices and data differ");
    g.outer *= data.dim(static_cast<int>(b));
    out_dims.push_back(data.dim(static_cast<int>(b)));
  }
  g.n = 1;
  for (int d = static_cast<int>(batch_dims); d < q - 1; ++d) {
    g.n *= idx.dim(d);
    out_dims.push_back(idx.dim(d));
  }
  for (std::int64_t d = 0; d < k; ++d) g.x_dims[d] = data.dim(static_cast<int>(batch_dims + d));
  g.inner = 1;
  for (int d = static_cast<int>(batch_dims + k); d < r; ++d) {
    g.inner *= data.dim(d);
    out_dims.push_back(data.dim(d));
  }
  return Status::ok();
}

Status run_gather_nd(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(Tensor idx, as_int64(in[1], ctx));
  kernels::GatherArgs g;
  g.kind = kernels::GatherKind::kGatherNd;
  Dims od;
  PARLEY_RETURN_IF_ERROR(nd_args(in[0], idx, node.attr_int("batch_dims", 0), g, od));
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(in[0].type(), od));
  g.elem_bytes = data_type_size(in[0].type());
  g.x = in[0].raw();
  g.indices = idx.data<std::int64_t>();
  g.y = out[0].raw();
  return ctx.backend().gather(g, ctx.exec());
}

Status infer_scatter_nd(InferContext& c) {
  const std::string red = c.node.attr_string("reduction", "none");
  if (red != "none") return unimplemented("ScatterND reduction '" + red + "'");
  if (c.in[2]->type != c.in[0]->type) return bad("updates type differs from data");
  if (c.in[0]->rank_known) {
    set_output(c, 0, c.in[0]->type, c.in[0]->dims);
    return Status::ok();
  }
  return same_type_out(c);
}

Status run_scatter_nd(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  const Tensor& data = in[0];
  PARLEY_ASSIGN_OR_RETURN(Tensor idx, as_int64(in[1], ctx));
  kernels::GatherArgs g;
  g.kind = kernels::GatherKind::kScatterNd;
  Dims ud;
  PARLEY_RETURN_IF_ERROR(nd_args(data, idx, 0, g, ud));
  if (ud != in[2].dims()) return bad("updates " + in[2].describe() + " do not match indices (expected " + dims_string(ud) + ")");
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(data.type(), data.dims()));
  std::vector<std::int64_t> s = contiguous_strides(data.dims());
  PARLEY_RETURN_IF_ERROR(strided_copy(ctx, data, 0, s.data(), out[0], 0, s.data(), data.dims()));
  g.elem_bytes = data_type_size(data.type());
  g.x = in[2].raw();
  g.indices = idx.data<std::int64_t>();
  g.y = out[0].raw();
  return ctx.backend().gather(g, ctx.exec());
}

Status infer_same(InferContext& c) { return same_type_out(c); }

Status infer_split(InferContext& c) {
  for (std::size_t i = 0; i < c.out.size(); ++i) set_output(c, i, c.in[0]->type);
  return Status::ok();
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_movement_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(OpDef{"Transpose", 1, 1, 1, 1, &infer_transpose, &run_transpose, true});
  v.push_back(OpDef{"Slice", 3, 5, 1, 1, &infer_same, &run_slice, true});
  v.push_back(OpDef{"Concat", 1, 1024, 1, 1, &infer_concat, &run_concat, true});
  v.push_back(OpDef{"Split", 1, 2, 1, 1024, &infer_split, &run_split, true});
  v.push_back(OpDef{"Pad", 2, 4, 1, 1, &infer_pad, &run_pad, true});
  v.push_back(OpDef{"Expand", 2, 2, 1, 1, &infer_same, &run_expand, true});
  v.push_back(OpDef{"Tile", 2, 2, 1, 1, &infer_same, &run_tile, true});
  v.push_back(OpDef{"Gather", 2, 2, 1, 1, &infer_gather, &run_gather, true});
  v.push_back(OpDef{"GatherElements", 2, 2, 1, 1, &infer_same, &run_gather_elements, true});
  v.push_back(OpDef{"GatherND", 2, 2, 1, 1, &infer_same, &run_gather_nd, true});
  v.push_back(OpDef{"ScatterND", 3, 3, 1, 1, &infer_scatter_nd, &run_scatter_nd, true});
}

}  // namespace parley::onnx::detail
