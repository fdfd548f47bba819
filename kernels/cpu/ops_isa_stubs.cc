// AVX-512 entry points of the non-GEMM ops (ops_internal.h) for non-x86 builds: resolve_isa()
// never selects them there; each runs the op's scalar path so the link stays whole.
// Depends on ops_internal.h.
#include "kernels/cpu/ops_internal.h"
#include "kernels/ops/conv1d.h"

#include <algorithm>
#include <cmath>

namespace parley::kernels::cpu::detail {
namespace {
ExecContext scalar_ctx(ThreadPool& pool) {
  ExecContext c = ExecContext::cpu();
  c.threads = &pool;
  c.cpu_isa = CpuIsa::kScalar;
  return c;
}
}  // namespace

void attention_prefill_f32_avx512(const AttentionPrefillArgs& a, float, ThreadPool& pool) {
  (void)cpu::attention_prefill(a, scalar_ctx(pool));
}
void norm_f32_avx512(const NormArgs& a, ThreadPool& pool) { (void)cpu::norm(a, scalar_ctx(pool)); }
void quantize_rows_avx512(const QuantizeRowsArgs& a, ThreadPool& pool) { (void)cpu::quantize_rows(a, scalar_ctx(pool)); }
void dequantize_sum_avx512(const DequantizeSumArgs& a, ThreadPool& pool) { (void)cpu::dequantize_sum(a, scalar_ctx(pool)); }
bool cpu_has_avx512_bf16() { return false; }
void bf16_linear_avx512(const Bf16LinearArgs& a, ThreadPool& pool, bool) { (void)cpu::bf16_linear(a, scalar_ctx(pool)); }
void int8_linear_avx512(const Int8LinearArgs& a, ThreadPool& pool, bool) { (void)cpu::int8_linear(a, scalar_ctx(pool)); }
void conv1d_direct_f32_avx512(const Conv1dArgs& a, std::int64_t, ThreadPool& pool) { (void)cpu::conv1d(a, scalar_ctx(pool)); }
void conv1d_transposed_f32_avx512(const Conv1dArgs& a, std::int64_t, ThreadPool& pool) { (void)cpu::conv1d(a, scalar_ctx(pool)); }
void conv1d_direct_bf16_avx512(const Conv1dArgs& a, std::int64_t, ThreadPool& pool) { (void)cpu::conv1d(a, scalar_ctx(pool)); }
void conv1d_transposed_bf16_avx512(const Conv1dArgs& a, std::int64_t, ThreadPool& pool) { (void)cpu::conv1d(a, scalar_ctx(pool)); }

bool unary_f32_avx512(EwOp, const float*, float*, std::int64_t) { return false; }
void softmax_f32_avx512(const SoftmaxArgs& a, ThreadPool& pool) { (void)cpu::softmax(a, scalar_ctx(pool)); }
void gelu_erf_avx512(float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) v[i] = 0.5f * v[i] * std::erfc(-v[i] * 0.70710678118654752f);
}
void gelu_erf_grad_avx512(const float* x, const float* dy, float* dx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    dx[i] = dy[i] * (0.5f * std::erfc(-x[i] * 0.70710678118654752f) +
                     x[i] * 0.39894228040143268f * std::exp(-0.5f * x[i] * x[i]));
  }
}
void affine_round_trip_avx512(const float* x, float* y, std::int64_t n, float scale, float zp, float lo, float hi) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = (std::clamp(std::nearbyint(x[i] / scale) + zp, lo, hi) - zp) * scale;
}
void affine_quantize_8bit_avx512(const float* x, void* y, std::int64_t n, float scale, float zp, float lo, float hi) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = std::clamp(std::nearbyint(x[i] / scale) + zp, lo, hi);
    if (lo < 0.0f) static_cast<std::int8_t*>(y)[i] = static_cast<std::int8_t>(v);
    else static_cast<std::uint8_t*>(y)[i] = static_cast<std::uint8_t>(v);
  }
}
void quantize_row_i8_avx512(const float* x, std::int64_t n, float inv, std::int8_t* y) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float q = std::nearbyint(x[i] * inv);
    y[i] = static_cast<std::int8_t>(q >= -127.0f ? std::min(q, 127.0f) : -127.0f);
  }
}
float absmax_f32_avx512(const float* x, std::int64_t n) {
  float m = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace parley::kernels::cpu::detail
