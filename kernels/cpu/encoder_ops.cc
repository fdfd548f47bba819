// CPU fused encoder ops (see encoder_ops.h): validation, ISA dispatch and the scalar references.
// Why: the reference the AVX-512 variant (encoder_ops_avx512.cc) is tested against, and the
// path on CPUs without AVX-512. Depends on encoder_ops.h, ops_internal.h, act_math.h, isa.h.
#include "kernels/cpu/encoder_ops.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {
namespace {

Status bad(const char* op, const std::string& what) { return invalid_argument(std::string(op) + ": " + what); }

}  // namespace

Status validate(const QuantizeRowsArgs& a) {
  constexpr const char* op = "quantize_rows";
  if (a.rows < 0 || a.cols < 0) return bad(op, "negative size");
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.x == nullptr || a.q == nullptr || a.scales == nullptr) return bad(op, "x, q or scales is null");
  if (a.ldx < a.cols || a.ldq < a.cols) return bad(op, "leading dimension < cols");
  if (a.q2 != nullptr && (a.scales2 == nullptr || a.ldq2 < a.cols)) {
    return bad(op, "residual pass needs scales2 and ldq2 >= cols");
  }
  return Status::ok();
}

Status validate(const DequantizeSumArgs& a) {
  constexpr const char* op = "dequantize_sum";
  if (a.rows < 0 || a.cols < 0) return bad(op, "negative size");
  if (a.num_terms < 1 || a.num_terms > DequantizeSumArgs::kMaxTerms) {
    return bad(op, "num_terms " + std::to_string(a.num_terms) + " outside [1, 4]");
  }
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.y == nullptr || a.ldy < a.cols) return bad(op, "y is null or ldy < cols");
  for (int t = 0; t < a.num_terms; ++t) {
    const DequantizeSumArgs::Term& term = a.terms[t];
    if (term.acc == nullptr || term.a_scales == nullptr || term.b_scales == nullptr || term.ld < a.cols) {
      return bad(op, "term " + std::to_string(t) + " has a null pointer or ld < cols");
    }
  }
  return Status::ok();
}

namespace cpu {
namespace {

// One symmetric int8 row (the kernels' rule); returns the scale.
float quantize_one_row(const float* v, std::int64_t n, std::int8_t* q) {
  float amax = 0.0f;
  for (std::int64_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(v[j]));
  const float scale = amax / 127.0f;
  const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  for (std::int64_t j = 0; j < n; ++j) {
    q[j] = static_cast<std::int8_t>(std::clamp(std::nearbyint(v[j] * inv), -127.0f, 127.0f));
  }
  return scale;
}

void quantize_rows_scalar(const QuantizeRowsArgs& a, ThreadPool& pool) {
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 8192 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> v(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * a.ldx;
      for (std::int64_t j = 0; j < a.cols; ++j) v[static_cast<std::size_t>(j)] = a.col_scale ? x[j] * a.col_scale[j] : x[j];
      std::int8_t* q = a.q + r * a.ldq;
      const float s = quantize_one_row(v.data(), a.cols, q);
      a.scales[r] = s;
      if (a.q2 == nullptr) continue;
      // Product rounded, then the difference (no FMA: this file is baseline x86-64).
      for (std::int64_t j = 0; j < a.cols; ++j) v[static_cast<std::size_t>(j)] -= s * static_cast<float>(q[j]);
      a.scales2[r] = quantize_one_row(v.data(), a.cols, a.q2 + r * a.ldq2);
    }
  });
}

void dequantize_sum_scalar(const DequantizeSumArgs& a, ThreadPool& pool) {
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 8192 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      for (std::int64_t j = 0; j < a.cols; ++j) {
        float v = 0.0f;
        for (int t = 0; t < a.num_terms; ++t) {
          const DequantizeSumArgs::Term& term = a.terms[t];
          v += static_cast<float>(term.acc[i * term.ld + j]) * (term.a_scales[i] * term.b_scales[j]);
        }
        if (a.bias) v += a.bias[j];
        a.y[i * a.ldy + j] = act_apply(a.activation, v);
      }
    }
  });
}

}  // namespace

Status quantize_rows(const QuantizeRowsArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::quantize_rows_avx512(a, pool);
  } else {
    quantize_rows_scalar(a, pool);
  }
  return Status::ok();
}

Status dequantize_sum(const DequantizeSumArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::dequantize_sum_avx512(a, pool);
  } else {
    dequantize_sum_scalar(a, pool);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
