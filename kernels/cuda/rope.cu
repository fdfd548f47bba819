// Rotary embeddings in place: one thread per (token, head, pair); angles in f64 like the CPU.
// Depends on cuda_utils.cuh, rope.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/rope.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

template <typename T>
__global__ void rope_kernel(RopeStyle style, std::int64_t tokens, std::int64_t heads,
                            std::int64_t rotary_dim, T* x, std::int64_t ts, std::int64_t hs,
                            const std::int32_t* positions, std::int64_t offset, double theta,
                            double pscale) {
  const std::int64_t pairs = rotary_dim / 2;
  const std::int64_t total = tokens * heads * pairs;
  for (std::int64_t idx = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = idx % pairs;
    const std::int64_t h = (idx / pairs) % heads;
    const std::int64_t t = idx / (pairs * heads);
    const double pos = positions != nullptr ? static_cast<double>(positions[t]) : static_cast<double>(offset + t);
    const double angle = pos * pscale * pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rotary_dim));
    double s = 0.0, c = 0.0;
    sincos(angle, &s, &c);
    T* base = x + t * ts + h * hs;
    const std::int64_t d0 = style == RopeStyle::kHalf ? i : 2 * i;
    const std::int64_t d1 = style == RopeStyle::kHalf ? i + pairs : 2 * i + 1;
    const float x0 = to_f32(base[d0]), x1 = to_f32(base[d1]);
    const float cf = static_cast<float>(c), sf = static_cast<float>(s);
    base[d0] = from_f32<T>(x0 * cf - x1 * sf);
    base[d1] = from_f32<T>(x0 * sf + x1 * cf);
  }
}

}  // namespace

Status launch_rope(const RopeArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t rd = a.rotary_dim == 0 ? a.head_dim : a.rotary_dim;
  if (a.tokens == 0 || a.heads == 0 || rd == 0) return Status::ok();
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    rope_kernel<T><<<grid_for(a.tokens * a.heads * (rd / 2), kThreads), kThreads, 0, stream>>>(
        a.style, a.tokens, a.heads, rd, static_cast<T*>(a.x), a.token_stride, a.head_stride,
        a.positions, a.position_offset, static_cast<double>(a.theta), static_cast<double>(a.position_scale));
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
