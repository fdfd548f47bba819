// CUDA gemm_q4 (see gemm_q4.h): pass 1 quantizes each token per 32-block exactly as the CPU does
// (d = absmax/127, q = rne(x * (1/d)), s = d * sum(q)); pass 2 gives each output channel one warp,
// lanes striding over the row's blocks, up to 8 tokens per pass in registers, dp4a dot products,
// then the per-block scale terms (Q4_0: -8 d_w s_a; Q4_1: m_w s_a) and a warp reduction.
// Products are exact; only the f32 summation order differs from the CPU.
// Depends on cuda_utils.cuh, gemm_q4.h.
#include <cstring>

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/gemm_q4.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kTokensPerPass = 8;
constexpr int kWarpsPerBlock = 4;

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

// One warp per (token, 32-block).
__global__ void quantize_blocks_kernel(const float* a, std::int64_t lda, std::int64_t m, std::int64_t k,
                                       std::int8_t* q, float* d, float* s) {
  const std::int64_t nb = k / 32;
  const std::int64_t warp = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (warp >= m * nb) return;
  const std::int64_t i = warp / nb, b = warp - i * nb;
  const float x = a[i * lda + b * 32 + lane];
  const float amax = warp_max(fabsf(x));
  const float dd = __fdiv_rn(amax, 127.0f);
  const float inv = dd > 0.0f ? __fdiv_rn(1.0f, dd) : 0.0f;
  int v = __float2int_rn(__fmul_rn(x, inv));
  v = v < -127 ? -127 : (v > 127 ? 127 : v);
  q[i * k + b * 32 + lane] = static_cast<std::int8_t>(v);
  float sum = static_cast<float>(v);
  sum = warp_sum(sum);  // |sum| <= 32 * 127: exact in f32
  if (lane == 0) {
    d[warp] = dd;
    s[warp] = __fmul_rn(dd, sum);
  }
}

__device__ __forceinline__ float half_at(const std::uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}

__device__ __forceinline__ int pack4(const std::uint8_t* p) {
  return static_cast<int>(static_cast<unsigned>(p[0]) | (static_cast<unsigned>(p[1]) << 8) |
                          (static_cast<unsigned>(p[2]) << 16) | (static_cast<unsigned>(p[3]) << 24));
}

template <engine::DType kType>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    gemm_q4_kernel(GemmQ4Args args, const std::int8_t* q, const float* d, const float* s) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= args.n) return;
  const std::int64_t nb = args.k / 32;
  constexpr int kBlockBytes = kType == engine::DType::kQ8_0 ? 34 : (kType == engine::DType::kQ4_0 ? 18 : 20);
  const auto* wrow = static_cast<const std::uint8_t*>(args.b) + row * nb * kBlockBytes;
  for (std::int64_t i0 = 0; i0 < args.m; i0 += kTokensPerPass) {
    const int mt = static_cast<int>(args.m - i0 < kTokensPerPass ? args.m - i0 : kTokensPerPass);
    float acc[kTokensPerPass];
#pragma unroll
    for (int t = 0; t < kTokensPerPass; ++t) acc[t] = 0.0f;
    for (std::int64_t b = lane; b < nb; b += 32) {
      const std::uint8_t* blk = wrow + b * kBlockBytes;
      const float dw = half_at(blk);
      int w[8];  // the 32 weight codes as 8 x 4 int8
      [[maybe_unused]] float bias_w = 0.0f;  // multiplies s_a (Q4 types)
      if constexpr (kType == engine::DType::kQ8_0) {
#pragma unroll
        for (int c = 0; c < 8; ++c) w[c] = pack4(blk + 2 + 4 * c);
      } else {
        const std::uint8_t* qs = blk + (kType == engine::DType::kQ4_1 ? 4 : 2);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int raw = pack4(qs + 4 * c);
          w[c] = raw & 0x0f0f0f0f;          // values 4c .. 4c+3
          w[c + 4] = (raw >> 4) & 0x0f0f0f0f;  // values 16+4c ..
        }
        bias_w = kType == engine::DType::kQ4_1 ? half_at(blk + 2) : -8.0f * dw;
      }
#pragma unroll
      for (int t = 0; t < kTokensPerPass; ++t) {
        if (t >= mt) break;
        const std::int64_t i = i0 + t;
        const int* qa = reinterpret_cast<const int*>(q + i * args.k + b * 32);
        int dot = 0;
#pragma unroll
        for (int c = 0; c < 8; ++c) dot = __dp4a(w[c], qa[c], dot);
        const float da = d[i * nb + b];
        acc[t] += dw * da * static_cast<float>(dot);
        if constexpr (kType != engine::DType::kQ8_0) acc[t] += bias_w * s[i * nb + b];
      }
    }
#pragma unroll
    for (int t = 0; t < kTokensPerPass; ++t) {
      if (t >= mt) break;
      const float v = warp_sum(acc[t]);
      if (lane == 0) args.c[(i0 + t) * args.ldc + row] = v;
    }
  }
}

__global__ void zero_rows_kernel(float* c, std::int64_t ldc, std::int64_t m, std::int64_t n) {
  const std::int64_t total = m * n;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    c[(e / n) * ldc + e % n] = 0.0f;
  }
}

}  // namespace

std::size_t gemm_q4_scratch_bytes(std::int64_t m, std::int64_t k) {
  if (m <= 0 || k <= 0) return 0;
  const std::size_t nb = static_cast<std::size_t>(k / 32);
  return align256(static_cast<std::size_t>(m * k)) + 2 * align256(static_cast<std::size_t>(m) * nb * sizeof(float));
}

Status launch_gemm_q4(const GemmQ4Args& a, void* scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.k == 0) {
    zero_rows_kernel<<<grid_for(a.m * a.n, 256), 256, 0, stream>>>(a.c, a.ldc, a.m, a.n);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  }
  if (scratch == nullptr) return invalid_argument("gemm_q4: no scratch");
  if (a.n > 0x7fffffffLL * kWarpsPerBlock) return invalid_argument("gemm_q4: N too large");
  const std::size_t nb = static_cast<std::size_t>(a.k / 32);
  auto* base = static_cast<std::uint8_t*>(scratch);
  auto* q = reinterpret_cast<std::int8_t*>(base);
  auto* d = reinterpret_cast<float*>(base + align256(static_cast<std::size_t>(a.m * a.k)));
  auto* s = reinterpret_cast<float*>(reinterpret_cast<std::uint8_t*>(d) + align256(static_cast<std::size_t>(a.m) * nb * 4));
  const std::int64_t warps = a.m * static_cast<std::int64_t>(nb);
  quantize_blocks_kernel<<<grid_for(warps * 32, 256, 0x7fffffffu), 256, 0, stream>>>(a.a, a.lda, a.m, a.k, q, d, s);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  const unsigned grid = static_cast<unsigned>((a.n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  switch (a.b_type) {
    case engine::DType::kQ4_0:
      gemm_q4_kernel<engine::DType::kQ4_0><<<grid, 32 * kWarpsPerBlock, 0, stream>>>(a, q, d, s);
      break;
    case engine::DType::kQ4_1:
      gemm_q4_kernel<engine::DType::kQ4_1><<<grid, 32 * kWarpsPerBlock, 0, stream>>>(a, q, d, s);
      break;
    case engine::DType::kQ8_0:
      gemm_q4_kernel<engine::DType::kQ8_0><<<grid, 32 * kWarpsPerBlock, 0, stream>>>(a, q, d, s);
      break;
    default:
      return invalid_argument("gemm_q4: b_type must be q4_0, q4_1 or q8_0");
  }
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
