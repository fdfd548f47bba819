// Names and validate() of the graph-level ops (elementwise, strided copy, reduce, gather).
// Why: kept apart from ops/validate.cc so the ONNX runtime's ops stay one reviewable unit;
// same rule: every backend starts with these checks. Depends on those four op headers.
#include <array>
#include <string>

#include "kernels/ops/elementwise.h"
#include "kernels/ops/gather.h"
#include "kernels/ops/reduce.h"
#include "kernels/ops/tensor_copy.h"

namespace parley::kernels {
namespace {

Status bad(const char* op, const std::string& what) { return invalid_argument(std::string(op) + ": " + what); }

bool valid_type(ElemType t) { return static_cast<int>(t) <= static_cast<int>(ElemType::kBool); }

}  // namespace

std::string_view elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::kF32: return "f32";
    case ElemType::kI64: return "i64";
    case ElemType::kI32: return "i32";
    case ElemType::kBool: return "bool";
  }
  return "unknown";
}

std::string_view ew_op_name(EwOp op) {
  static constexpr std::array<std::string_view, 37> kNames = {
      "identity", "cast", "neg", "abs", "exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "relu",
      "leaky_relu", "softplus", "ceil", "floor", "round", "not", "sign", "clip", "add", "sub", "mul", "div", "pow",
      "max", "min", "mod", "equal", "less", "less_or_equal", "greater", "greater_or_equal", "and", "or", "xor",
      "where"};
  const auto i = static_cast<std::size_t>(op);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

int ew_arity(EwOp op) {
  if (op == EwOp::kWhere) return 3;
  return static_cast<int>(op) >= static_cast<int>(EwOp::kAdd) ? 2 : 1;
}

Status validate(const ElementwiseArgs& a) {
  const char* op = "elementwise";
  if (static_cast<int>(a.op) > static_cast<int>(EwOp::kWhere)) return bad(op, "unknown op");
  if (a.rank < 0 || a.rank > kEwMaxRank) return bad(op, "rank " + std::to_string(a.rank) + " outside [0, 8]");
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) {
    if (a.dims[d] < 0) return bad(op, "negative dim");
    total *= a.dims[d];
  }
  const int arity = ew_arity(a.op);
  if (!valid_type(a.a_type) || !valid_type(a.b_type) || !valid_type(a.c_type) || !valid_type(a.y_type)) {
    return bad(op, "unknown element type");
  }
  if (total == 0) return Status::ok();
  if (a.a == nullptr || a.y == nullptr || (arity >= 2 && a.b == nullptr) || (arity == 3 && a.c == nullptr)) {
    return bad(op, std::string(ew_op_name(a.op)) + ": null input or output");
  }
  if (a.op == EwOp::kWhere && a.a_type != ElemType::kBool) return bad(op, "where: condition must be bool");
  return Status::ok();
}

Status validate(const StridedCopyArgs& a) {
  const char* op = "strided_copy";
  if (a.rank < 0 || a.rank > kCopyMaxRank) return bad(op, "rank " + std::to_string(a.rank) + " outside [0, 8]");
  if (a.elem_bytes <= 0) return bad(op, "elem_bytes must be positive");
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) {
    if (a.dims[d] < 0) return bad(op, "negative dim");
    total *= a.dims[d];
  }
  if (total > 0 && (a.src == nullptr || a.dst == nullptr)) return bad(op, "null src or dst");
  return Status::ok();
}

Status validate(const ReduceArgs& a) {
  const char* op = "reduce";
  if (a.outer < 0 || a.n < 0 || a.inner < 0) return bad(op, "negative size");
  if (a.type != ElemType::kF32 && a.type != ElemType::kI64) return bad(op, "type must be f32 or i64");
  if (static_cast<int>(a.kind) > static_cast<int>(ReduceKind::kCumSum)) return bad(op, "unknown kind");
  if (a.outer * a.inner > 0 && (a.x == nullptr && a.n > 0)) return bad(op, "null x");
  if (a.outer * a.inner > 0 && a.y == nullptr) return bad(op, "null y");
  return Status::ok();
}

Status validate(const GatherArgs& a) {
  const char* op = "gather";
  if (a.elem_bytes <= 0) return bad(op, "elem_bytes must be positive");
  if (a.rank < 0 || a.rank > kGatherMaxRank) return bad(op, "rank outside [0, 8]");
  if (a.outer < 0 || a.n < 0 || a.inner < 0 || a.axis_dim < 0) return bad(op, "negative size");
  if (a.kind == GatherKind::kGatherElements) {
    if (a.rank < 1 || a.axis < 0 || a.axis >= a.rank) return bad(op, "GatherElements: bad axis or rank");
    for (int d = 0; d < a.rank; ++d) {
      if (d != a.axis && a.idx_dims[d] > a.x_dims[d]) return bad(op, "GatherElements: indices larger than data");
    }
  }
  if ((a.kind == GatherKind::kGatherNd || a.kind == GatherKind::kScatterNd) && a.rank < 1) {
    return bad(op, "GatherND/ScatterND: index tuples need at least one coordinate");
  }
  return Status::ok();
}

}  // namespace parley::kernels
