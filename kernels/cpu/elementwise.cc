// CPU element-wise ops over strided, broadcasting n-d tensors (see ops/elementwise.h).
// Why: one loop nest for every unary/binary/Where op and dtype: rows over the outer dims in
// parallel, the innermost dim in blocks of 256 loaded into typed scratch (f32, i64 or bool
// math), computed, converted to the output type. Depends on ops/elementwise.h, thread_pool.h.
#include "kernels/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

constexpr std::int64_t kBlock = 256;

enum class Math : std::uint8_t { kFloat, kInt, kBool };

template <typename T>
void load_as(const void* base, ElemType t, std::int64_t off, std::int64_t stride, std::int64_t n, T* out) {
  switch (t) {
    case ElemType::kF32: {
      const float* p = static_cast<const float*>(base) + off;
      if (stride == 1) {
        for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i]);
      } else {
        for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i * stride]);
      }
      return;
    }
    case ElemType::kI64: {
      const std::int64_t* p = static_cast<const std::int64_t*>(base) + off;
      for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i * stride]);
      return;
    }
    case ElemType::kI32: {
      const std::int32_t* p = static_cast<const std::int32_t*>(base) + off;
      for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i * stride]);
      return;
    }
    case ElemType::kBool: {
      const std::uint8_t* p = static_cast<const std::uint8_t*>(base) + off;
      for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(p[i * stride] != 0);
      return;
    }
  }
}

template <typename T>
void store_from(const T* in, std::int64_t n, void* base, ElemType t, std::int64_t off) {
  switch (t) {
    case ElemType::kF32: {
      float* p = static_cast<float*>(base) + off;
      for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(in[i]);
      return;
    }
    case ElemType::kI64: {
      std::int64_t* p = static_cast<std::int64_t*>(base) + off;
      if constexpr (std::is_floating_point_v<T>) {
        // Float -> int: truncation toward zero (ONNX Cast); NaN/inf -> 0 instead of UB.
        for (std::int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(in[i]);
          p[i] = std::isfinite(v) && std::fabs(v) < 9.2e18 ? static_cast<std::int64_t>(v) : 0;
        }
      } else {
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<std::int64_t>(in[i]);
      }
      return;
    }
    case ElemType::kI32: {
      std::int32_t* p = static_cast<std::int32_t*>(base) + off;
      if constexpr (std::is_floating_point_v<T>) {
        for (std::int64_t i = 0; i < n; ++i) {
          const double v = static_cast<double>(in[i]);
          p[i] = std::isfinite(v) && std::fabs(v) < 2.1e9 ? static_cast<std::int32_t>(v) : 0;
        }
      } else {
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<std::int32_t>(in[i]);
      }
      return;
    }
    case ElemType::kBool: {
      std::uint8_t* p = static_cast<std::uint8_t*>(base) + off;
      for (std::int64_t i = 0; i < n; ++i) p[i] = in[i] != T(0) ? 1 : 0;
      return;
    }
  }
}

bool is_compare(EwOp op) {
  return op == EwOp::kEqual || op == EwOp::kLess || op == EwOp::kLessOrEqual || op == EwOp::kGreater ||
         op == EwOp::kGreaterOrEqual;
}
bool is_logic(EwOp op) { return op == EwOp::kAnd || op == EwOp::kOr || op == EwOp::kXor || op == EwOp::kNot; }

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

// Unary math in place on n values.
void unary_f(EwOp op, float* v, std::int64_t n, float alpha, float beta) {
  switch (op) {
    case EwOp::kIdentity: case EwOp::kCast: return;
    case EwOp::kNeg: for (std::int64_t i = 0; i < n; ++i) v[i] = -v[i]; return;
    case EwOp::kAbs: for (std::int64_t i = 0; i < n; ++i) v[i] = std::fabs(v[i]); return;
    case EwOp::kExp: for (std::int64_t i = 0; i < n; ++i) v[i] = std::exp(v[i]); return;
    case EwOp::kLog: for (std::int64_t i = 0; i < n; ++i) v[i] = std::log(v[i]); return;
    case EwOp::kSqrt: for (std::int64_t i = 0; i < n; ++i) v[i] = std::sqrt(v[i]); return;
    case EwOp::kReciprocal: for (std::int64_t i = 0; i < n; ++i) v[i] = 1.0f / v[i]; return;
    case EwOp::kErf: for (std::int64_t i = 0; i < n; ++i) v[i] = std::erf(v[i]); return;
    case EwOp::kTanh: for (std::int64_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]); return;
    case EwOp::kSigmoid:
      for (std::int64_t i = 0; i < n; ++i) {
        const float x = v[i];
        // Both branches stay finite: exp of a non-positive number only.
        v[i] = x >= 0 ? 1.0f / (1.0f + std::exp(-x)) : std::exp(x) / (1.0f + std::exp(x));
      }
      return;
    case EwOp::kRelu:
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
      return;
    case EwOp::kLeakyRelu:
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) v[i] = v[i] >= 0.0f ? v[i] : v[i] * alpha;
      return;
    case EwOp::kSoftplus: for (std::int64_t i = 0; i < n; ++i) v[i] = softplus(v[i]); return;
    case EwOp::kCeil: for (std::int64_t i = 0; i < n; ++i) v[i] = std::ceil(v[i]); return;
    case EwOp::kFloor: for (std::int64_t i = 0; i < n; ++i) v[i] = std::floor(v[i]); return;
    case EwOp::kRound: for (std::int64_t i = 0; i < n; ++i) v[i] = std::nearbyint(v[i]); return;
    case EwOp::kSign: for (std::int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((v[i] > 0) - (v[i] < 0)); return;
    case EwOp::kClip:
      for (std::int64_t i = 0; i < n; ++i) v[i] = std::min(std::max(v[i], alpha), beta);
      return;
    default: return;
  }
}

void unary_i(EwOp op, std::int64_t* v, std::int64_t n, float alpha, float beta) {
  switch (op) {
    case EwOp::kNeg: for (std::int64_t i = 0; i < n; ++i) v[i] = -v[i]; return;
    case EwOp::kAbs: for (std::int64_t i = 0; i < n; ++i) v[i] = v[i] < 0 ? -v[i] : v[i]; return;
    case EwOp::kRelu: for (std::int64_t i = 0; i < n; ++i) v[i] = std::max<std::int64_t>(v[i], 0); return;
    case EwOp::kSign: for (std::int64_t i = 0; i < n; ++i) v[i] = (v[i] > 0) - (v[i] < 0); return;
    case EwOp::kClip:
      for (std::int64_t i = 0; i < n; ++i)
        v[i] = std::min(std::max(v[i], static_cast<std::int64_t>(alpha)), static_cast<std::int64_t>(beta));
      return;
    case EwOp::kNot: for (std::int64_t i = 0; i < n; ++i) v[i] = v[i] == 0 ? 1 : 0; return;
    default: return;  // identity, cast, ceil/floor/round of integers
  }
}

template <typename T>
void binary(EwOp op, T* a, const T* b, std::int64_t n, std::uint8_t* cmp) {
  switch (op) {
    case EwOp::kAdd:
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
      return;
    case EwOp::kSub:
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) a[i] -= b[i];
      return;
    case EwOp::kMul:
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) a[i] *= b[i];
      return;
    case EwOp::kDiv:
      if constexpr (std::is_floating_point_v<T>) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) a[i] /= b[i];
      } else {
        // Integer division truncates (ONNX/C++); x / 0 gives 0 instead of a trap.
        for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] == 0 ? 0 : a[i] / b[i];
      }
      return;
    case EwOp::kPow:
      for (std::int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_floating_point_v<T>) {
          a[i] = b[i] == T(2) ? a[i] * a[i] : b[i] == T(0.5) ? std::sqrt(a[i]) : std::pow(a[i], b[i]);
        } else {
          a[i] = static_cast<T>(std::pow(static_cast<double>(a[i]), static_cast<double>(b[i])));
        }
      }
      return;
    case EwOp::kMax: for (std::int64_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]); return;
    case EwOp::kMin: for (std::int64_t i = 0; i < n; ++i) a[i] = std::min(a[i], b[i]); return;
    case EwOp::kMod:
      for (std::int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_floating_point_v<T>) {
          a[i] = std::fmod(a[i], b[i]);
        } else {
          // fmod = 0 semantics for integers follow Python's sign rule (ONNX Mod, fmod=0).
          if (b[i] == 0) { a[i] = 0; continue; }
          T r = a[i] % b[i];
          if (r != 0 && ((r < 0) != (b[i] < 0))) r += b[i];
          a[i] = r;
        }
      }
      return;
    case EwOp::kEqual: for (std::int64_t i = 0; i < n; ++i) cmp[i] = a[i] == b[i]; return;
    case EwOp::kLess: for (std::int64_t i = 0; i < n; ++i) cmp[i] = a[i] < b[i]; return;
    case EwOp::kLessOrEqual: for (std::int64_t i = 0; i < n; ++i) cmp[i] = a[i] <= b[i]; return;
    case EwOp::kGreater: for (std::int64_t i = 0; i < n; ++i) cmp[i] = a[i] > b[i]; return;
    case EwOp::kGreaterOrEqual: for (std::int64_t i = 0; i < n; ++i) cmp[i] = a[i] >= b[i]; return;
    case EwOp::kAnd: for (std::int64_t i = 0; i < n; ++i) cmp[i] = (a[i] != 0) && (b[i] != 0); return;
    case EwOp::kOr: for (std::int64_t i = 0; i < n; ++i) cmp[i] = (a[i] != 0) || (b[i] != 0); return;
    case EwOp::kXor: for (std::int64_t i = 0; i < n; ++i) cmp[i] = (a[i] != 0) != (b[i] != 0); return;
    default: return;
  }
}

// Runs one block of `n` outputs starting at the given input offsets (inner strides sa/sb/sc).
struct Scratch {
  alignas(64) float fa[kBlock], fb[kBlock];
  alignas(64) std::int64_t ia[kBlock], ib[kBlock];
  alignas(64) std::uint8_t m[kBlock];
};

void run_block(const ElementwiseArgs& a, Math math, std::int64_t oa, std::int64_t ob, std::int64_t oc,
               std::int64_t sa, std::int64_t sb, std::int64_t sc, std::int64_t n, std::int64_t oy, Scratch& s) {
  const int arity = ew_arity(a.op);
  if (a.op == EwOp::kWhere) {
    load_as(a.a, a.a_type, oa, sa, n, s.m);
    if (math == Math::kFloat) {
      load_as(a.b, a.b_type, ob, sb, n, s.fa);
      load_as(a.c, a.c_type, oc, sc, n, s.fb);
      for (std::int64_t i = 0; i < n; ++i) s.fa[i] = s.m[i] ? s.fa[i] : s.fb[i];
      store_from(s.fa, n, a.y, a.y_type, oy);
    } else {
      load_as(a.b, a.b_type, ob, sb, n, s.ia);
      load_as(a.c, a.c_type, oc, sc, n, s.ib);
      for (std::int64_t i = 0; i < n; ++i) s.ia[i] = s.m[i] ? s.ia[i] : s.ib[i];
      store_from(s.ia, n, a.y, a.y_type, oy);
    }
    return;
  }
  const bool to_bool = is_compare(a.op) || is_logic(a.op);
  if (math == Math::kFloat) {
    load_as(a.a, a.a_type, oa, sa, n, s.fa);
    if (arity == 1) {
      if (a.op == EwOp::kNot) {
        for (std::int64_t i = 0; i < n; ++i) s.m[i] = s.fa[i] == 0.0f;
        store_from(s.m, n, a.y, a.y_type, oy);
        return;
      }
      unary_f(a.op, s.fa, n, a.alpha, a.beta);
    } else {
      load_as(a.b, a.b_type, ob, sb, n, s.fb);
      binary(a.op, s.fa, s.fb, n, s.m);
    }
    if (to_bool) store_from(s.m, n, a.y, a.y_type, oy);
    else store_from(s.fa, n, a.y, a.y_type, oy);
  } else {
    load_as(a.a, a.a_type, oa, sa, n, s.ia);
    if (a.op == EwOp::kNot) {
      for (std::int64_t i = 0; i < n; ++i) s.m[i] = s.ia[i] == 0;
    } else if (arity == 1) {
      unary_i(a.op, s.ia, n, a.alpha, a.beta);
    } else {
      load_as(a.b, a.b_type, ob, sb, n, s.ib);
      binary(a.op, s.ia, s.ib, n, s.m);
    }
    if (to_bool) store_from(s.m, n, a.y, a.y_type, oy);
    else store_from(s.ia, n, a.y, a.y_type, oy);
  }
}

// 0: not contiguous, 1: contiguous over `dims`, 2: one element broadcast everywhere.
int flat_kind(const ElementwiseArgs& a, const std::int64_t* strides) {
  bool zero = true, contig = true;
  std::int64_t expect = 1;
  for (int d = a.rank - 1; d >= 0; --d) {
    if (a.dims[d] == 1) continue;
    zero = zero && strides[d] == 0;
    contig = contig && strides[d] == expect;
    expect *= a.dims[d];
  }
  return contig ? 1 : zero ? 2 : 0;
}

// The common case of a VITS vocoder: f32 in, f32 out, inputs contiguous or scalar. Whole ranges,
// vectorised loops, no scratch copies. Returns false when the op/layout is not covered.
bool fast_f32(const ElementwiseArgs& a, std::int64_t total, ThreadPool& pool) {
  if (a.y_type != ElemType::kF32 || a.a_type != ElemType::kF32) return false;
  const int arity = ew_arity(a.op);
  if (arity == 3) return false;
  if (arity == 2 && a.b_type != ElemType::kF32) return false;
  const int ka = flat_kind(a, a.a_strides), kb = arity == 2 ? flat_kind(a, a.b_strides) : 1;
  if (ka != 1 || kb == 0) return false;
  switch (a.op) {
    case EwOp::kAdd: case EwOp::kSub: case EwOp::kMul: case EwOp::kDiv: case EwOp::kRelu: case EwOp::kLeakyRelu:
    case EwOp::kIdentity: case EwOp::kNeg:
      break;
    default:
      return false;
  }
  const float* x = static_cast<const float*>(a.a);
  const float* b = static_cast<const float*>(a.b);
  float* y = static_cast<float*>(a.y);
  const bool bs = kb == 2;
  const float alpha = a.alpha;
  pool.parallel_for(total, 16384, [&](std::int64_t i0, std::int64_t i1) {
    switch (a.op) {
      case EwOp::kAdd:
        if (bs) {
          const float v = *b;
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] + v;
        } else {
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] + b[i];
        }
        return;
      case EwOp::kSub:
        if (bs) {
          const float v = *b;
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] - v;
        } else {
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] - b[i];
        }
        return;
      case EwOp::kMul:
        if (bs) {
          const float v = *b;
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] * v;
        } else {
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] * b[i];
        }
        return;
      case EwOp::kDiv:
        if (bs) {
          const float v = *b;
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] / v;
        } else {
#pragma omp simd
          for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] / b[i];
        }
        return;
      case EwOp::kRelu:
#pragma omp simd
        for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
      case EwOp::kLeakyRelu:
#pragma omp simd
        for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] >= 0.0f ? x[i] : x[i] * alpha;
        return;
      case EwOp::kNeg:
#pragma omp simd
        for (std::int64_t i = i0; i < i1; ++i) y[i] = -x[i];
        return;
      default:
        if (y != x) std::memcpy(y + i0, x + i0, static_cast<std::size_t>(i1 - i0) * sizeof(float));
        return;
    }
  });
  return true;
}

}  // namespace

Status elementwise(const ElementwiseArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) total *= a.dims[d];
  if (total == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (fast_f32(a, total, pool)) return Status::ok();
  // Erf / Tanh / Sigmoid on contiguous f32: vector math instead of libm per element.
  if ((a.op == EwOp::kErf || a.op == EwOp::kTanh || a.op == EwOp::kSigmoid) && a.a_type == ElemType::kF32 &&
      a.y_type == ElemType::kF32 && flat_kind(a, a.a_strides) == 1 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    const float* x = static_cast<const float*>(a.a);
    float* y = static_cast<float*>(a.y);
    pool.parallel_for(total, 16384, [&](std::int64_t i0, std::int64_t i1) { detail::unary_f32_avx512(a.op, x + i0, y + i0, i1 - i0); });
    return Status::ok();
  }
  Math math = Math::kInt;
  const bool float_op = a.op == EwOp::kExp || a.op == EwOp::kLog || a.op == EwOp::kSqrt || a.op == EwOp::kErf ||
                        a.op == EwOp::kTanh || a.op == EwOp::kSigmoid || a.op == EwOp::kSoftplus ||
                        a.op == EwOp::kReciprocal || a.op == EwOp::kLeakyRelu;
  if (a.op == EwOp::kWhere) {
    math = (a.b_type == ElemType::kF32 || a.c_type == ElemType::kF32) ? Math::kFloat : Math::kInt;
  } else if (a.op == EwOp::kCast) {
    math = a.a_type == ElemType::kF32 || a.y_type == ElemType::kF32 ? Math::kFloat : Math::kInt;
  } else if (a.a_type == ElemType::kF32 || (ew_arity(a.op) > 1 && a.b_type == ElemType::kF32) || float_op) {
    math = Math::kFloat;
  }
  // Collapse to rows x inner; inner = last dim (rank 0: a single element).
  const int r = std::max(a.rank, 1);
  std::int64_t dims[kEwMaxRank], sa[kEwMaxRank], sb[kEwMaxRank], sc[kEwMaxRank];
  for (int d = 0; d < r; ++d) {
    dims[d] = a.rank == 0 ? 1 : a.dims[d];
    sa[d] = a.rank == 0 ? 0 : a.a_strides[d];
    sb[d] = a.rank == 0 ? 0 : a.b_strides[d];
    sc[d] = a.rank == 0 ? 0 : a.c_strides[d];
  }
  const std::int64_t inner = dims[r - 1];
  const std::int64_t rows = total / inner;
  const std::int64_t blocks_per_row = (inner + kBlock - 1) / kBlock;
  const std::int64_t tasks = rows * blocks_per_row;
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::min<std::int64_t>(inner, kBlock));
  pool.parallel_for(tasks, grain, [&](std::int64_t t0, std::int64_t t1) {
    Scratch s;
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t row = t / blocks_per_row, blk = t % blocks_per_row;
      std::int64_t oa = 0, ob = 0, oc = 0, rem = row;
      for (int d = r - 2; d >= 0; --d) {
        const std::int64_t i = rem % dims[d];
        rem /= dims[d];
        oa += i * sa[d];
        ob += i * sb[d];
        oc += i * sc[d];
      }
      const std::int64_t i0 = blk * kBlock, n = std::min(kBlock, inner - i0);
      run_block(a, math, oa + i0 * sa[r - 1], ob + i0 * sb[r - 1], oc + i0 * sc[r - 1], sa[r - 1], sb[r - 1],
                sc[r - 1], n, row * inner + i0, s);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
