// CPU affine quantize / dequantize / round trip (see ops/affine_quantize.h), and its validate().
// Why: QDQ ONNX models. Rounding is half-to-even without libm: for |v| < 2^22, (v + 1.5*2^23) -
// 1.5*2^23 rounds to nearest even in the default rounding mode, which the compiler vectorizes.
// Depends on ops/affine_quantize.h, thread_pool.h.
#include "kernels/ops/affine_quantize.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {

std::string_view affine_type_name(AffineType t) {
  switch (t) {
    case AffineType::kU8: return "u8";
    case AffineType::kI8: return "i8";
    case AffineType::kI32: return "i32";
  }
  return "unknown";
}

Status validate(const AffineQuantizeArgs& a) {
  auto bad = [](const std::string& what) { return invalid_argument("affine_quantize: " + what); };
  if (a.outer < 0 || a.channels < 1 || a.inner < 0) return bad("negative size or no channel");
  if (static_cast<int>(a.mode) > static_cast<int>(AffineMode::kRoundTrip)) return bad("unknown mode");
  if (static_cast<int>(a.q_type) > static_cast<int>(AffineType::kI32)) return bad("unknown type");
  if (a.mode != AffineMode::kDequantize && a.q_type == AffineType::kI32) return bad("quantizing to i32 is not supported");
  if (a.outer * a.inner == 0) return Status::ok();
  if (a.x == nullptr || a.y == nullptr || a.scale == nullptr) return bad("null pointer");
  if (a.x == a.y && a.mode != AffineMode::kRoundTrip) return bad("y may alias x only for the round trip");
  return Status::ok();
}

namespace cpu {
namespace {

constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
constexpr float kRoundLimit = 4194304.0f;   // 2^22: the trick is exact below this

template <typename Q>
void quantize_row(const float* x, Q* y, std::int64_t n, float scale, float zp, float lo, float hi) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    float v = std::clamp(x[i] / scale, -kRoundLimit, kRoundLimit);
    v = (v + kRoundMagic) - kRoundMagic;
    y[i] = static_cast<Q>(std::clamp(v + zp, lo, hi));
  }
}

void round_trip_row(const float* x, float* y, std::int64_t n, float scale, float zp, float lo, float hi) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    float v = std::clamp(x[i] / scale, -kRoundLimit, kRoundLimit);
    v = (v + kRoundMagic) - kRoundMagic;
    y[i] = (std::clamp(v + zp, lo, hi) - zp) * scale;
  }
}

template <typename Q>
void dequantize_row(const Q* x, float* y, std::int64_t n, float scale, Q zp) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<float>(static_cast<std::int64_t>(x[i]) - static_cast<std::int64_t>(zp)) * scale;
  }
}

// Elements [e0, e1) of the flat [outer, channels, inner] tensor, one channel run at a time.
template <typename Q>
void run_range(const AffineQuantizeArgs& a, std::int64_t e0, std::int64_t e1, bool avx512) {
  const float lo = a.q_type == AffineType::kU8 ? 0.0f : -128.0f;
  const float hi = a.q_type == AffineType::kU8 ? 255.0f : 127.0f;
  const Q* zps = static_cast<const Q*>(a.zero_point);
  while (e0 < e1) {
    const std::int64_t c = (e0 / a.inner) % a.channels;
    // Per tensor, the whole range is one run; per channel, up to the end of this inner row.
    const std::int64_t end = a.channels == 1 ? e1 : std::min(e1, (e0 / a.inner + 1) * a.inner);
    const std::int64_t n = end - e0;
    const float scale = a.scale[c];
    const Q zp = zps ? zps[c] : Q(0);
    switch (a.mode) {
      case AffineMode::kQuantize:
        if constexpr (!std::is_same_v<Q, std::int32_t>) {
          if (avx512) {
            detail::affine_quantize_8bit_avx512(static_cast<const float*>(a.x) + e0, static_cast<Q*>(a.y) + e0, n, scale,
                                                static_cast<float>(zp), lo, hi);
            break;
          }
          quantize_row(static_cast<const float*>(a.x) + e0, static_cast<Q*>(a.y) + e0, n, scale, static_cast<float>(zp), lo, hi);
        }
        break;
      case AffineMode::kRoundTrip:
        if (avx512) {
          detail::affine_round_trip_avx512(static_cast<const float*>(a.x) + e0, static_cast<float*>(a.y) + e0, n, scale,
                                           static_cast<float>(zp), lo, hi);
          break;
        }
        round_trip_row(static_cast<const float*>(a.x) + e0, static_cast<float*>(a.y) + e0, n, scale, static_cast<float>(zp), lo, hi);
        break;
      case AffineMode::kDequantize:
        dequantize_row(static_cast<const Q*>(a.x) + e0, static_cast<float*>(a.y) + e0, n, scale, zp);
        break;
    }
    e0 = end;
  }
}

}  // namespace

Status affine_quantize(const AffineQuantizeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t total = a.outer * a.channels * a.inner;
  if (total == 0) return Status::ok();
  const bool avx512 = resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni;
  auto body = [&](std::int64_t e0, std::int64_t e1) {
    switch (a.q_type) {
      case AffineType::kU8: run_range<std::uint8_t>(a, e0, e1, avx512); break;
      case AffineType::kI8: run_range<std::int8_t>(a, e0, e1, avx512); break;
      case AffineType::kI32: run_range<std::int32_t>(a, e0, e1, avx512); break;
    }
  };
  constexpr std::int64_t kGrain = 32768;
  if (total <= kGrain) {
    body(0, total);
  } else {
    ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
    pool.parallel_for(total, kGrain, body);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
