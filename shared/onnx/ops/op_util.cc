// Shared op helpers. Why: see op_util.h. Depends on op_util.h.
#include "shared/onnx/ops/op_util.h"

#include <algorithm>

namespace parley::onnx::ops {

Result<Dims> broadcast(const Dims& a, const Dims& b) {
  const std::size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else if (da < 0 || db < 0) {
      out[i] = -1;  // unknown at load
    } else {
      return bad("shapes " + dims_string(a) + " and " + dims_string(b) + " do not broadcast");
    }
  }
  return out;
}

void broadcast_strides(const Dims& in, const Dims& out, std::int64_t* strides) {
  const std::size_t r = out.size(), off = r - in.size();
  std::int64_t s = 1;
  for (std::size_t i = r; i-- > 0;) {
    if (i < off) {
      strides[i] = 0;
      continue;
    }
    const std::int64_t d = in[i - off];
    strides[i] = d == 1 && out[i] != 1 ? 0 : s;
    s *= d;
  }
}

std::vector<std::int64_t> contiguous_strides(const Dims& dims) {
  std::vector<std::int64_t> s(dims.size());
  std::int64_t acc = 1;
  for (std::size_t i = dims.size(); i-- > 0;) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

Result<int> normalize_axis(std::int64_t axis, int rank, const char* what) {
  if (axis < -rank || axis >= std::max(rank, 1)) {
    return bad(std::string(what) + " " + std::to_string(axis) + " is outside [-" + std::to_string(rank) + ", " +
               std::to_string(rank) + ")");
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Result<Tensor> ints_tensor(RunContext& ctx, const Dims& dims, const std::vector<std::int64_t>& values) {
  PARLEY_ASSIGN_OR_RETURN(Tensor t, ctx.alloc(DataType::kInt64, dims));
  PARLEY_RETURN_IF_ERROR(upload(ctx, t, values.data(), values.size() * sizeof(std::int64_t)));
  return t;
}

Status upload(RunContext& ctx, Tensor& dst, const void* host, std::size_t bytes) {
  if (bytes == 0) return Status::ok();
  if (dst.device().is_cpu()) {
    std::copy_n(static_cast<const char*>(host), bytes, static_cast<char*>(dst.raw()));
    return Status::ok();
  }
  return ctx.backend().copy_to_device(dst.raw(), host, bytes, ctx.exec());
}

Result<std::vector<char>> download(const Tensor& t, RunContext& ctx) {
  std::vector<char> bytes(static_cast<std::size_t>(t.bytes()));
  if (bytes.empty()) return bytes;
  if (t.device().is_cpu()) {
    std::copy_n(static_cast<const char*>(t.raw()), bytes.size(), bytes.data());
  } else {
    PARLEY_RETURN_IF_ERROR(ctx.backend().copy_to_host(bytes.data(), t.raw(), bytes.size(), ctx.exec()));
    PARLEY_RETURN_IF_ERROR(ctx.backend().synchronize(ctx.exec()));
  }
  return bytes;
}

namespace {
Result<std::vector<char>> host_bytes(const Tensor& t, RunContext& ctx) { return download(t, ctx); }
}  // namespace

Result<std::vector<std::int64_t>> read_ints(const Tensor& t, RunContext& ctx) {
  if (t.type() != DataType::kInt64 && t.type() != DataType::kInt32) {
    return bad("expected an int64 tensor, got " + t.describe());
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<char> b, host_bytes(t, ctx));
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (t.type() == DataType::kInt64) {
      out[i] = reinterpret_cast<const std::int64_t*>(b.data())[i];
    } else {
      out[i] = reinterpret_cast<const std::int32_t*>(b.data())[i];
    }
  }
  return out;
}

Result<float> read_scalar(const Tensor& t, RunContext& ctx) {
  if (t.numel() != 1) return bad("expected a scalar, got " + t.describe());
  PARLEY_ASSIGN_OR_RETURN(std::vector<char> b, host_bytes(t, ctx));
  switch (t.type()) {
    case DataType::kFloat: return *reinterpret_cast<const float*>(b.data());
    case DataType::kInt64: return static_cast<float>(*reinterpret_cast<const std::int64_t*>(b.data()));
    case DataType::kInt32: return static_cast<float>(*reinterpret_cast<const std::int32_t*>(b.data()));
    case DataType::kBool: return b[0] ? 1.0f : 0.0f;
    default: return bad("expected a number, got " + t.describe());
  }
}

Status strided_copy(RunContext& ctx, const Tensor& src, std::int64_t src_off, const std::int64_t* src_strides,
                    Tensor& dst, std::int64_t dst_off, const std::int64_t* dst_strides, const Dims& dims) {
  if (dims.size() > static_cast<std::size_t>(kernels::kCopyMaxRank)) {
    return unimplemented("copy of rank " + std::to_string(dims.size()) + " (the runtime handles rank <= 8)");
  }
  kernels::StridedCopyArgs a;
  a.rank = static_cast<int>(dims.size());
  a.elem_bytes = data_type_size(src.type());
  for (int d = 0; d < a.rank; ++d) {
    a.dims[d] = dims[static_cast<std::size_t>(d)];
    a.src_strides[d] = src_strides[d];
    a.dst_strides[d] = dst_strides[d];
  }
  a.src = static_cast<const char*>(src.raw()) + src_off * a.elem_bytes;
  a.dst = static_cast<char*>(dst.raw()) + dst_off * a.elem_bytes;
  return ctx.backend().strided_copy(a, ctx.exec());
}

Status expect_type(const InferContext& c, std::size_t i, std::initializer_list<DataType> allowed) {
  const ValueInfo* v = c.input(i);
  if (v == nullptr) return Status::ok();
  for (DataType t : allowed) {
    if (v->type == t) return Status::ok();
  }
  std::string names;
  for (DataType t : allowed) {
        if (!names.empty()) names += "/";
        names += data_type_name(t);
      }
  return bad("input " + std::to_string(i) + " ('" + v->name + "') is " + data_type_name(v->type) + ", expected " + names);
}

void set_output(InferContext& c, std::size_t i, DataType type) {
  if (i < c.out.size() && c.out[i]) c.out[i]->type = type;
}

void set_output(InferContext& c, std::size_t i, DataType type, const Dims& dims) {
  if (i < c.out.size() && c.out[i]) {
    c.out[i]->type = type;
    c.out[i]->dims = dims;
    c.out[i]->rank_known = true;
  }
}

const Dims* known_dims(const InferContext& c, std::size_t i) {
  const ValueInfo* v = c.input(i);
  return v && v->rank_known ? &v->dims : nullptr;
}

}  // namespace parley::onnx::ops
