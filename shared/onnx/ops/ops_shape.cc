// Shape ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze (views: no copy), Constant,
// ConstantOfShape, Range, NonZero. Their small int64 results are computed on the host.
// Why: ONNX exports compute every length through these; Shape of a tensor whose dims are known
// at load becomes a constant there, so whole shape subgraphs fold away. Depends on op_util.h.
#include <algorithm>
#include <cmath>

#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

// ---- Shape (opset 15: start, end)
std::pair<std::int64_t, std::int64_t> shape_range(const Node& node, std::int64_t rank) {
  std::int64_t s = node.attr_int("start", 0), e = node.attr_int("end", rank);
  if (s < 0) s += rank;
  if (e < 0) e += rank;
  s = std::clamp<std::int64_t>(s, 0, rank);
  e = std::clamp<std::int64_t>(e, s, rank);
  return {s, e};
}

Status infer_shape(InferContext& c) {
  const Dims* d = known_dims(c, 0);
  if (d == nullptr) {
    set_output(c, 0, DataType::kInt64, Dims{-1});
    return Status::ok();
  }
  auto [s, e] = shape_range(c.node, static_cast<std::int64_t>(d->size()));
  Dims part(d->begin() + s, d->begin() + e);
  set_output(c, 0, DataType::kInt64, Dims{e - s});
  if (std::all_of(part.begin(), part.end(), [](std::int64_t x) { return x >= 0; })) {
    PARLEY_ASSIGN_OR_RETURN(Tensor t, Tensor::from_vector<std::int64_t>(Dims{e - s}, part));
    c.out[0]->constant = t;  // known at load: folds every consumer that only needs lengths
  }
  return Status::ok();
}

Status run_shape(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  auto [s, e] = shape_range(node, in[0].rank());
  std::vector<std::int64_t> part(in[0].dims().begin() + s, in[0].dims().begin() + e);
  PARLEY_ASSIGN_OR_RETURN(out[0], ints_tensor(ctx, Dims{e - s}, part));
  return Status::ok();
}

Status infer_size(InferContext& c) {
  set_output(c, 0, DataType::kInt64, Dims{});
  return Status::ok();
}
Status run_size(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(out[0], ints_tensor(ctx, Dims{}, {in[0].numel()}));
  return Status::ok();
}

// ---- Reshape
Result<Dims> reshape_dims(const Dims& in, const std::vector<std::int64_t>& spec, bool allowzero) {
  Dims out(spec.begin(), spec.end());
  int infer_at = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      if (i >= in.size()) return bad("shape entry 0 at position " + std::to_string(i) + " has no input dim to copy");
      out[i] = in[i];
    }
    if (out[i] == -1) {
      if (infer_at >= 0) return bad("shape " + dims_string(Dims(spec.begin(), spec.end())) + " has two -1 entries");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return bad("shape entry " + std::to_string(out[i]) + " is negative");
    known *= out[i];
  }
  const std::int64_t n = numel(in);
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0) {
      return bad("cannot reshape " + dims_string(in) + " to " + dims_string(Dims(spec.begin(), spec.end())));
    }
    out[static_cast<std::size_t>(infer_at)] = n / known;
  } else if (known != n) {
    return bad("cannot reshape " + dims_string(in) + " (" + std::to_string(n) + " elements) to " + dims_string(out));
  }
  return out;
}

Status infer_reshape(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 1, {DataType::kInt64}));
  const Tensor* spec = c.constant(1);
  const Dims* in = known_dims(c, 0);
  if (spec && in && std::all_of(in->begin(), in->end(), [](std::int64_t x) { return x >= 0; })) {
    PARLEY_ASSIGN_OR_RETURN(Dims d, reshape_dims(*in, spec->to_vector<std::int64_t>(), c.node.attr_int("allowzero", 0) != 0));
    set_output(c, 0, c.in[0]->type, d);
  } else if (spec) {
    set_output(c, 0, c.in[0]->type, Dims(static_cast<std::size_t>(spec->numel()), -1));
  } else {
    set_output(c, 0, c.in[0]->type);
  }
  return Status::ok();
}

Status run_reshape(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> spec, read_ints(in[1], ctx));
  PARLEY_ASSIGN_OR_RETURN(Dims d, reshape_dims(in[0].dims(), spec, node.attr_int("allowzero", 0) != 0));
  out[0] = in[0].reshaped(d);
  return Status::ok();
}

// ---- Flatten
Status infer_flatten(InferContext& c) {
  set_output(c, 0, c.in[0]->type, Dims{-1, -1});
  return Status::ok();
}
Status run_flatten(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext&) {
  const int rank = in[0].rank();
  std::int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return bad("axis out of range");
  std::int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= in[0].dim(i);
  out[0] = in[0].reshaped(Dims{outer, outer == 0 ? 0 : in[0].numel() / std::max<std::int64_t>(outer, 1)});
  return Status::ok();
}

// ---- Squeeze / Unsqueeze (opset 13: axes are an input)
Result<Dims> squeeze_dims(const Dims& in, const std::vector<std::int64_t>* axes_in) {
  const int r = static_cast<int>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (axes_in == nullptr) {
    for (int i = 0; i < r; ++i) drop[static_cast<std::size_t>(i)] = in[static_cast<std::size_t>(i)] == 1;
  } else {
    for (std::int64_t a : *axes_in) {
      PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(a, r));
      if (in[static_cast<std::size_t>(ax)] != 1 && in[static_cast<std::size_t>(ax)] >= 0) {
        return bad("cannot squeeze axis " + std::to_string(a) + " of " + dims_string(in) + ": it is not 1");
      }
      drop[static_cast<std::size_t>(ax)] = true;
    }
  }
  Dims out;
  for (int i = 0; i < r; ++i) {
    if (!drop[static_cast<std::size_t>(i)]) out.push_back(in[static_cast<std::size_t>(i)]);
  }
  return out;
}

Result<Dims> unsqueeze_dims(const Dims& in, const std::vector<std::int64_t>& axes) {
  const int r = static_cast<int>(in.size() + axes.size());
  std::vector<bool> ins(static_cast<std::size_t>(r), false);
  for (std::int64_t a : axes) {
    PARLEY_ASSIGN_OR_RETURN(int ax, normalize_axis(a, r));
    if (ins[static_cast<std::size_t>(ax)]) return bad("axis " + std::to_string(a) + " repeated");
    ins[static_cast<std::size_t>(ax)] = true;
  }
  Dims out;
  std::size_t j = 0;
  for (int i = 0; i < r; ++i) out.push_back(ins[static_cast<std::size_t>(i)] ? 1 : in[j++]);
  return out;
}

std::vector<std::int64_t> axes_from(const Node& node, const InferContext* c, std::span<const Tensor>* in, bool* known,
                                    bool* present) {
  *known = true;
  *present = true;
  if (node.opset < 13) {
    const Attribute* a = node.attr("axes");
    *present = a != nullptr;
    return a ? a->ints : std::vector<std::int64_t>{};
  }
  if (c) {
    if (c->input(1) == nullptr) {
      *present = false;
      return {};
    }
    const Tensor* t = c->constant(1);
    if (!t) {
      *known = false;
      return {};
    }
    return t->to_vector<std::int64_t>();
  }
  (void)in;
  return {};
}

template <bool kUnsqueeze>
Status infer_squeeze(InferContext& c) {
  bool known = false, present = false;
  std::vector<std::int64_t> axes = axes_from(c.node, &c, nullptr, &known, &present);
  const Dims* in = known_dims(c, 0);
  if (kUnsqueeze && !present) return bad("Unsqueeze needs axes");
  if (in && known) {
    Dims d;
    if (kUnsqueeze) {
      PARLEY_ASSIGN_OR_RETURN(d, unsqueeze_dims(*in, axes));
    } else if (!present && std::any_of(in->begin(), in->end(), [](std::int64_t x) { return x < 0; })) {
      set_output(c, 0, c.in[0]->type);
      return Status::ok();
    } else {
      PARLEY_ASSIGN_OR_RETURN(d, squeeze_dims(*in, present ? &axes : nullptr));
    }
    set_output(c, 0, c.in[0]->type, d);
  } else {
    set_output(c, 0, c.in[0]->type);
  }
  return Status::ok();
}

template <bool kUnsqueeze>
Status run_squeeze(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  std::vector<std::int64_t> axes;
  bool present = true;
  if (node.opset < 13) {
    const Attribute* a = node.attr("axes");
    present = a != nullptr;
    if (a) axes = a->ints;
  } else if (in.size() > 1 && in[1].defined()) {
    PARLEY_ASSIGN_OR_RETURN(axes, read_ints(in[1], ctx));
  } else {
    present = false;
  }
  Dims d;
  if (kUnsqueeze) {
    PARLEY_ASSIGN_OR_RETURN(d, unsqueeze_dims(in[0].dims(), axes));
  } else {
    PARLEY_ASSIGN_OR_RETURN(d, squeeze_dims(in[0].dims(), present ? &axes : nullptr));
  }
  out[0] = in[0].reshaped(d);
  return Status::ok();
}

// ---- Constant
Status constant_value(const Node& node, Tensor* out) {
  if (const Attribute* a = node.attr("value")) {
    *out = a->t;
    return Status::ok();
  }
  if (const Attribute* a = node.attr("value_float")) {
    PARLEY_ASSIGN_OR_RETURN(*out, Tensor::from_vector<float>(Dims{}, {a->f}));
    return Status::ok();
  }
  if (const Attribute* a = node.attr("value_floats")) {
    PARLEY_ASSIGN_OR_RETURN(*out, Tensor::from_vector<float>(Dims{static_cast<std::int64_t>(a->floats.size())}, a->floats));
    return Status::ok();
  }
  if (const Attribute* a = node.attr("value_int")) {
    PARLEY_ASSIGN_OR_RETURN(*out, Tensor::from_vector<std::int64_t>(Dims{}, {a->i}));
    return Status::ok();
  }
  if (const Attribute* a = node.attr("value_ints")) {
    PARLEY_ASSIGN_OR_RETURN(*out, Tensor::from_vector<std::int64_t>(Dims{static_cast<std::int64_t>(a->ints.size())}, a->ints));
    return Status::ok();
  }
  return unimplemented("Constant without a value/value_float(s)/value_int(s) attribute (sparse or string constants)");
}

Status infer_constant(InferContext& c) {
  Tensor t;
  PARLEY_RETURN_IF_ERROR(constant_value(c.node, &t));
  set_output(c, 0, t.type(), t.dims());
  c.out[0]->constant = t;
  return Status::ok();
}
Status run_constant(const Node& node, std::span<const Tensor>, std::span<Tensor> out, RunContext&) {
  return constant_value(node, &out[0]);
}

// ---- ConstantOfShape
Status infer_constant_of_shape(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kInt64}));
  DataType t = DataType::kFloat;
  if (const Attribute* a = c.node.attr("value")) {
    if (a->t.numel() != 1) return bad("'value' must hold one element");
    t = a->t.type();
  }
  if (const Tensor* shape = c.constant(0)) {
    set_output(c, 0, t, shape->to_vector<std::int64_t>());
  } else {
    set_output(c, 0, t);
  }
  return Status::ok();
}

Status run_constant_of_shape(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> dims, read_ints(in[0], ctx));
  Tensor value;
  if (const Attribute* a = node.attr("value")) {
    value = a->t;
  } else {
    PARLEY_ASSIGN_OR_RETURN(value, Tensor::from_vector<float>(Dims{1}, {0.0f}));
  }
  for (std::int64_t d : dims) {
    if (d < 0) return bad("negative dimension in " + dims_string(dims));
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(value.type(), dims));
  // The fill: a strided copy whose source strides are all 0 (reads the one value everywhere).
  Tensor src;
  PARLEY_ASSIGN_OR_RETURN(src, ctx.alloc(value.type(), Dims{1}));
  PARLEY_RETURN_IF_ERROR(upload(ctx, src, value.raw(), static_cast<std::size_t>(data_type_size(value.type()))));
  std::vector<std::int64_t> zero(dims.size(), 0), dst = contiguous_strides(dims);
  return strided_copy(ctx, src, 0, zero.data(), out[0], 0, dst.data(), dims);
}

// ---- Range
Status infer_range(InferContext& c) {
  if (c.in[0]->type != c.in[1]->type || c.in[0]->type != c.in[2]->type) return bad("start, limit and delta types differ");
  set_output(c, 0, c.in[0]->type, Dims{-1});
  return Status::ok();
}

Status run_range(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  constexpr std::int64_t kMaxRange = std::int64_t{1} << 31;
  if (in[0].type() == DataType::kFloat) {
    PARLEY_ASSIGN_OR_RETURN(float s, read_scalar(in[0], ctx));
    PARLEY_ASSIGN_OR_RETURN(float l, read_scalar(in[1], ctx));
    PARLEY_ASSIGN_OR_RETURN(float d, read_scalar(in[2], ctx));
    if (d == 0.0f) return bad("Range delta is 0");
    const double n = std::max(0.0, std::ceil((static_cast<double>(l) - s) / d));
    if (n > static_cast<double>(kMaxRange)) return bad("Range of " + std::to_string(n) + " elements is too long");
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = s + static_cast<float>(i) * d;
    PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kFloat, Dims{static_cast<std::int64_t>(v.size())}));
    return upload(ctx, out[0], v.data(), v.size() * sizeof(float));
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> s, read_ints(in[0], ctx));
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> l, read_ints(in[1], ctx));
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::int64_t> d, read_ints(in[2], ctx));
  if (s.size() != 1 || l.size() != 1 || d.size() != 1) return bad("Range needs scalar inputs");
  if (d[0] == 0) return bad("Range delta is 0");
  const std::int64_t n = std::max<std::int64_t>(0, (l[0] - s[0] + d[0] + (d[0] > 0 ? -1 : 1)) / d[0]);
  if (n > kMaxRange) return bad("Range of " + std::to_string(n) + " elements is too long");
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = s[0] + i * d[0];
  if (in[0].type() == DataType::kInt64) {
    PARLEY_ASSIGN_OR_RETURN(out[0], ints_tensor(ctx, Dims{n}, v));
    return Status::ok();
  }
  std::vector<std::int32_t> v32(v.begin(), v.end());
  PARLEY_ASSIGN_OR_RETURN(out[0], ctx.alloc(DataType::kInt32, Dims{n}));
  return upload(ctx, out[0], v32.data(), v32.size() * sizeof(std::int32_t));
}

// ---- NonZero
Status infer_nonzero(InferContext& c) {
  const Dims* d = known_dims(c, 0);
  set_output(c, 0, DataType::kInt64, Dims{d ? static_cast<std::int64_t>(d->size()) : -1, -1});
  return Status::ok();
}

Status run_nonzero(const Node&, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<char> bytes, download(in[0], ctx));
  const std::int64_t n = in[0].numel(), es = data_type_size(in[0].type());
  std::vector<std::int64_t> hits;
  for (std::int64_t i = 0; i < n; ++i) {
    const char* p = bytes.data() + i * es;
    bool nz = false;
    switch (in[0].type()) {
      case DataType::kFloat: nz = *reinterpret_cast<const float*>(p) != 0.0f; break;
      case DataType::kInt64: nz = *reinterpret_cast<const std::int64_t*>(p) != 0; break;
      case DataType::kInt32: nz = *reinterpret_cast<const std::int32_t*>(p) != 0; break;
      default: nz = *p != 0;
    }
    if (nz) hits.push_back(i);
  }
  const std::int64_t rank = in[0].rank(), nnz = static_cast<std::int64_t>(hits.size());
  std::vector<std::int64_t> coords(static_cast<std::size_t>(rank * nnz));
  const std::vector<std::int64_t> strides = contiguous_strides(in[0].dims());
  for (std::int64_t j = 0; j < nnz; ++j) {
    std::int64_t rem = hits[static_cast<std::size_t>(j)];
    for (std::int64_t d = 0; d < rank; ++d) {
      coords[static_cast<std::size_t>(d * nnz + j)] = rem / strides[static_cast<std::size_t>(d)];
      rem %= strides[static_cast<std::size_t>(d)];
    }
  }
  PARLEY_ASSIGN_OR_RETURN(out[0], ints_tensor(ctx, Dims{rank, nnz}, coords));
  return Status::ok();
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_shape_ops(std::vector<OpDef>& v) {
  using namespace ops;
  v.push_back(OpDef{"Shape", 1, 1, 1, 1, &infer_shape, &run_shape, true});
  v.push_back(OpDef{"Size", 1, 1, 1, 1, &infer_size, &run_size, true});
  v.push_back(OpDef{"Reshape", 2, 2, 1, 1, &infer_reshape, &run_reshape, true});
  v.push_back(OpDef{"Flatten", 1, 1, 1, 1, &infer_flatten, &run_flatten, true});
  v.push_back(OpDef{"Squeeze", 1, 2, 1, 1, &infer_squeeze<false>, &run_squeeze<false>, true});
  v.push_back(OpDef{"Unsqueeze", 1, 2, 1, 1, &infer_squeeze<true>, &run_squeeze<true>, true});
  v.push_back(OpDef{"Constant", 0, 0, 1, 1, &infer_constant, &run_constant, true});
  v.push_back(OpDef{"ConstantOfShape", 1, 1, 1, 1, &infer_constant_of_shape, &run_constant_of_shape, true});
  v.push_back(OpDef{"Range", 3, 3, 1, 1, &infer_range, &run_range, true});
  v.push_back(OpDef{"NonZero", 1, 1, 1, 1, &infer_nonzero, &run_nonzero, true});
}

}  // namespace parley::onnx::detail
