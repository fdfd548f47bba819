// CPU quantize_rows / dequantize_sum (see kernels/ops/quantize_rows.h): validation, ISA dispatch,
// the scalar references and the rotated (block Hadamard) path of the LM's W8A8 linears.
// Why: the reference the AVX-512 variant (encoder_ops_avx512.cc) is tested against, and the
// path on CPUs without AVX-512. Depends on ops/quantize_rows.h, ops_internal.h, act_math.h, isa.h.
#include "kernels/ops/quantize_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

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
  if (a.rotate_block != 0) {
    const std::int64_t b = a.rotate_block;
    if (b < 2 || b > 4096 || (b & (b - 1)) != 0 || a.cols % b != 0) {
      return bad(op, "rotate_block " + std::to_string(b) + " must be a power of two in [2, 4096] dividing cols " +
                         std::to_string(a.cols));
    }
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

// Unnormalized fast Walsh-Hadamard transform (x <- x.H), n a power of two: radix-2 butterflies in
// the order len = 1, 2, 4, ... (the contract every backend follows). For n >= 8 the first three
// stages run on groups of 8 in registers (the same additions in the same order); the later ones
// have contiguous inner loops the compiler vectorizes (baseline x86-64: no FMA contraction).
void fwht(float* x, std::int64_t n) {
  if (n < 8) {
    for (std::int64_t len = 1; len < n; len <<= 1)
      for (std::int64_t i = 0; i < n; i += len << 1)
        for (std::int64_t j = i; j < i + len; ++j) {
          const float u = x[j], w = x[j + len];
          x[j] = u + w;
          x[j + len] = u - w;
        }
    return;
  }
  for (std::int64_t i = 0; i < n; i += 8) {
    float* v = x + i;
    const float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
    const float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
    const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
    const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
    v[0] = b0 + b4; v[1] = b1 + b5; v[2] = b2 + b6; v[3] = b3 + b7;
    v[4] = b0 - b4; v[5] = b1 - b5; v[6] = b2 - b6; v[7] = b3 - b7;
  }
  for (std::int64_t len = 8; len < n; len <<= 1) {
    for (std::int64_t i = 0; i < n; i += len << 1) {
      float* a = x + i;
      float* b = x + i + len;
      for (std::int64_t j = 0; j < len; ++j) {
        const float u = a[j], w = b[j];
        a[j] = u + w;
        b[j] = u - w;
      }
    }
  }
}

// Rotated rows (the LM's W8A8 linears, decode-sized and prefill calls alike): per row, smooth,
// rotate each block, then the same symmetric rule (the 1.5*2^23 trick is round-half-even for
// |v| <= 127 and vectorizes, unlike nearbyintf). Rows < 4 run on the calling thread (decode).
void quantize_rows_rotated(const QuantizeRowsArgs& a, ThreadPool& pool) {
  const std::int64_t k = a.cols, block = a.rotate_block;
  auto rows = [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> buf(static_cast<std::size_t>(k));
    float* v = buf.data();
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * a.ldx;
      if (a.col_scale != nullptr) {
        for (std::int64_t c = 0; c < k; ++c) v[c] = x[c] * a.col_scale[c];
      } else {
        std::memcpy(v, x, static_cast<std::size_t>(k) * 4);
      }
      for (std::int64_t c = 0; c < k; c += block) fwht(v + c, block);
      std::int8_t* q = a.q + r * a.ldq;
      for (int pass = 0; pass < (a.q2 != nullptr ? 2 : 1); ++pass) {
        float amax = 0.0f;
        for (std::int64_t c = 0; c < k; ++c) amax = std::max(amax, std::abs(v[c]));
        const float scale = amax / 127.0f;
        const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
        for (std::int64_t c = 0; c < k; ++c) {
          const float t = (v[c] * inv + kRound) - kRound;
          q[c] = static_cast<std::int8_t>(std::clamp(t, -127.0f, 127.0f));
        }
        if (pass == 0) {
          a.scales[r] = scale;
          if (a.q2 == nullptr) break;
          for (std::int64_t c = 0; c < k; ++c) v[c] -= scale * static_cast<float>(q[c]);
          q = a.q2 + r * a.ldq2;
        } else {
          a.scales2[r] = scale;
        }
      }
    }
  };
  if (a.rows < 4) {
    rows(0, a.rows);
  } else {
    pool.parallel_for(a.rows, 2, rows);
  }
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
  if (a.rotate_block != 0) {
    quantize_rows_rotated(a, pool);
  } else if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
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
