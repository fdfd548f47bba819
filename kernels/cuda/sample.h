// CUDA Token sampling: argmax, temperature, top-k (k <= 256 on the GPU), top-p, seeded (same RNG
// as the CPU: kernels/ops/sample.h). One block per sequence.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/sample.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_sample(const SampleArgs& args, cudaStream_t stream);
/// Largest candidate set the GPU sampler handles (top_k; vocab when no top-k and vocab is small).
inline constexpr std::int64_t kMaxSampleCandidates = 256;

}  // namespace parley::kernels::cuda
