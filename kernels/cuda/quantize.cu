// Symmetric int8 quantize (scales computed or given; per tensor / row / column), dequantize,
// and GGUF block dequantize. Quantization matches the CPU: scale = absmax/127 (f32),
// inv = 1/scale, q = clamp(round-half-even(x * inv), -127, 127).
// Depends on cuda_utils.cuh, gguf.cuh, quantize.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/gguf.cuh"
#include "kernels/cuda/quantize.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ std::int8_t quant1(float x, float inv) {
  const int q = __float2int_rn(x * inv);  // round half to even
  return static_cast<std::int8_t>(q < -127 ? -127 : (q > 127 ? 127 : q));
}

// absmax of each row (one block per row) -> scales[row] = absmax / 127.
template <typename T>
__global__ void __launch_bounds__(kThreads) row_scale_kernel(const T* x, std::int64_t ldx, std::int64_t cols, float* scales) {
  __shared__ float scratch[32];
  const std::int64_t r = blockIdx.x;
  float m = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) m = fmaxf(m, fabsf(to_f32(x[r * ldx + c])));
  m = block_max(m, scratch);
  if (threadIdx.x == 0) scales[r] = m / 127.0f;
}

// absmax of each column (one thread per column) -> scales[col].
template <typename T>
__global__ void col_scale_kernel(const T* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, float* scales) {
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  float m = 0.0f;
  for (std::int64_t r = 0; r < rows; ++r) m = fmaxf(m, fabsf(to_f32(x[r * ldx + c])));
  scales[c] = m / 127.0f;
}

// Whole-tensor absmax in one block (deterministic, no atomics).
template <typename T>
__global__ void __launch_bounds__(kThreads) tensor_scale_kernel(const T* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, float* scales) {
  __shared__ float scratch[32];
  float m = 0.0f;
  for (std::int64_t i = threadIdx.x; i < rows * cols; i += kThreads) {
    const std::int64_t r = i / cols, c = i - r * cols;
    m = fmaxf(m, fabsf(to_f32(x[r * ldx + c])));
  }
  m = block_max(m, scratch);
  if (threadIdx.x == 0) scales[0] = m / 127.0f;
}

__device__ __forceinline__ float scale_for(const float* scales, QuantGranularity g, std::int64_t r, std::int64_t c) {
  return g == QuantGranularity::kPerTensor ? scales[0] : (g == QuantGranularity::kPerRow ? scales[r] : scales[c]);
}

template <typename T>
__global__ void quantize_kernel(const T* x, std::int64_t ldx, std::int8_t* y, std::int64_t ldy,
                                std::int64_t rows, std::int64_t cols, const float* scales, QuantGranularity g) {
  const std::int64_t total = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i - r * cols;
    const float s = scale_for(scales, g, r, c);
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    y[r * ldy + c] = quant1(to_f32(x[r * ldx + c]), inv);
  }
}

template <typename T>
__global__ void dequantize_kernel(const std::int8_t* x, std::int64_t ldx, T* y, std::int64_t ldy,
                                  std::int64_t rows, std::int64_t cols, const float* scales, QuantGranularity g) {
  const std::int64_t total = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i - r * cols;
    y[r * ldy + c] = from_f32<T>(static_cast<float>(x[r * ldx + c]) * scale_for(scales, g, r, c));
  }
}

template <typename T>
__global__ void gguf_dequant_kernel(engine::DType type, const std::uint8_t* x, std::int64_t row_bytes,
                                    T* y, std::int64_t ldy, std::int64_t rows, std::int64_t cols) {
  const std::int64_t total = rows * cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / cols, c = i - r * cols;
    y[r * ldy + c] = from_f32<T>(gguf_value(type, x + r * row_bytes, c));
  }
}

}  // namespace

Status launch_quantize(const QuantizeArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.rows > 0x7fffffff) return invalid_argument("quantize: too many rows");
  return dispatch_float(a.x_type, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.x);
    if (a.compute_scales) {
      switch (a.granularity) {
        case QuantGranularity::kPerRow:
          row_scale_kernel<T><<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(x, a.ldx, a.cols, a.scales);
          break;
        case QuantGranularity::kPerColumn:
          col_scale_kernel<T><<<grid_for(a.cols, kThreads, 0x7fffffffu), kThreads, 0, stream>>>(x, a.ldx, a.rows, a.cols, a.scales);
          break;
        case QuantGranularity::kPerTensor:
          tensor_scale_kernel<T><<<1, kThreads, 0, stream>>>(x, a.ldx, a.rows, a.cols, a.scales);
          break;
      }
      PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    }
    quantize_kernel<T><<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(
        x, a.ldx, a.y, a.ldy, a.rows, a.cols, a.scales, a.granularity);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

Status launch_dequantize(const DequantizeArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  return dispatch_float(a.y_type, [&](auto tag) -> Status {
    using T = decltype(tag);
    dequantize_kernel<T><<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(
        a.x, a.ldx, static_cast<T*>(a.y), a.ldy, a.rows, a.cols, a.scales, a.granularity);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

Status launch_gguf_dequantize(const GgufDequantizeArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  const std::int64_t rb = a.x_row_bytes != 0 ? a.x_row_bytes : engine::row_bytes(a.type, a.cols);
  if (rb <= 0) return invalid_argument("gguf dequantize: bad row size");
  return dispatch_float(a.y_type, [&](auto tag) -> Status {
    using T = decltype(tag);
    gguf_dequant_kernel<T><<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(
        a.type, static_cast<const std::uint8_t*>(a.x), rb, static_cast<T*>(a.y), a.ldy, a.rows, a.cols);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
