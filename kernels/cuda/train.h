// CUDA training ops (kernels/ops/train.h): LayerNorm / activation / attention / embedding
// backward, softmax cross-entropy, AdamW — so per-bot fine-tuning runs on a GPU like the forward
// passes do. Why: the CUDA side of ops/train.h. Depends on the ops' Args and cudart types.
//
// Where the CPU checks values on the host before writing anything (token ids, labels, sequence
// lengths), these check them on the device first and wait for the answer (one small copy and a
// stream synchronization per call), so the same bad input gets the same InvalidArgument. That
// makes these ops unfit for graph capture, which training does not use.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/ops/train.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// Scratch bytes launch_norm_backward needs (per-row statistics).
std::size_t norm_backward_scratch_bytes(const NormBackwardArgs& args);
/// Scratch bytes of the device-side value checks (embedding ids, labels, sequence lengths).
inline constexpr std::size_t kTrainCheckScratchBytes = 16;

Status launch_norm_backward(const NormBackwardArgs& args, void* scratch, cudaStream_t stream);
Status launch_activation_backward(const ActivationBackwardArgs& args, cudaStream_t stream);
Status launch_attention_backward(const AttentionBackwardArgs& args, void* check_scratch, cudaStream_t stream);
Status launch_embedding_backward(const EmbeddingBackwardArgs& args, void* check_scratch, cudaStream_t stream);
Status launch_cross_entropy(const CrossEntropyArgs& args, void* check_scratch, cudaStream_t stream);
Status launch_adamw(const AdamWArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
