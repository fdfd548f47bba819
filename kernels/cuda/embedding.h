// CUDA Embedding lookup from f32/f16/bf16, per-row int8 and GGUF Q8_0/Q4_0/Q4_1 tables.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/embedding.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_embedding(const EmbeddingArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
