// Attention kernels. Prefill: one warp per (batch, query, head), keys streamed with an online
// softmax (running max m, running sum l, accumulator of head_dim/32 values per lane). Decode: a
// block of 4 warps per (sequence, head), each warp a strided quarter of the keys, merged in
// shared memory. Page ids outside [0, num_pages) and context lengths past the block table are
// skipped/clamped, so a bad table cannot read out of bounds.
// Depends on cuda_utils.cuh, attention.h.
#include "kernels/cuda/attention.h"
#include "kernels/cuda/cuda_utils.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kPerLane = static_cast<int>(kMaxAttentionHeadDim / 32);

struct Online {
  float m = -INFINITY;
  float l = 0.0f;
  float acc[kPerLane] = {};
};

template <typename T>
__device__ __forceinline__ void online_step(Online& st, const float (&q)[kPerLane], const T* k,
                                            const T* v, int head_dim, float scale, float bias = 0.0f) {
  const int lane = threadIdx.x & 31;
  float dot = 0.0f;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < head_dim) dot += q[i] * to_f32(k[d]);
  }
  const float s = warp_sum(dot) * scale + bias;
  const float m_new = fmaxf(st.m, s);
  const float corr = expf(st.m - m_new);  // exp(-inf) = 0 on the first key
  const float p = expf(s - m_new);
  st.l = st.l * corr + p;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    st.acc[i] = st.acc[i] * corr + (d < head_dim ? p * to_f32(v[d]) : 0.0f);
  }
  st.m = m_new;
}

template <typename T>
__global__ void prefill_kernel(AttentionPrefillArgs a, float scale, std::int64_t rows) {
  const std::int64_t warp_global = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) >> 5;
  if (warp_global >= rows) return;  // whole warp exits together
  const int lane = threadIdx.x & 31;
  const std::int64_t h = warp_global % a.num_heads;
  const std::int64_t i = (warp_global / a.num_heads) % a.q_len;
  const std::int64_t b = warp_global / (a.num_heads * a.q_len);
  const std::int64_t g = h / (a.num_heads / a.num_kv_heads);
  const int hd = static_cast<int>(a.head_dim);
  const T* q = static_cast<const T*>(a.q) + b * a.q_batch_stride + i * a.q_token_stride + h * a.q_head_stride;
  float qv[kPerLane];
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int d = lane + 32 * t;
    qv[t] = d < hd ? to_f32(q[d]) : 0.0f;
  }
  std::int64_t valid = a.kv_len;
  if (a.kv_lengths != nullptr) valid = min(valid, static_cast<std::int64_t>(a.kv_lengths[b]));
  std::int64_t end = valid;
  if (a.causal) end = min(end, i + (a.kv_len - a.q_len) + 1);
  Online st;
  const T* kb = static_cast<const T*>(a.k) + b * a.k_batch_stride + g * a.k_head_stride;
  const T* vb = static_cast<const T*>(a.v) + b * a.v_batch_stride + g * a.v_head_stride;
  const std::int64_t pi = i + (a.kv_len - a.q_len);
  for (std::int64_t j = 0; j < end; ++j) {
    const float bias = a.rel_bias != nullptr ? relative_bias(a.rel_bias, a.rel_bias_radius, h, pi, j) : 0.0f;
    online_step(st, qv, kb + j * a.k_token_stride, vb + j * a.v_token_stride, hd, scale, bias);
  }
  T* out = static_cast<T*>(a.out) + b * a.out_batch_stride + i * a.out_token_stride + h * a.out_head_stride;
  const float inv = st.l > 0.0f ? 1.0f / st.l : 0.0f;
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int d = lane + 32 * t;
    if (d < hd) out[d] = from_f32<T>(st.acc[t] * inv);
  }
}

constexpr int kDecodeWarps = 4;

template <typename T>
__global__ void __launch_bounds__(32 * kDecodeWarps) decode_kernel(AttentionDecodeArgs a, float scale) {
  __shared__ float sm_m[kDecodeWarps];
  __shared__ float sm_l[kDecodeWarps];
  __shared__ float sm_acc[kDecodeWarps][kMaxAttentionHeadDim];
  const std::int64_t s = blockIdx.x / a.num_heads;
  const std::int64_t h = blockIdx.x % a.num_heads;
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const PagedKvCache& c = a.cache;
  const std::int64_t g = h / (a.num_heads / c.num_kv_heads);
  const int hd = static_cast<int>(c.head_dim);
  const T* q = static_cast<const T*>(a.q) + s * a.q_seq_stride + h * a.q_head_stride;
  float qv[kPerLane];
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int d = lane + 32 * t;
    qv[t] = d < hd ? to_f32(q[d]) : 0.0f;
  }
  std::int64_t len = a.context_lens[s];
  len = max(static_cast<std::int64_t>(0), min(len, a.max_blocks_per_seq * c.page_size));
  const std::int32_t* table = a.block_tables + s * a.max_blocks_per_seq;
  const T* kc = static_cast<const T*>(c.k);
  const T* vc = static_cast<const T*>(c.v);
  Online st;
  for (std::int64_t p = warp; p < len; p += kDecodeWarps) {
    const std::int64_t page = table[p / c.page_size];
    if (page < 0 || page >= c.num_pages) continue;
    const std::int64_t off = ((page * c.num_kv_heads + g) * c.page_size + p % c.page_size) * c.head_dim;
    online_step(st, qv, kc + off, vc + off, hd, scale);
  }
  if (lane == 0) {
    sm_m[warp] = st.m;
    sm_l[warp] = st.l;
  }
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int d = lane + 32 * t;
    if (d < hd) sm_acc[warp][d] = st.acc[t];
  }
  __syncthreads();
  if (warp != 0) return;
  float m = -INFINITY;
  for (int w = 0; w < kDecodeWarps; ++w) m = fmaxf(m, sm_m[w]);
  float l = 0.0f;
  float f[kDecodeWarps];
  for (int w = 0; w < kDecodeWarps; ++w) {
    f[w] = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - m);
    l += sm_l[w] * f[w];
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  T* out = static_cast<T*>(a.out) + s * a.out_seq_stride + h * a.out_head_stride;
  for (int d = lane; d < hd; d += 32) {
    float v = 0.0f;
    for (int w = 0; w < kDecodeWarps; ++w) v += sm_acc[w][d] * f[w];
    out[d] = from_f32<T>(v * inv);
  }
}

template <typename T>
__global__ void kv_write_kernel(KvCacheWriteArgs a) {
  const PagedKvCache& c = a.cache;
  const std::int64_t total = a.tokens * c.num_kv_heads * c.head_dim;
  const std::int64_t slots = c.num_pages * c.page_size;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t d = i % c.head_dim;
    const std::int64_t g = (i / c.head_dim) % c.num_kv_heads;
    const std::int64_t t = i / (c.head_dim * c.num_kv_heads);
    const std::int64_t slot = a.slot_mapping[t];
    if (slot < 0 || slot >= slots) continue;
    const std::int64_t page = slot / c.page_size, off = slot % c.page_size;
    const std::int64_t dst = ((page * c.num_kv_heads + g) * c.page_size + off) * c.head_dim + d;
    static_cast<T*>(c.k)[dst] = static_cast<const T*>(a.k)[t * a.k_token_stride + g * a.k_head_stride + d];
    static_cast<T*>(c.v)[dst] = static_cast<const T*>(a.v)[t * a.v_token_stride + g * a.v_head_stride + d];
  }
}

}  // namespace

Status launch_attention_prefill(const AttentionPrefillArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.head_dim > kMaxAttentionHeadDim) return unimplemented("CUDA attention: head_dim > 256");
  const std::int64_t rows = a.batch * a.q_len * a.num_heads;
  if (rows == 0 || a.head_dim == 0) return Status::ok();
  const float scale = a.scale == 0.0f ? 1.0f / sqrtf(static_cast<float>(a.head_dim)) : a.scale;
  constexpr int kThreads = 128;  // 4 warps = 4 query rows per block
  const std::int64_t blocks = (rows * 32 + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return invalid_argument("CUDA attention: too many rows");
  return dispatch_float(a.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    prefill_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a, scale, rows);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

Status launch_attention_decode(const AttentionDecodeArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.cache.head_dim > kMaxAttentionHeadDim) return unimplemented("CUDA attention: head_dim > 256");
  const std::int64_t blocks = a.batch * a.num_heads;
  if (blocks == 0 || a.cache.head_dim == 0) return Status::ok();
  if (blocks > 0x7fffffff) return invalid_argument("CUDA attention decode: too many (sequence, head) pairs");
  const float scale = a.scale == 0.0f ? 1.0f / sqrtf(static_cast<float>(a.cache.head_dim)) : a.scale;
  return dispatch_float(a.cache.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    decode_kernel<T><<<static_cast<unsigned>(blocks), 32 * kDecodeWarps, 0, stream>>>(a, scale);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

Status launch_kv_cache_write(const KvCacheWriteArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t total = a.tokens * a.cache.num_kv_heads * a.cache.head_dim;
  if (total == 0) return Status::ok();
  return dispatch_float(a.cache.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    kv_write_kernel<T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(a);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
