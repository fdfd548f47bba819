// LayerNorm / RMSNorm with fused residual: one 256-thread block per row, three passes over the
// row (h and residual_out; statistics; output), all reads/writes of element i by the same thread,
// so the documented aliasing (y = x, residual_out = x or residual) is safe.
// Depends on cuda_utils.cuh, norm.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/norm.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    norm_kernel(NormKind kind, std::int64_t cols, const T* x, std::int64_t ldx, const T* res,
                std::int64_t ldr, T* res_out, std::int64_t ldro, const float* gamma,
                const float* beta, float eps, T* y, std::int64_t ldy) {
  __shared__ float scratch[32];
  const std::int64_t row = blockIdx.x;
  const T* xr = x + row * ldx;
  const T* rr = res != nullptr ? res + row * ldr : nullptr;
  T* ro = res_out != nullptr ? res_out + row * ldro : nullptr;
  T* yr = y + row * ldy;
  // h as the CPU sees it: x + residual in f32, stored to residual_out in the tensor's dtype.
  auto h_at = [&](std::int64_t c) -> float {
    if (ro != nullptr) return to_f32(ro[c]);
    return to_f32(xr[c]) + (rr != nullptr ? to_f32(rr[c]) : 0.0f);
  };
  float sum = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    float h = to_f32(xr[c]) + (rr != nullptr ? to_f32(rr[c]) : 0.0f);
    if (ro != nullptr) {
      ro[c] = from_f32<T>(h);
      h = to_f32(ro[c]);
    }
    sum += kind == NormKind::kRmsNorm ? h * h : h;
  }
  sum = block_sum(sum, scratch);
  float mean = 0.0f, inv = 0.0f;
  if (kind == NormKind::kRmsNorm) {
    inv = rsqrtf(sum / static_cast<float>(cols) + eps);
  } else {
    mean = sum / static_cast<float>(cols);
    float var = 0.0f;
    for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
      const float d = h_at(c) - mean;
      var += d * d;
    }
    var = block_sum(var, scratch);
    inv = rsqrtf(var / static_cast<float>(cols) + eps);
  }
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float g = gamma != nullptr ? gamma[c] : 1.0f;
    float v = (h_at(c) - mean) * inv * g;
    if (kind == NormKind::kLayerNorm && beta != nullptr) v += beta[c];
    yr[c] = from_f32<T>(v);
  }
}

}  // namespace

Status launch_norm(const NormArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.rows > 0x7fffffff) return invalid_argument("norm: too many rows for one launch");
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    norm_kernel<T><<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(
        a.kind, a.cols, static_cast<const T*>(a.x), a.ldx, static_cast<const T*>(a.residual),
        a.ld_residual, static_cast<T*>(a.residual_out), a.ld_residual_out, a.gamma, a.beta, a.eps,
        static_cast<T*>(a.y), a.ldy);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
