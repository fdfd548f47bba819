// Element-wise unary, binary and ternary (Where) ops over strided n-d tensors with broadcasting,
// for f32, i64, i32 and bool elements. Why: graph models (ONNX: VITS voices, Silero VAD) are
// mostly element-wise glue between GEMMs and convolutions; one strided op covers every
// broadcasting pattern without a copy. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Element types of the graph-level ops (elementwise, copy, reduce, gather). Separate from
/// engine::DType because graphs carry int64 indices and bool masks that no GEMM ever sees.
enum class ElemType : std::uint8_t { kF32 = 0, kI64 = 1, kI32 = 2, kBool = 3 };
std::string_view elem_type_name(ElemType t);
constexpr std::int64_t elem_size(ElemType t) {
  return t == ElemType::kF32 || t == ElemType::kI32 ? 4 : t == ElemType::kI64 ? 8 : 1;
}

/// The operation. Unary ops read a; binary ops read a and b; kWhere reads a (bool condition),
/// b (taken where a is true) and c. Math is done in f32 when any value input is f32, else in
/// i64 (integers) or bool. Comparisons write bool; kCast converts a to y_type.
enum class EwOp : std::uint8_t {
  // unary
  kIdentity, kCast, kNeg, kAbs, kExp, kLog, kSqrt, kReciprocal, kErf, kTanh, kSigmoid, kRelu,
  kLeakyRelu,  ///< alpha = slope
  kSoftplus, kCeil, kFloor, kRound, kNot, kSign,
  kClip,       ///< [alpha, beta]
  // binary
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod,
  kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual, kAnd, kOr, kXor,
  // ternary
  kWhere,
};
inline constexpr int kEwMaxRank = 8;
std::string_view ew_op_name(EwOp op);
int ew_arity(EwOp op);

/// y[i] = op(a[i], b[i], c[i]) for every index i of `dims` (row-major, y contiguous).
/// Input strides are in ELEMENTS per output dim; a stride of 0 broadcasts. Integer division by
/// zero gives 0 (never traps). y may alias an input only when that input is contiguous with
/// the same type. Empty dims are valid and do nothing.
struct ElementwiseArgs {
  EwOp op = EwOp::kIdentity;
  int rank = 0;
  std::int64_t dims[kEwMaxRank] = {};
  const void* a = nullptr;
  ElemType a_type = ElemType::kF32;
  std::int64_t a_strides[kEwMaxRank] = {};
  const void* b = nullptr;
  ElemType b_type = ElemType::kF32;
  std::int64_t b_strides[kEwMaxRank] = {};
  const void* c = nullptr;
  ElemType c_type = ElemType::kF32;
  std::int64_t c_strides[kEwMaxRank] = {};
  void* y = nullptr;
  ElemType y_type = ElemType::kF32;
  float alpha = 0.0f, beta = 0.0f;
};

Status validate(const ElementwiseArgs& args);

namespace cpu {
Status elementwise(const ElementwiseArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
