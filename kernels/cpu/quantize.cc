// CPU quantization: symmetric int8 (per tensor / row / column) and GGUF blocks (the codecs are
// in gguf_blocks.cc), row-parallel.
// Why: see ops/quantize.h. Depends on ops/quantize.h, dtype_io.h, gguf_blocks.h, thread_pool.h.
#include "kernels/ops/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/gguf_blocks.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

std::int8_t quant_one(float x, float inv) {
  const float q = std::nearbyint(x * inv);  // default rounding mode: half to even
  return static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
}

float scale_from_absmax(float amax) { return amax / 127.0f; }
float inverse(float scale) { return scale > 0.0f ? 1.0f / scale : 0.0f; }

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
  // f32 rows per row or per tensor on AVX-512: the same numbers, 16 at a time (activations are
  // quantized before every int8 GEMM; the scalar loop was ~9% of a Whisper stream).
  if (a.x_type == DType::kF32 && a.granularity != QuantGranularity::kPerColumn &&
      resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    pool.parallel_for(a.rows, std::max<std::int64_t>(1, 16384 / a.cols), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const float* x = static_cast<const float*>(a.x) + r * a.ldx;
        std::int8_t* y = a.y + r * a.ldy;
        if (a.granularity == QuantGranularity::kPerRow && a.compute_scales) a.scales[r] = scale_from_absmax(detail::absmax_f32_avx512(x, a.cols));
        detail::quantize_row_i8_avx512(x, a.cols, inverse(a.scales[a.granularity == QuantGranularity::kPerRow ? r : 0]), y);
      }
    });
    return Status::ok();
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
      const std::int64_t bs = engine::block_size(a.type);
      for (std::int64_t b = 0; b < a.cols / bs; ++b) {
        quantize_gguf_block(a.x + r * a.ldx + b * bs, a.type, static_cast<std::uint8_t*>(a.y) + r * rb + b * bb);
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
