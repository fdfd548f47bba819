// CUDA gemm_q4 (see gemm_q4.h): pass 1 quantizes each token per 32 values exactly as the CPU does
// (d = absmax/127, q = rne(x * (1/d)), s = d * sum(q), and the half sums of Q6_K's per-16 scales);
// pass 2 gives each output channel one warp, lanes striding over the row's 32-value lanes (a
// legacy block, or a sub-block of a K-quant super-block), up to 8 tokens per pass in registers,
// dp4a dot products on the codes (unsigned 0..63, or Q8_0's signed bytes), then the lane's scale
// terms (Q4_0 -8 d s, Q5_0 -16 d s, Q4_1/Q5_1 m s, Q4_K/Q5_K -dmin mn s, Q6_K -32 d sc s per 16
// values) and a warp reduction, + bias. Products are exact; only the f32 summation order
// differs from the CPU. Depends on cuda_utils.cuh, gguf.cuh, gemm_q4.h.
#include <cstring>

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/gemm_q4.h"
#include "kernels/cuda/gguf.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kTokensPerPass = 8;
constexpr int kWarpsPerBlock = 4;

std::size_t align256(std::size_t b) { return (b + 255) / 256 * 256; }

// One warp per (token, 32-block): codes, d, d*sum, and d*sum of each half (values 0-15, 16-31).
__global__ void quantize_blocks_kernel(const float* a, std::int64_t lda, std::int64_t m, std::int64_t k,
                                       std::int8_t* q, float* d, float* s, float* sh) {
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
  // |sums| <= 32 * 127: exact in f32. Lanes 0-15 and 16-31 reduce separately first.
  float half = static_cast<float>(v);
  for (int o = 8; o > 0; o >>= 1) half += __shfl_xor_sync(0xffffffffu, half, o);
  const float other = __shfl_xor_sync(0xffffffffu, half, 16);
  if (lane == 0) {
    d[warp] = dd;
    s[warp] = __fmul_rn(dd, half + other);
    sh[2 * warp] = __fmul_rn(dd, half);
    sh[2 * warp + 1] = __fmul_rn(dd, other);
  }
}

__device__ __forceinline__ float half_at(const std::uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}

__device__ __forceinline__ int pack4(const std::uint8_t* p) {
  return static_cast<int>(static_cast<unsigned>(p[0]) | (static_cast<unsigned>(p[1]) << 8) |
                          (static_cast<unsigned>(p[2]) << 16) | (static_cast<unsigned>(p[3]) << 24));
}

// Bits 0..3 of `nib` -> bit 4 of bytes 0..3.
__device__ __forceinline__ int spread_bit4(unsigned nib) {
  return static_cast<int>(((nib & 1u) << 4) | ((nib & 2u) << 11) | ((nib & 4u) << 18) | ((nib & 8u) << 25));
}

// Lane b (values 32b..32b+31) of a GGUF row: codes w[c] = values 4c..4c+3 as bytes, the weight
// scale of values 0-15 / 16-31 (dw) and the factor of the activation sums (cw).
template <engine::DType kType>
__device__ __forceinline__ void load_lane(const std::uint8_t* wrow, std::int64_t b, int w[8], float dw[2], float cw[2]) {
  using engine::DType;
  if constexpr (kType == DType::kQ8_0) {
    const std::uint8_t* blk = wrow + b * 34;
#pragma unroll
    for (int c = 0; c < 8; ++c) w[c] = pack4(blk + 2 + 4 * c);
    dw[0] = dw[1] = half_at(blk);
    cw[0] = cw[1] = 0.0f;
  } else if constexpr (kType == DType::kQ4_0 || kType == DType::kQ4_1 || kType == DType::kQ5_0 ||
                       kType == DType::kQ5_1) {
    constexpr bool one = kType == DType::kQ4_1 || kType == DType::kQ5_1;
    constexpr bool five = kType == DType::kQ5_0 || kType == DType::kQ5_1;
    constexpr int bytes = five ? (one ? 24 : 22) : (one ? 20 : 18);
    const std::uint8_t* blk = wrow + b * bytes;
    const std::uint8_t* qs = blk + (one ? 4 : 2) + (five ? 4 : 0);
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int raw = pack4(qs + 4 * c);
      w[c] = raw & 0x0f0f0f0f;             // values 4c .. 4c+3
      w[c + 4] = (raw >> 4) & 0x0f0f0f0f;  // values 16+4c ..
    }
    if constexpr (five) {
      const unsigned qh = static_cast<unsigned>(pack4(blk + (one ? 4 : 2)));
#pragma unroll
      for (int c = 0; c < 8; ++c) w[c] |= spread_bit4((qh >> (4 * c)) & 15u);
    }
    const float d = half_at(blk);
    dw[0] = dw[1] = d;
    cw[0] = cw[1] = one ? half_at(blk + 2) : (five ? -16.0f : -8.0f) * d;
  } else if constexpr (kType == DType::kQ4_K || kType == DType::kQ5_K) {
    constexpr bool five = kType == DType::kQ5_K;
    const std::uint8_t* sb = wrow + (b / 8) * (five ? 176 : 144);
    const int j = static_cast<int>(b % 8);
    const std::uint8_t* qs = sb + (five ? 48 : 16) + 32 * (j / 2);
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      w[c] = (pack4(qs + 4 * c) >> (4 * (j % 2))) & 0x0f0f0f0f;
      if constexpr (five) w[c] |= ((pack4(sb + 16 + 4 * c) >> j) & 0x01010101) << 4;
    }
    int sc = 0, mn = 0;
    kquant_scale_min(sb + 4, j, sc, mn);
    dw[0] = dw[1] = half_at(sb) * static_cast<float>(sc);
    cw[0] = cw[1] = -(half_at(sb + 2) * static_cast<float>(mn));
  } else {  // Q6_K
    const std::uint8_t* sb = wrow + (b / 8) * 210;
    const int j = static_cast<int>(b % 8), h = j / 4;
    const std::uint8_t* ql = sb + 64 * h + 32 * (j % 2);
    const std::uint8_t* qh = sb + 128 + 32 * h;
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      w[c] = ((pack4(ql + 4 * c) >> (4 * ((j % 4) / 2))) & 0x0f0f0f0f) |
             (((pack4(qh + 4 * c) >> (2 * (j % 4))) & 0x03030303) << 4);
    }
    const float d = half_at(sb + 208);
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
      dw[hh] = d * static_cast<float>(static_cast<std::int8_t>(sb[192 + 2 * j + hh]));
      cw[hh] = -32.0f * dw[hh];
    }
  }
}

template <engine::DType kType>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    gemm_q4_kernel(GemmQ4Args args, const std::int8_t* q, const float* d, const float* s, const float* sh) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= args.n) return;
  const std::int64_t nb = args.k / 32;
  const auto* wrow = static_cast<const std::uint8_t*>(args.b) + row * engine::row_bytes(kType, args.k);
  constexpr bool halves = kType == engine::DType::kQ6_K;
  for (std::int64_t i0 = 0; i0 < args.m; i0 += kTokensPerPass) {
    const int mt = static_cast<int>(args.m - i0 < kTokensPerPass ? args.m - i0 : kTokensPerPass);
    float acc[kTokensPerPass];
#pragma unroll
    for (int t = 0; t < kTokensPerPass; ++t) acc[t] = 0.0f;
    for (std::int64_t b = lane; b < nb; b += 32) {
      int w[8];
      float dw[2], cw[2];
      load_lane<kType>(wrow, b, w, dw, cw);
#pragma unroll
      for (int t = 0; t < kTokensPerPass; ++t) {
        if (t >= mt) break;
        const std::int64_t i = i0 + t;
        const int* qa = reinterpret_cast<const int*>(q + i * args.k + b * 32);
        int dot0 = 0, dot1 = 0;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          dot0 = __dp4a(w[c], qa[c], dot0);
          dot1 = __dp4a(w[c + 4], qa[c + 4], dot1);
        }
        const float da = d[i * nb + b];
        if constexpr (halves) {
          acc[t] += da * (dw[0] * static_cast<float>(dot0) + dw[1] * static_cast<float>(dot1));
          acc[t] += cw[0] * sh[2 * (i * nb + b)] + cw[1] * sh[2 * (i * nb + b) + 1];
        } else {
          acc[t] += dw[0] * da * static_cast<float>(dot0 + dot1);
          if constexpr (kType != engine::DType::kQ8_0) acc[t] += cw[0] * s[i * nb + b];
        }
      }
    }
#pragma unroll
    for (int t = 0; t < kTokensPerPass; ++t) {
      if (t >= mt) break;
      const float v = warp_sum(acc[t]);
      if (lane == 0) args.c[(i0 + t) * args.ldc + row] = v + (args.bias != nullptr ? args.bias[row] : 0.0f);
    }
  }
}

__global__ void fill_rows_kernel(float* c, std::int64_t ldc, std::int64_t m, std::int64_t n, const float* bias) {
  const std::int64_t total = m * n;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    c[(e / n) * ldc + e % n] = bias != nullptr ? bias[e % n] : 0.0f;
  }
}

}  // namespace

std::size_t gemm_q4_scratch_bytes(std::int64_t m, std::int64_t k) {
  if (m <= 0 || k <= 0) return 0;
  const std::size_t nb = static_cast<std::size_t>(k / 32);
  return align256(static_cast<std::size_t>(m * k)) + 4 * align256(static_cast<std::size_t>(m) * nb * sizeof(float));
}

Status launch_gemm_q4(const GemmQ4Args& a, void* scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.k == 0) {
    fill_rows_kernel<<<grid_for(a.m * a.n, 256), 256, 0, stream>>>(a.c, a.ldc, a.m, a.n, a.bias);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  }
  if (scratch == nullptr) return invalid_argument("gemm_q4: no scratch");
  if (a.n > 0x7fffffffLL * kWarpsPerBlock) return invalid_argument("gemm_q4: N too large");
  const std::size_t nb = static_cast<std::size_t>(a.k / 32);
  const std::size_t fbytes = align256(static_cast<std::size_t>(a.m) * nb * 4);
  auto* base = static_cast<std::uint8_t*>(scratch);
  auto* q = reinterpret_cast<std::int8_t*>(base);
  auto* d = reinterpret_cast<float*>(base + align256(static_cast<std::size_t>(a.m * a.k)));
  auto* s = reinterpret_cast<float*>(reinterpret_cast<std::uint8_t*>(d) + fbytes);
  auto* sh = reinterpret_cast<float*>(reinterpret_cast<std::uint8_t*>(s) + fbytes);  // 2 per block
  const std::int64_t warps = a.m * static_cast<std::int64_t>(nb);
  quantize_blocks_kernel<<<grid_for(warps * 32, 256, 0x7fffffffu), 256, 0, stream>>>(a.a, a.lda, a.m, a.k, q, d, s, sh);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  const unsigned grid = static_cast<unsigned>((a.n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  constexpr unsigned kThreads = 32 * kWarpsPerBlock;
  switch (a.b_type) {
    case engine::DType::kQ4_0: gemm_q4_kernel<engine::DType::kQ4_0><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ4_1: gemm_q4_kernel<engine::DType::kQ4_1><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ8_0: gemm_q4_kernel<engine::DType::kQ8_0><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ5_0: gemm_q4_kernel<engine::DType::kQ5_0><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ5_1: gemm_q4_kernel<engine::DType::kQ5_1><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ4_K: gemm_q4_kernel<engine::DType::kQ4_K><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ5_K: gemm_q4_kernel<engine::DType::kQ5_K><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    case engine::DType::kQ6_K: gemm_q4_kernel<engine::DType::kQ6_K><<<grid, kThreads, 0, stream>>>(a, q, d, s, sh); break;
    default: return invalid_argument("gemm_q4: unsupported b_type");
  }
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
