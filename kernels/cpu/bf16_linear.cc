// BF16 linear (see bf16_linear.h): weight packing, validation, the scalar reference and dispatch.
// Why: the reference the AVX-512 BF16 kernel (bf16_linear_avx512.cc) is tested against, and the
// path on CPUs without AVX-512 BF16. Depends on bf16_linear.h, ops_internal.h, act_math.h, isa.h.
#include "kernels/cpu/bf16_linear.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {
namespace {

// f32 -> bf16, round to nearest even (NaN stays a quiet NaN).
std::uint16_t to_bf16(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float from_bf16(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

}  // namespace

Status pack_bf16_weights(const float* w, std::int64_t n, std::int64_t k, std::int64_t ldw, Bf16PackedWeights& out) {
  if (n < 0 || k < 0) return invalid_argument("pack_bf16_weights: negative size");
  if (n > 0 && k > 0 && (w == nullptr || ldw < k)) return invalid_argument("pack_bf16_weights: null weights or ldw < k");
  out.n = n;
  out.k = k;
  out.k_pairs = (k + 1) / 2;
  const std::int64_t panels = (n + 31) / 32;
  out.panels.assign(static_cast<std::size_t>(panels * out.k_pairs * 64), 0);
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t p = j / 32, c = j % 32;
    for (std::int64_t x = 0; x < k; ++x) {
      out.panels[static_cast<std::size_t>(((p * out.k_pairs + x / 2) * 32 + c) * 2 + x % 2)] = to_bf16(w[j * ldw + x]);
    }
  }
  return Status::ok();
}

Status validate(const Bf16LinearArgs& a) {
  if (a.m < 0) return invalid_argument("bf16_linear: negative m");
  if (a.w == nullptr) return invalid_argument("bf16_linear: no packed weights");
  if (a.m == 0 || a.w->n == 0) return Status::ok();
  if (a.w->panels.size() != static_cast<std::size_t>((a.w->n + 31) / 32 * a.w->k_pairs * 64)) {
    return invalid_argument("bf16_linear: packed weights have " + std::to_string(a.w->panels.size()) +
                            " values, not the layout of n=" + std::to_string(a.w->n) + " k=" + std::to_string(a.w->k));
  }
  if (a.c == nullptr || a.ldc < a.w->n) return invalid_argument("bf16_linear: c is null or ldc < n");
  if (a.w->k > 0 && (a.a == nullptr || a.lda < a.w->k)) return invalid_argument("bf16_linear: a is null or lda < k");
  return Status::ok();
}

namespace cpu {
namespace {

void bf16_linear_scalar(const Bf16LinearArgs& a, ThreadPool& pool) {
  const Bf16PackedWeights& w = *a.w;
  pool.parallel_for(a.m, 1, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> x(static_cast<std::size_t>(w.k));
    for (std::int64_t i = r0; i < r1; ++i) {
      for (std::int64_t t = 0; t < w.k; ++t) x[static_cast<std::size_t>(t)] = from_bf16(to_bf16(a.a[i * a.lda + t]));
      for (std::int64_t j = 0; j < w.n; ++j) {
        const std::uint16_t* col = w.panels.data() + (j / 32) * w.k_pairs * 64 + (j % 32) * 2;
        float acc = 0.0f;
        for (std::int64_t t = 0; t < w.k; ++t) acc += x[static_cast<std::size_t>(t)] * from_bf16(col[(t / 2) * 64 + t % 2]);
        if (a.bias) acc += a.bias[j];
        a.c[i * a.ldc + j] = act_apply(a.activation, acc);
      }
    }
  });
}

}  // namespace

bool bf16_linear_fast() { return resolve_isa(CpuIsa::kAuto) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16(); }

Status bf16_linear(const Bf16LinearArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.w->n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16()) {
    detail::bf16_linear_avx512(a, pool);
  } else {
    bf16_linear_scalar(a, pool);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
