// CUDA Attention: prefill (causal / padded, GQA), decode over a paged KV cache, KV-cache write.
// One warp per query row with an online (streaming) softmax; decode splits keys over 4 warps.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/attention.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_attention_prefill(const AttentionPrefillArgs& args, cudaStream_t stream);
Status launch_attention_decode(const AttentionDecodeArgs& args, cudaStream_t stream);
Status launch_kv_cache_write(const KvCacheWriteArgs& args, cudaStream_t stream);
/// Largest head_dim the attention kernels take (8 values per lane).
inline constexpr std::int64_t kMaxAttentionHeadDim = 256;

}  // namespace parley::kernels::cuda
