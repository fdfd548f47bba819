// CUDA quantize_rows / dequantize_sum (see kernels/ops/quantize_rows.h): one block per row, the row
// staged in shared memory, the Hadamard butterflies and both quantization passes done in place.
// Bit-identical to the CPU: explicit round-to-nearest intrinsics (__fmul_rn, __fsub_rn) stop nvcc
// from contracting the residual into a fused multiply-add. Depends on cuda_utils.cuh,
// quantize_rows.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/quantize_rows.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ std::int8_t quant1(float v, float inv) {
  const int q = __float2int_rn(__fmul_rn(v, inv));  // round half to even
  return static_cast<std::int8_t>(q < -127 ? -127 : (q > 127 ? 127 : q));
}

// Quantizes v[0, cols) (shared memory) into q; returns the scale. With `residual`, v becomes
// v - scale * q (rounded product, then the difference).
__device__ float quantize_shared(float* v, std::int64_t cols, std::int8_t* q, bool residual, float* red) {
  float m = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) m = fmaxf(m, fabsf(v[c]));
  m = block_max(m, red);
  const float scale = __fdiv_rn(m, 127.0f);
  const float inv = scale > 0.0f ? __fdiv_rn(1.0f, scale) : 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const std::int8_t qc = quant1(v[c], inv);
    q[c] = qc;
    if (residual) v[c] = __fsub_rn(v[c], __fmul_rn(scale, static_cast<float>(qc)));
  }
  __syncthreads();
  return scale;
}

__global__ void __launch_bounds__(kThreads) quantize_rows_kernel(QuantizeRowsArgs a) {
  extern __shared__ float v[];
  __shared__ float red[32];
  const std::int64_t r = blockIdx.x;
  const float* x = a.x + r * a.ldx;
  for (std::int64_t c = threadIdx.x; c < a.cols; c += kThreads) {
    v[c] = a.col_scale != nullptr ? __fmul_rn(x[c], a.col_scale[c]) : x[c];
  }
  __syncthreads();
  if (a.rotate_block > 1) {
    // Radix-2 butterflies, len = 1, 2, 4, ... (the CPU's order): pair p of a stage is element
    // i = block start + (w / len) * 2 len + w % len and i + len, w = p mod B/2.
    const std::int64_t half = a.rotate_block / 2, pairs = a.cols / 2;
    for (std::int64_t len = 1; len < a.rotate_block; len <<= 1) {
      for (std::int64_t p = threadIdx.x; p < pairs; p += kThreads) {
        const std::int64_t b = p / half, w = p - b * half;
        const std::int64_t i = b * a.rotate_block + (w / len) * 2 * len + (w % len);
        const float u = v[i], t = v[i + len];
        v[i] = __fadd_rn(u, t);
        v[i + len] = __fsub_rn(u, t);
      }
      __syncthreads();
    }
  }
  const bool two = a.q2 != nullptr;
  const float s1 = quantize_shared(v, a.cols, a.q + r * a.ldq, two, red);
  if (threadIdx.x == 0) a.scales[r] = s1;
  if (!two) return;
  const float s2 = quantize_shared(v, a.cols, a.q2 + r * a.ldq2, false, red);
  if (threadIdx.x == 0) a.scales2[r] = s2;
}

__global__ void dequantize_sum_kernel(DequantizeSumArgs a) {
  const std::int64_t total = a.rows * a.cols;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = e / a.cols, j = e - i * a.cols;
    float v = 0.0f;
    for (int t = 0; t < a.num_terms; ++t) {
      const DequantizeSumArgs::Term& term = a.terms[t];
      const float s = __fmul_rn(term.a_scales[i], term.b_scales[j]);
      v = __fadd_rn(v, __fmul_rn(static_cast<float>(term.acc[i * term.ld + j]), s));
    }
    if (a.bias != nullptr) v = __fadd_rn(v, a.bias[j]);
    a.y[i * a.ldy + j] = activate(a.activation, v);
  }
}

}  // namespace

Status launch_quantize_rows(const QuantizeRowsArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.cols > kMaxQuantizeRowsCols) {
    return unimplemented("CUDA quantize_rows: rows of " + std::to_string(a.cols) + " values exceed " +
                         std::to_string(kMaxQuantizeRowsCols));
  }
  if (a.rows > 0x7fffffff) return invalid_argument("quantize_rows: too many rows");
  const std::size_t shared = static_cast<std::size_t>(a.cols) * sizeof(float);
  if (shared > 48 * 1024) {
    PARLEY_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(quantize_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                     static_cast<int>(shared)));
  }
  quantize_rows_kernel<<<static_cast<unsigned>(a.rows), kThreads, shared, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_dequantize_sum(const DequantizeSumArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  dequantize_sum_kernel<<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
