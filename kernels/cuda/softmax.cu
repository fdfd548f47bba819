// Masked, scaled, optionally causal softmax: one 256-thread block per row; a fully masked row
// gives zeros (never NaN). Depends on cuda_utils.cuh, softmax.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/softmax.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_kernel(std::int64_t cols, const T* x, std::int64_t ldx, T* y, std::int64_t ldy,
                   float scale, const float* mask, std::int64_t ld_mask, std::int64_t mask_rows,
                   std::int64_t mask_row_div, bool causal, std::int64_t causal_queries,
                   std::int64_t causal_offset) {
  __shared__ float scratch[32];
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * ldx;
  T* yr = y + r * ldy;
  const float* mr = mask != nullptr ? mask + ((r / mask_row_div) % mask_rows) * ld_mask : nullptr;
  const std::int64_t last = causal ? (r % causal_queries) + causal_offset : cols;  // keys <= last
  auto z_at = [&](std::int64_t j) -> float {
    if (causal && j > last) return -INFINITY;
    return scale * to_f32(xr[j]) + (mr != nullptr ? mr[j] : 0.0f);
  };
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) mx = fmaxf(mx, z_at(j));
  mx = block_max(mx, scratch);
  if (mx == -INFINITY) {
    for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) yr[j] = from_f32<T>(0.0f);
    return;
  }
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) sum += expf(z_at(j) - mx);
  sum = block_sum(sum, scratch);
  const float inv = 1.0f / sum;
  for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) yr[j] = from_f32<T>(expf(z_at(j) - mx) * inv);
}

}  // namespace

Status launch_softmax(const SoftmaxArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.rows > 0x7fffffff) return invalid_argument("softmax: too many rows for one launch");
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    softmax_kernel<T><<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(
        a.cols, static_cast<const T*>(a.x), a.ldx, static_cast<T*>(a.y), a.ldy, a.scale, a.mask,
        a.ld_mask, a.mask_rows < 1 ? 1 : a.mask_rows, a.mask_row_div < 1 ? 1 : a.mask_row_div,
        a.causal, a.causal_queries < 1 ? 1 : a.causal_queries, a.causal_offset);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
