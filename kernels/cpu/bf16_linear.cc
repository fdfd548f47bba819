// BF16 linear (see kernels/ops/bf16_linear.h): weight packing, validation, the scalar reference
// and dispatch. Why: the reference the AVX-512 BF16 kernel (bf16_linear_avx512.cc) is tested
// against, and the path on CPUs without AVX-512 BF16. Depends on ops/bf16_linear.h,
// ops_internal.h, act_math.h, isa.h.
#include "kernels/ops/bf16_linear.h"

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

Status validate(const Bf16PackArgs& a) {
  if (a.n < 0 || a.k < 0) return invalid_argument("pack_bf16: negative size");
  if (a.n > 0 && a.k > 0 && (a.w == nullptr || a.ldw < a.k || a.dst == nullptr)) {
    return invalid_argument("pack_bf16: null weights or destination, or ldw < k");
  }
  return Status::ok();
}

Status validate(const Bf16LinearArgs& a) {
  if (a.m < 0 || a.n < 0 || a.k < 0) return invalid_argument("bf16_linear: negative size");
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.w == nullptr && a.k > 0) return invalid_argument("bf16_linear: no packed weights");
  if (a.c == nullptr || a.ldc < a.n) return invalid_argument("bf16_linear: c is null or ldc < n");
  if (a.k > 0 && (a.a == nullptr || a.lda < a.k)) return invalid_argument("bf16_linear: a is null or lda < k");
  return Status::ok();
}

namespace cpu {
namespace {

void bf16_linear_scalar(const Bf16LinearArgs& a, ThreadPool& pool) {
  const auto* panels = static_cast<const std::uint16_t*>(a.w);
  const std::int64_t k_pairs = (a.k + 1) / 2;
  pool.parallel_for(a.m, 1, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> x(static_cast<std::size_t>(a.k));
    for (std::int64_t i = r0; i < r1; ++i) {
      for (std::int64_t t = 0; t < a.k; ++t) x[static_cast<std::size_t>(t)] = from_bf16(to_bf16(a.a[i * a.lda + t]));
      for (std::int64_t j = 0; j < a.n; ++j) {
        const std::uint16_t* col = panels + (j / 32) * k_pairs * 64 + (j % 32) * 2;
        float acc = 0.0f;
        for (std::int64_t t = 0; t < a.k; ++t) acc += x[static_cast<std::size_t>(t)] * from_bf16(col[(t / 2) * 64 + t % 2]);
        if (a.bias) acc += a.bias[j];
        a.c[i * a.ldc + j] = act_apply(a.activation, acc);
      }
    }
  });
}

}  // namespace

bool bf16_linear_fast() { return resolve_isa(CpuIsa::kAuto) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16(); }

std::int64_t bf16_packed_bytes(std::int64_t n, std::int64_t k) {
  if (n < 0 || k < 0) return -1;
  return (n + 31) / 32 * ((k + 1) / 2) * 64 * 2;
}

Status pack_bf16(const Bf16PackArgs& a, const ExecContext&) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t total = bf16_packed_bytes(a.n, a.k);
  if (total == 0) return Status::ok();
  if (static_cast<std::int64_t>(a.dst_bytes) < total) {
    return invalid_argument("pack_bf16: destination has " + std::to_string(a.dst_bytes) + " bytes, the layout needs " +
                            std::to_string(total));
  }
  const std::int64_t k_pairs = (a.k + 1) / 2;
  auto* panels = static_cast<std::uint16_t*>(a.dst);
  std::memset(panels, 0, static_cast<std::size_t>(total));
  for (std::int64_t j = 0; j < a.n; ++j) {
    const std::int64_t p = j / 32, c = j % 32;
    for (std::int64_t x = 0; x < a.k; ++x) {
      panels[((p * k_pairs + x / 2) * 32 + c) * 2 + x % 2] = to_bf16(a.w[j * a.ldw + x]);
    }
  }
  return Status::ok();
}

Status bf16_linear(const Bf16LinearArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16()) {
    detail::bf16_linear_avx512(a, pool, use_amx(ctx.cpu_isa));
  } else {
    bf16_linear_scalar(a, pool);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
