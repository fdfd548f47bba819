// INT8 linear on packed weights (see kernels/ops/int8_linear.h): packing, validation, the scalar
// reference and dispatch. Why: the reference the VNNI kernel (int8_linear_avx512.cc) is tested
// against, and the path on CPUs without AVX-512 VNNI. Depends on ops/int8_linear.h,
// ops_internal.h, act_math.h, isa.h.
#include "kernels/ops/int8_linear.h"

#include <cstring>
#include <string>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {

Status validate(const Int8PackArgs& a) {
  if (a.n < 0 || a.k < 0) return invalid_argument("pack_int8: negative size");
  if (a.k > 65000) return invalid_argument("pack_int8: k = " + std::to_string(a.k) + " over 65000 (int32 sums could overflow)");
  if (a.n > 0 && a.k > 0 && (a.w == nullptr || a.ldw < a.k || a.dst == nullptr)) {
    return invalid_argument("pack_int8: null weights or destination, or ldw < k");
  }
  return Status::ok();
}

Status validate(const Int8LinearArgs& a) {
  if (a.m < 0 || a.n < 0 || a.k < 0) return invalid_argument("int8_linear: negative size");
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.k > 65000) return invalid_argument("int8_linear: k = " + std::to_string(a.k) + " over 65000");
  if (a.a_zero < 0 || a.a_zero > 255) return invalid_argument("int8_linear: a_zero " + std::to_string(a.a_zero) + " outside [0, 255]");
  if (a.w == nullptr || a.scales == nullptr) return invalid_argument("int8_linear: no packed weights or no scales");
  if (a.c == nullptr || a.ldc < a.n) return invalid_argument("int8_linear: c is null or ldc < n");
  if (a.k > 0 && (a.a == nullptr || a.lda < a.k)) return invalid_argument("int8_linear: a is null or lda < k");
  return Status::ok();
}

namespace cpu {
namespace {

void int8_linear_scalar(const Int8LinearArgs& a, ThreadPool& pool) {
  const auto* panels = static_cast<const std::int8_t*>(a.w);
  const std::int64_t q_count = (a.k + 3) / 4, np = (a.n + 31) / 32;
  const auto* colsum = reinterpret_cast<const std::int32_t*>(panels + np * q_count * 128);
  pool.parallel_for(a.m, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      const std::uint8_t* x = a.a + i * a.lda;
      for (std::int64_t j = 0; j < a.n; ++j) {
        const std::int8_t* col = panels + (j / 32) * q_count * 128 + (j % 32) * 4;
        std::int32_t acc = 0;
        for (std::int64_t t = 0; t < a.k; ++t) acc += static_cast<std::int32_t>(x[t]) * col[(t / 4) * 128 + t % 4];
        if (a.row_offsets) acc += a.row_offsets[i];
        const float scale = a.row_scales ? a.row_scales[i] * a.scales[j] : a.scales[j];
        float v = static_cast<float>(acc - a.a_zero * colsum[j]) * scale;
        if (a.bias) v += a.bias[j];
        a.c[i * a.ldc + j] = act_apply(a.activation, v);
      }
    }
  });
}

}  // namespace

bool int8_linear_fast() { return resolve_isa(CpuIsa::kAuto) == CpuIsa::kAvx512Vnni; }

std::int64_t int8_packed_bytes(std::int64_t n, std::int64_t k) {
  if (n < 0 || k < 0) return -1;
  const std::int64_t np = (n + 31) / 32;
  return np * ((k + 3) / 4) * 128 + np * 32 * 4;
}

Status pack_int8(const Int8PackArgs& a, const ExecContext&) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t total = int8_packed_bytes(a.n, a.k);
  if (total == 0) return Status::ok();
  if (static_cast<std::int64_t>(a.dst_bytes) < total) {
    return invalid_argument("pack_int8: destination has " + std::to_string(a.dst_bytes) + " bytes, the layout needs " +
                            std::to_string(total));
  }
  const std::int64_t q_count = (a.k + 3) / 4, np = (a.n + 31) / 32;
  auto* panels = static_cast<std::int8_t*>(a.dst);
  std::memset(panels, 0, static_cast<std::size_t>(total));
  auto* colsum = reinterpret_cast<std::int32_t*>(panels + np * q_count * 128);
  for (std::int64_t j = 0; j < a.n; ++j) {
    const std::int64_t p = j / 32, c = j % 32;
    std::int32_t s = 0;
    for (std::int64_t x = 0; x < a.k; ++x) {
      const std::int8_t v = a.w[j * a.ldw + x];
      panels[((p * q_count + x / 4) * 32 + c) * 4 + x % 4] = v;
      s += v;
    }
    colsum[j] = s;
  }
  return Status::ok();
}

Status int8_linear(const Int8LinearArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::int8_linear_avx512(a, pool, use_amx(ctx.cpu_isa));
  } else {
    int8_linear_scalar(a, pool);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
