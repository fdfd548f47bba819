// Dequantize epilogue and fallback SIMT INT8 GEMM.
// Why: see int8_gemm.h. Bounds: every global access is guarded by (row < M, col < N, k < K).
// Depends on epilogue.cuh, cuda_check.h.
#include "kernels/cuda/int8_gemm.h"

#include "kernels/cuda/epilogue.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

__global__ void dequant_kernel(const std::int32_t* __restrict__ acc, std::int64_t m,
                               std::int64_t n, std::int64_t ld_acc, DequantEpilogue e,
                               std::int64_t ldo) {
  const std::int64_t total = m * n;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / n;
    const std::int64_t c = i - r * n;
    epilogue_store(e, ldo, r, c, acc[r * ld_acc + c]);
  }
}

constexpr int kTile = 32;
constexpr int kTileK = 32;

// One 32x32 output tile per block of 32x8 threads, each thread 4 outputs; K staged through
// shared memory in 32-wide slices, zero-filled past the edges.
__global__ void int8_gemm_simt_kernel(const std::int8_t* __restrict__ x,
                                      const std::int8_t* __restrict__ w,
                                      std::int32_t* __restrict__ acc, std::int64_t m,
                                      std::int64_t n, std::int64_t k, std::int64_t ldx,
                                      std::int64_t ldw, std::int64_t ld_acc) {
  __shared__ std::int32_t xs[kTile][kTileK + 1];
  __shared__ std::int32_t ws[kTile][kTileK + 1];
  const int tx = threadIdx.x;  // 0..31: column within the tile (n)
  const int ty = threadIdx.y;  // 0..7
  const std::int64_t row0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
  const std::int64_t col0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  std::int32_t sum[4] = {0, 0, 0, 0};
  for (std::int64_t k0 = 0; k0 < k; k0 += kTileK) {
    for (int r = ty; r < kTile; r += 8) {
      const std::int64_t xr = row0 + r, wr = col0 + r, kk = k0 + tx;
      xs[r][tx] = (xr < m && kk < k) ? static_cast<std::int32_t>(x[xr * ldx + kk]) : 0;
      ws[r][tx] = (wr < n && kk < k) ? static_cast<std::int32_t>(w[wr * ldw + kk]) : 0;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kTileK; ++kk) {
      const std::int32_t wv = ws[tx][kk];
#pragma unroll
      for (int i = 0; i < 4; ++i) sum[i] += xs[ty + 8 * i][kk] * wv;
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const std::int64_t r = row0 + ty + 8 * i, c = col0 + tx;
    if (r < m && c < n) acc[r * ld_acc + c] = sum[i];
  }
}

}  // namespace

Status launch_int8_dequant(const std::int32_t* acc, std::int64_t m, std::int64_t n,
                           std::int64_t ld_acc, const DequantEpilogue& e, cudaStream_t stream) {
  if (m < 0 || n < 0) return invalid_argument("dequant: negative shape");
  if (m == 0 || n == 0) return Status::ok();
  if (acc == nullptr || e.out == nullptr) return invalid_argument("dequant: null pointer");
  const std::int64_t lda = ld_acc == 0 ? n : ld_acc;
  const std::int64_t ldo = e.ldo == 0 ? n : e.ldo;
  if (lda < n || ldo < n) return invalid_argument("dequant: row stride shorter than the row");
  constexpr int kThreads = 256;
  dequant_kernel<<<grid_for(m * n, kThreads), kThreads, 0, stream>>>(acc, m, n, lda, e, ldo);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_int8_gemm_simt(const std::int8_t* x, const std::int8_t* w, std::int32_t* acc,
                             std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t ldx,
                             std::int64_t ldw, std::int64_t ld_acc, cudaStream_t stream) {
  if (m < 0 || n < 0 || k < 0) return invalid_argument("int8 gemm: negative shape");
  if (m == 0 || n == 0) return Status::ok();
  const std::int64_t lx = ldx == 0 ? k : ldx, lw = ldw == 0 ? k : ldw, la = ld_acc == 0 ? n : ld_acc;
  if (lx < k || lw < k || la < n) return invalid_argument("int8 gemm: row stride shorter than the row");
  if (x == nullptr || w == nullptr || acc == nullptr) return invalid_argument("int8 gemm: null pointer");
  const std::int64_t gx = (n + kTile - 1) / kTile, gy = (m + kTile - 1) / kTile;
  if (gx > 0x7fffffff || gy > 65535) return invalid_argument("int8 gemm: shape too large for the grid");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  int8_gemm_simt_kernel<<<grid, dim3(32, 8), 0, stream>>>(x, w, acc, m, n, k, lx, lw, la);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
