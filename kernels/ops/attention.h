// Attention: prefill (causal or padded-bidirectional, with GQA) and decode (one query per
// sequence over a paged KV cache), plus writing new keys/values into that cache.
// Why: the core of every transformer; the paged cache lets the LM batch sequences of different
// lengths continuously without copying. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Prefill / encoder attention:
///   out[b, i, h, :] = sum_j softmax_j(scale * q[b,i,h,:] . k[b,j,g,:] + mask) * v[b,j,g,:]
/// with g = h / (num_heads / num_kv_heads) (GQA/MQA; num_heads % num_kv_heads == 0).
/// Masking: key j is excluded when j >= kv_lengths[b] (padded batch; nullptr = all kv_len keys
/// valid), and when causal and j > i + (kv_len - q_len) (queries are the last q_len positions).
/// A query with no valid key gets zeros.
/// Element (b, t, h, d) of q is at q + b*q_batch_stride + t*q_token_stride + h*q_head_stride + d
/// (strides in elements; same scheme for k, v and out). Contiguous [B, T, H, D]:
/// batch_stride = T*H*D, token_stride = H*D, head_stride = D.
/// q, k, v, out share dtype (f32, f16, bf16); softmax and accumulation in f32.
/// scale 0 = 1/sqrt(head_dim).
/// Relative position bias (MPNet, T5-style encoders): with rel_bias set, the score of query i and
/// key j gains rel_bias[h * (2R + 1) + clamp(j - p_i, -R, R) + R] before the softmax, where
/// p_i = i + (kv_len - q_len) is the query's position and R = rel_bias_radius (> 0). The table is
/// [num_heads, 2R + 1] f32 on the kernel's device; the model fills it from its buckets (distances
/// past R share the bias at +-R).
struct AttentionPrefillArgs {
  std::int64_t batch = 0, q_len = 0, kv_len = 0;
  std::int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  DType dtype = DType::kF32;
  const void* q = nullptr;
  std::int64_t q_batch_stride = 0, q_token_stride = 0, q_head_stride = 0;
  const void* k = nullptr;
  std::int64_t k_batch_stride = 0, k_token_stride = 0, k_head_stride = 0;
  const void* v = nullptr;
  std::int64_t v_batch_stride = 0, v_token_stride = 0, v_head_stride = 0;
  void* out = nullptr;
  std::int64_t out_batch_stride = 0, out_token_stride = 0, out_head_stride = 0;
  const std::int32_t* kv_lengths = nullptr;  ///< [batch] or nullptr
  bool causal = false;
  float scale = 0.0f;
  const float* rel_bias = nullptr;  ///< [num_heads, 2 * rel_bias_radius + 1] or nullptr
  std::int64_t rel_bias_radius = 0;
};

/// The relative position bias of rel_bias (see AttentionPrefillArgs) for head h, query position
/// pi and key j. Shared by every backend's kernels (host and device code).
#if defined(__CUDACC__)
__host__ __device__
#endif
inline float relative_bias(const float* table, std::int64_t radius, std::int64_t h, std::int64_t pi, std::int64_t j) {
  std::int64_t d = j - pi;
  d = d < -radius ? -radius : (d > radius ? radius : d);
  return table[h * (2 * radius + 1) + d + radius];
}

/// Paged KV cache layout (one array for K, one for V, same shape):
///   [num_pages, num_kv_heads, page_size, head_dim], contiguous; element (page, g, slot, d) at
///   ((page * num_kv_heads + g) * page_size + slot) * head_dim + d.
/// Token position p of sequence s lives in page block_tables[s * max_blocks_per_seq + p / page_size]
/// at slot p % page_size. A "slot id" (KvCacheWriteArgs) is page * page_size + slot.
struct PagedKvCache {
  void* k = nullptr;
  void* v = nullptr;
  std::int64_t num_pages = 0, num_kv_heads = 0, page_size = 0, head_dim = 0;
  DType dtype = DType::kF32;  ///< f32, f16, bf16
};

/// Decode: one query token per sequence attends to its first context_lens[s] cached tokens
/// (which include the current token: write it with kv_cache_write first).
///   q[s, h, :] at q + s*q_seq_stride + h*q_head_stride; out likewise. q/out dtype = cache dtype.
///   block_tables: [batch, max_blocks_per_seq] int32 page ids; context_lens: [batch] int32.
/// A sequence with context_len 0 gets zeros. scale 0 = 1/sqrt(head_dim).
struct AttentionDecodeArgs {
  std::int64_t batch = 0, num_heads = 0;
  PagedKvCache cache;
  const void* q = nullptr;
  std::int64_t q_seq_stride = 0, q_head_stride = 0;
  void* out = nullptr;
  std::int64_t out_seq_stride = 0, out_head_stride = 0;
  const std::int32_t* block_tables = nullptr;
  std::int64_t max_blocks_per_seq = 0;
  const std::int32_t* context_lens = nullptr;
  float scale = 0.0f;
};

/// Writes keys/values of `tokens` new tokens into the cache:
///   k[t, g, :] at k + t*k_token_stride + g*k_head_stride -> cache slot slot_mapping[t]
/// (slot = page * page_size + offset in page; a negative slot skips the token, e.g. padding).
/// k/v dtype = cache dtype.
struct KvCacheWriteArgs {
  std::int64_t tokens = 0;
  PagedKvCache cache;
  const void* k = nullptr;
  std::int64_t k_token_stride = 0, k_head_stride = 0;
  const void* v = nullptr;
  std::int64_t v_token_stride = 0, v_head_stride = 0;
  const std::int32_t* slot_mapping = nullptr;
};

Status validate(const AttentionPrefillArgs& args);
Status validate(const AttentionDecodeArgs& args);
Status validate(const KvCacheWriteArgs& args);

namespace cpu {
Status attention_prefill(const AttentionPrefillArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// Also checks (on the CPU, where it can) that every page id is in [0, num_pages) and
/// context_lens[s] <= max_blocks_per_seq * page_size: OutOfRange otherwise.
Status attention_decode(const AttentionDecodeArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status kv_cache_write(const KvCacheWriteArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
