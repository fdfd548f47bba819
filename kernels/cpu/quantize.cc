// CPU quantization: symmetric int8 (per tensor / row / column) and GGUF Q8_0, Q4_0, Q4_1 blocks
// computed exactly as ggml's reference quantizers (same float operations in the same order).
// Why: see ops/quantize.h. Depends on ops/quantize.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

std::int8_t quant_one(float x, float inv) {
  const float q = std::nearbyint(x * inv);  // default rounding mode: half to even
  return static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
}

float scale_from_absmax(float amax) { return amax / 127.0f; }
float inverse(float scale) { return scale > 0.0f ? 1.0f / scale : 0.0f; }

void put_f16(std::uint8_t* p, float v) {
  const std::uint16_t h = engine::f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

void quantize_block(const float* x, DType t, std::uint8_t* out) {
  switch (t) {
    case DType::kQ8_0: {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      put_f16(out, d);
      auto* q = reinterpret_cast<std::int8_t*>(out + 2);
      for (int j = 0; j < 32; ++j) q[j] = static_cast<std::int8_t>(std::round(x[j] * id));
      break;
    }
    case DType::kQ4_0: {
      float amax = 0.0f, mx = 0.0f;
      for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(x[j])) {
          amax = std::fabs(x[j]);
          mx = x[j];
        }
      }
      const float d = mx / -8.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      put_f16(out, d);
      for (int j = 0; j < 16; ++j) {
        const float x0 = x[j] * id, x1 = x[j + 16] * id;
        const auto q0 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x0 + 8.5f)));
        const auto q1 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x1 + 8.5f)));
        out[2 + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
      }
      break;
    }
    case DType::kQ4_1: {
      float mn = FLT_MAX, mx = -FLT_MAX;
      for (int j = 0; j < 32; ++j) {
        mn = std::min(mn, x[j]);
        mx = std::max(mx, x[j]);
      }
      const float d = (mx - mn) / 15.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      put_f16(out, d);
      put_f16(out + 2, mn);
      for (int j = 0; j < 16; ++j) {
        const float x0 = (x[j] - mn) * id, x1 = (x[j + 16] - mn) * id;
        const auto q0 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x0 + 0.5f)));
        const auto q1 = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x1 + 0.5f)));
        out[4 + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
      }
      break;
    }
    default: break;
  }
}

}  // namespace

Status quantize(const QuantizeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  if (a.compute_scales && a.granularity != QuantGranularity::kPerRow) {
    // Per-tensor / per-column absmax in one pass (serial: these are weight-load-time paths).
    std::vector<float> amax(a.granularity == QuantGranularity::kPerTensor ? 1 : static_cast<std::size_t>(a.cols), 0.0f);
    std::vector<float> row(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = 0; r < a.rows; ++r) {
      load_row(offset_f(a.x, a.x_type, r * a.ldx), a.x_type, a.cols, row.data());
      for (std::int64_t j = 0; j < a.cols; ++j) {
        float& m = amax[a.granularity == QuantGranularity::kPerTensor ? 0 : static_cast<std::size_t>(j)];
        m = std::max(m, std::fabs(row[static_cast<std::size_t>(j)]));
      }
    }
    for (std::size_t i = 0; i < amax.size(); ++i) a.scales[i] = scale_from_absmax(amax[i]);
  }
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> row(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      load_row(offset_f(a.x, a.x_type, r * a.ldx), a.x_type, a.cols, row.data());
      std::int8_t* y = a.y + r * a.ldy;
      if (a.granularity == QuantGranularity::kPerRow) {
        if (a.compute_scales) {
          float amax = 0.0f;
          for (float v : row) amax = std::max(amax, std::fabs(v));
          a.scales[r] = scale_from_absmax(amax);
        }
        const float inv = inverse(a.scales[r]);
        for (std::int64_t j = 0; j < a.cols; ++j) y[j] = quant_one(row[static_cast<std::size_t>(j)], inv);
      } else if (a.granularity == QuantGranularity::kPerTensor) {
        const float inv = inverse(a.scales[0]);
        for (std::int64_t j = 0; j < a.cols; ++j) y[j] = quant_one(row[static_cast<std::size_t>(j)], inv);
      } else {
        for (std::int64_t j = 0; j < a.cols; ++j) y[j] = quant_one(row[static_cast<std::size_t>(j)], inverse(a.scales[j]));
      }
    }
  });
  return Status::ok();
}

Status dequantize(const DequantizeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> row(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int8_t* x = a.x + r * a.ldx;
      for (std::int64_t j = 0; j < a.cols; ++j) {
        const float s = a.granularity == QuantGranularity::kPerTensor ? a.scales[0]
                        : a.granularity == QuantGranularity::kPerRow  ? a.scales[r]
                                                                      : a.scales[j];
        row[static_cast<std::size_t>(j)] = static_cast<float>(x[j]) * s;
      }
      store_row(row.data(), a.cols, offset_f(a.y, a.y_type, r * a.ldy), a.y_type);
    }
  });
  return Status::ok();
}

Status gguf_quantize(const GgufQuantizeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  const std::int64_t rb = a.y_row_bytes != 0 ? a.y_row_bytes : engine::row_bytes(a.type, a.cols);
  const std::int64_t bb = engine::block_bytes(a.type);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.rows, 4, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      for (std::int64_t b = 0; b < a.cols / 32; ++b) {
        quantize_block(a.x + r * a.ldx + b * 32, a.type, static_cast<std::uint8_t*>(a.y) + r * rb + b * bb);
      }
    }
  });
  return Status::ok();
}

Status gguf_dequantize(const GgufDequantizeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  const std::int64_t rb = a.x_row_bytes != 0 ? a.x_row_bytes : engine::row_bytes(a.type, a.cols);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.rows, 4, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> row(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      load_row(static_cast<const std::uint8_t*>(a.x) + r * rb, a.type, a.cols, row.data());
      store_row(row.data(), a.cols, offset_f(a.y, a.y_type, r * a.ldy), a.y_type);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
