// CUDA training ops (see train.h and kernels/ops/train.h for the math). Layouts and reductions:
//  - LayerNorm backward: per-row statistics first, then dgamma/dbeta as fixed column partial sums
//    (row chunks summed in chunk order: deterministic), then dx one block per row. dgamma/dbeta
//    read dy before dx is written, so dx may alias dy as the contract allows.
//  - Attention backward: one block per (query row, head, sequence) recomputes that row's
//    probabilities in shared memory; dq is written directly, dk/dv are summed over query rows
//    with atomicAdd (their order varies: results agree with the CPU to rounding, not bitwise).
//  - Embedding backward: scatter-add with atomicAdd (repeated ids accumulate).
//  - Cross-entropy: one block per row. AdamW: element-wise with host-side bias corrections.
// Depends on cuda_utils.cuh, train.h.
#include <cmath>
#include <limits>
#include <string>

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/train.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/train_math.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned long long kNone = ~0ull;
// LayerNorm backward: rows per chunk of the dgamma/dbeta partial sums, and at most this many chunks.
constexpr std::int64_t kNormChunkRows = 64;
constexpr std::int64_t kNormMaxChunks = 64;

std::int64_t norm_chunks(std::int64_t rows) {
  const std::int64_t c = (rows + kNormChunkRows - 1) / kNormChunkRows;
  return c < 1 ? 1 : c > kNormMaxChunks ? kNormMaxChunks : c;
}

// ---- device-side value checks: the smallest offending index, or kNone.
__global__ void first_id_outside(const std::int32_t* v, std::int64_t n, long long lo, long long hi,
                                 unsigned long long* first) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const long long x = v[i];
    if (x < lo || x >= hi) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

__global__ void first_bad_length(const std::int32_t* offsets, std::int64_t sequences, std::int64_t max_len,
                                 unsigned long long* first) {
  for (std::int64_t s = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; s < sequences;
       s += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t len = static_cast<std::int64_t>(offsets[s + 1]) - offsets[s];
    if (len < 0 || len > max_len) atomicMin(first, static_cast<unsigned long long>(s));
  }
}

// Runs `launch(first)` (a check kernel writing the smallest bad index to *first) and waits for
// the answer: -1 when every value is fine.
template <typename Launch>
Result<std::int64_t> first_bad(void* scratch, cudaStream_t stream, Launch&& launch) {
  if (scratch == nullptr) return invalid_argument("training op: no scratch for the device-side checks");
  auto* first = static_cast<unsigned long long*>(scratch);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(first, 0xff, sizeof(unsigned long long), stream));
  launch(first);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  unsigned long long host = kNone;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&host, first, sizeof host, cudaMemcpyDeviceToHost, stream));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  return host == kNone ? std::int64_t{-1} : static_cast<std::int64_t>(host);
}

Result<std::int32_t> read_int(const std::int32_t* p, cudaStream_t stream) {
  std::int32_t v = 0;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&v, p, sizeof v, cudaMemcpyDeviceToHost, stream));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  return v;
}

// ---- LayerNorm backward
__global__ void __launch_bounds__(kThreads)
    norm_stats_kernel(std::int64_t cols, const float* h, std::int64_t ldh, float eps, float* stats) {
  __shared__ float scratch[32];
  const std::int64_t row = blockIdx.x;
  const float* hr = h + row * ldh;
  float s = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) s += hr[c];
  const float mean = block_sum(s, scratch) / static_cast<float>(cols);
  float ss = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float d = hr[c] - mean;
    ss += d * d;
  }
  ss = block_sum(ss, scratch);
  if (threadIdx.x == 0) {
    stats[2 * row] = mean;
    stats[2 * row + 1] = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  }
}

// Block (32, 8): column blockIdx.x*32 + x, rows of chunk blockIdx.y strided by 8.
__global__ void norm_param_partials(std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows, const float* h,
                                    std::int64_t ldh, const float* dy, std::int64_t lddy, const float* stats,
                                    float* partial) {
  __shared__ float sg[8][33], sb[8][33];
  const std::int64_t j = blockIdx.x * 32 + threadIdx.x;
  const std::int64_t r0 = blockIdx.y * chunk_rows;
  const std::int64_t r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
  float g = 0.0f, b = 0.0f;
  if (j < cols) {
    for (std::int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const float xh = (h[r * ldh + j] - stats[2 * r]) * stats[2 * r + 1];
      const float d = dy[r * lddy + j];
      g += d * xh;
      b += d;
    }
  }
  sg[threadIdx.y][threadIdx.x] = g;
  sb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    float tg = 0.0f, tb = 0.0f;
    for (int y = 0; y < 8; ++y) {
      tg += sg[y][threadIdx.x];
      tb += sb[y][threadIdx.x];
    }
    float* p = partial + blockIdx.y * 2 * cols;
    p[j] = tg;
    p[cols + j] = tb;
  }
}

__global__ void norm_param_sum(std::int64_t cols, std::int64_t chunks, const float* partial, float* dgamma,
                               float* dbeta) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j >= cols) return;
  float g = 0.0f, b = 0.0f;
  for (std::int64_t c = 0; c < chunks; ++c) {
    g += partial[c * 2 * cols + j];
    b += partial[c * 2 * cols + cols + j];
  }
  if (dgamma != nullptr) dgamma[j] = g;
  if (dbeta != nullptr) dbeta[j] = b;
}

__global__ void __launch_bounds__(kThreads)
    norm_dx_kernel(std::int64_t cols, const float* h, std::int64_t ldh, const float* dy, std::int64_t lddy,
                   const float* gamma, const float* stats, float* dx, std::int64_t lddx, float dx_beta) {
  __shared__ float scratch[32];
  const std::int64_t row = blockIdx.x;
  const float* hr = h + row * ldh;
  const float* dyr = dy + row * lddy;
  float* dxr = dx + row * lddx;
  const float mean = stats[2 * row], rstd = stats[2 * row + 1];
  float mg = 0.0f, mgx = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float g = dyr[c] * (gamma != nullptr ? gamma[c] : 1.0f);
    mg += g;
    mgx += g * (hr[c] - mean) * rstd;
  }
  mg = block_sum(mg, scratch) / static_cast<float>(cols);
  mgx = block_sum(mgx, scratch) / static_cast<float>(cols);
  for (std::int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float xh = (hr[c] - mean) * rstd;
    const float g = dyr[c] * (gamma != nullptr ? gamma[c] : 1.0f);
    const float v = rstd * (g - mg - xh * mgx);
    dxr[c] = dx_beta == 0.0f ? v : dx_beta * dxr[c] + v;
  }
}

__global__ void activation_backward_kernel(ActivationBackwardArgs a) {
  const std::int64_t total = a.rows * a.cols;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = i / a.cols, c = i - r * a.cols;
    a.dx[r * a.lddx + c] = a.dy[r * a.lddy + c] * train_math::activation_grad(a.activation, a.x[r * a.ldx + c]);
  }
}

// ---- attention backward
// dk and dv of every listed row start at 0 (they are sums over query rows).
__global__ void attention_zero_kv(AttentionBackwardArgs a) {
  const std::int64_t s = blockIdx.x;
  const std::int64_t hd = a.num_heads * a.head_dim;
  const std::int64_t row0 = a.offsets[s], len = a.offsets[s + 1] - row0;
  const std::int64_t total = len * 2 * hd;
  for (std::int64_t i = threadIdx.x; i < total; i += blockDim.x) {
    const std::int64_t r = i / (2 * hd), c = i - r * 2 * hd;
    a.dqkv[(row0 + r) * a.ld_dqkv + hd + c] = 0.0f;
  }
}

constexpr int kAttnThreads = 128;

// Grid (query row i, head, sequence); dynamic shared memory: p[max_len] | ds[max_len] | q_i[d] | do_i[d].
__global__ void __launch_bounds__(kAttnThreads) attention_backward_kernel(AttentionBackwardArgs a, float scale) {
  extern __shared__ float smem[];
  __shared__ float red[32];
  const std::int64_t s = blockIdx.z, head = blockIdx.y, i = blockIdx.x;
  const std::int64_t row0 = a.offsets[s], len = a.offsets[s + 1] - row0;
  if (i >= len) return;  // uniform over the block
  const std::int64_t d = a.head_dim, hd = a.num_heads * d;
  float* p = smem;
  float* ds = p + a.max_len;
  float* qi = ds + a.max_len;
  float* goi = qi + d;
  const float* qrow = a.qkv + (row0 + i) * a.ld_qkv + head * d;
  const float* grow = a.dout + (row0 + i) * a.ld_dout + head * d;
  for (std::int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    qi[c] = qrow[c];
    goi[c] = grow[c];
  }
  __syncthreads();
  auto krow = [&](std::int64_t j) { return a.qkv + (row0 + j) * a.ld_qkv + hd + head * d; };
  auto vrow = [&](std::int64_t j) { return a.qkv + (row0 + j) * a.ld_qkv + 2 * hd + head * d; };
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    const float* k = krow(j);
    float dot = 0.0f;
    for (std::int64_t c = 0; c < d; ++c) dot += qi[c] * k[c];
    p[j] = dot * scale + (a.rel_bias != nullptr ? relative_bias(a.rel_bias, a.rel_bias_radius, head, i, j) : 0.0f);
    mx = fmaxf(mx, p[j]);
  }
  mx = block_max(mx, red);
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    p[j] = expf(p[j] - mx);
    sum += p[j];
  }
  const float inv = 1.0f / block_sum(sum, red);
  float rs = 0.0f;
  for (std::int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    p[j] *= inv;
    const float* v = vrow(j);
    float dot = 0.0f;
    for (std::int64_t c = 0; c < d; ++c) dot += goi[c] * v[c];
    ds[j] = dot;
    rs += dot * p[j];
  }
  rs = block_sum(rs, red);
  for (std::int64_t j = threadIdx.x; j < len; j += blockDim.x) ds[j] = p[j] * (ds[j] - rs) * scale;
  __syncthreads();
  float* dq = a.dqkv + (row0 + i) * a.ld_dqkv + head * d;
  for (std::int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float acc = 0.0f;
    for (std::int64_t j = 0; j < len; ++j) acc += ds[j] * krow(j)[c];
    dq[c] = acc;
  }
  for (std::int64_t e = threadIdx.x; e < len * d; e += blockDim.x) {
    const std::int64_t j = e / d, c = e - j * d;
    float* drow = a.dqkv + (row0 + j) * a.ld_dqkv + head * d;
    atomicAdd(drow + hd + c, ds[j] * qi[c]);
    atomicAdd(drow + 2 * hd + c, p[j] * goi[c]);
  }
}

// ---- embedding backward
__global__ void embedding_backward_kernel(EmbeddingBackwardArgs a) {
  const std::int64_t total = a.num_tokens * a.dim;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = i / a.dim, c = i - t * a.dim;
    atomicAdd(a.grad + static_cast<std::int64_t>(a.ids[t]) * a.ld_grad + c, a.dy[t * a.lddy + c]);
  }
}

// ---- cross-entropy: one block per row.
constexpr int kCeThreads = 128;

__global__ void __launch_bounds__(kCeThreads) cross_entropy_kernel(CrossEntropyArgs a) {
  __shared__ float red[32];
  const std::int64_t r = blockIdx.x;
  const float* x = a.logits + r * a.ld_logits;
  float* dx = a.dlogits + r * a.ld_dlogits;
  const std::int64_t c = a.classes;
  const std::int32_t y = a.labels[r];
  if (y < 0) {
    for (std::int64_t j = threadIdx.x; j < c; j += blockDim.x) dx[j] = 0.0f;
    if (a.loss != nullptr && threadIdx.x == 0) a.loss[r] = 0.0f;
    return;
  }
  const float e = a.label_smoothing;
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < c; j += blockDim.x) mx = fmaxf(mx, x[j]);
  mx = block_max(mx, red);
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += expf(x[j] - mx);
  sum = block_sum(sum, red);
  const float lse = mx + logf(sum);
  float loss = 0.0f;
  for (std::int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float target = (j == y ? 1.0f - e : 0.0f) + e / static_cast<float>(c);
    if (target > 0.0f) loss -= target * (x[j] - lse);
  }
  loss = block_sum(loss, red);  // every read of x for the loss is done before dx is written
  for (std::int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float target = (j == y ? 1.0f - e : 0.0f) + e / static_cast<float>(c);
    const float pj = expf(x[j] - mx) / sum;
    dx[j] = a.scale * (pj - target);
  }
  if (a.loss != nullptr && threadIdx.x == 0) a.loss[r] = loss;
}

// ---- AdamW
__global__ void adamw_kernel(AdamWArgs a, train_math::AdamWCorrections c) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < a.n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    train_math::adamw_element(a, c, i);
  }
}

}  // namespace

std::size_t norm_backward_scratch_bytes(const NormBackwardArgs& a) {
  if (a.rows <= 0 || a.cols <= 0) return 0;
  const std::int64_t floats = 2 * a.rows + norm_chunks(a.rows) * 2 * a.cols;
  return static_cast<std::size_t>(floats) * sizeof(float);
}

Status launch_norm_backward(const NormBackwardArgs& a, void* scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  if (a.rows > 0x7fffffff) return invalid_argument("norm_backward: too many rows for one launch");
  if (scratch == nullptr) return invalid_argument("norm_backward: no scratch");
  auto* stats = static_cast<float*>(scratch);
  norm_stats_kernel<<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(a.cols, a.h, a.ldh, a.eps, stats);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  if (a.dgamma != nullptr || a.dbeta != nullptr) {
    const std::int64_t chunks = norm_chunks(a.rows);
    const std::int64_t chunk_rows = (a.rows + chunks - 1) / chunks;
    float* partial = stats + 2 * a.rows;
    const dim3 grid(static_cast<unsigned>((a.cols + 31) / 32), static_cast<unsigned>(chunks));
    norm_param_partials<<<grid, dim3(32, 8), 0, stream>>>(a.rows, a.cols, chunk_rows, a.h, a.ldh, a.dy, a.lddy,
                                                          stats, partial);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    norm_param_sum<<<grid_for(a.cols, kThreads), kThreads, 0, stream>>>(a.cols, chunks, partial, a.dgamma, a.dbeta);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  }
  norm_dx_kernel<<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(a.cols, a.h, a.ldh, a.dy, a.lddy, a.gamma,
                                                                        stats, a.dx, a.lddx, a.dx_beta);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_activation_backward(const ActivationBackwardArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  activation_backward_kernel<<<grid_for(a.rows * a.cols, kThreads), kThreads, 0, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_attention_backward(const AttentionBackwardArgs& a, void* check_scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.sequences == 0 || a.max_len == 0) return Status::ok();
  if (a.sequences > 65535 || a.num_heads > 65535 || a.max_len > 0x7fffffff) {
    return invalid_argument("attention_backward: more than 65535 sequences or heads in one launch");
  }
  const std::size_t smem = static_cast<std::size_t>(2 * a.max_len + 2 * a.head_dim) * sizeof(float);
  if (smem > 48 * 1024) {
    return invalid_argument("attention_backward: max_len " + std::to_string(a.max_len) +
                            " needs more shared memory than one block has (48 KiB)");
  }
  PARLEY_ASSIGN_OR_RETURN(const std::int64_t bad, first_bad(check_scratch, stream, [&](unsigned long long* first) {
                            first_bad_length<<<grid_for(a.sequences, kThreads), kThreads, 0, stream>>>(
                                a.offsets, a.sequences, a.max_len, first);
                          }));
  if (bad >= 0) {
    PARLEY_ASSIGN_OR_RETURN(const std::int32_t begin, read_int(a.offsets + bad, stream));
    PARLEY_ASSIGN_OR_RETURN(const std::int32_t end, read_int(a.offsets + bad + 1, stream));
    return invalid_argument("attention_backward: sequence " + std::to_string(bad) + " has length " +
                            std::to_string(static_cast<std::int64_t>(end) - begin) + " (max_len " +
                            std::to_string(a.max_len) + ")");
  }
  const float scale = a.scale != 0.0f ? a.scale : 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  attention_zero_kv<<<static_cast<unsigned>(a.sequences), kThreads, 0, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  const dim3 grid(static_cast<unsigned>(a.max_len), static_cast<unsigned>(a.num_heads),
                  static_cast<unsigned>(a.sequences));
  attention_backward_kernel<<<grid, kAttnThreads, smem, stream>>>(a, scale);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_embedding_backward(const EmbeddingBackwardArgs& a, void* check_scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate_sizes(a));
  if (a.dim == 0) return Status::ok();
  if (a.num_tokens > 0) {
    PARLEY_ASSIGN_OR_RETURN(const std::int64_t bad, first_bad(check_scratch, stream, [&](unsigned long long* first) {
                              first_id_outside<<<grid_for(a.num_tokens, kThreads), kThreads, 0, stream>>>(
                                  a.ids, a.num_tokens, 0, a.rows, first);
                            }));
    if (bad >= 0) {
      PARLEY_ASSIGN_OR_RETURN(const std::int32_t id, read_int(a.ids + bad, stream));
      return invalid_argument("embedding_backward: id " + std::to_string(id) + " of token " + std::to_string(bad) +
                              " is outside [0, " + std::to_string(a.rows) + ")");
    }
  }
  if (a.zero_grad && a.rows > 0) {
    PARLEY_CUDA_RETURN_IF_ERROR(cudaMemset2DAsync(a.grad, static_cast<std::size_t>(a.ld_grad) * sizeof(float), 0,
                                                  static_cast<std::size_t>(a.dim) * sizeof(float),
                                                  static_cast<std::size_t>(a.rows), stream));
  }
  if (a.num_tokens == 0) return Status::ok();
  embedding_backward_kernel<<<grid_for(a.num_tokens * a.dim, kThreads), kThreads, 0, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_cross_entropy(const CrossEntropyArgs& a, void* check_scratch, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate_sizes(a));
  if (a.rows == 0) return Status::ok();
  if (a.rows > 0x7fffffff) return invalid_argument("cross_entropy: too many rows for one launch");
  PARLEY_ASSIGN_OR_RETURN(const std::int64_t bad, first_bad(check_scratch, stream, [&](unsigned long long* first) {
                            first_id_outside<<<grid_for(a.rows, kThreads), kThreads, 0, stream>>>(
                                a.labels, a.rows, std::numeric_limits<long long>::min(), a.classes, first);
                          }));
  if (bad >= 0) {
    PARLEY_ASSIGN_OR_RETURN(const std::int32_t label, read_int(a.labels + bad, stream));
    return invalid_argument("cross_entropy: label " + std::to_string(label) + " of row " + std::to_string(bad) +
                            " >= classes");
  }
  cross_entropy_kernel<<<static_cast<unsigned>(a.rows), kCeThreads, 0, stream>>>(a);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_adamw(const AdamWArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.n == 0) return Status::ok();
  adamw_kernel<<<grid_for(a.n, kThreads), kThreads, 0, stream>>>(a, train_math::adamw_corrections(a));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
