// CUDA small-M GEMM on GGUF Q4_0 / Q4_1 / Q8_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K weights
// (llama.cpp's W4A8-style arithmetic): activations quantized per token and 32 values, then one
// warp per output channel with dp4a dots.
// Why: the CUDA side of kernels/ops/gemm_q4.h (decode reads 4.5-6.6 bits per weight). The CUDA
// "packed" layout is the GGUF rows as stored. Depends on the op's Args header, cudart types.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/ops/gemm_q4.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// Scratch gemm_q4 needs for `m` tokens of K values (int8 codes + per-block scale, sum, half sums).
std::size_t gemm_q4_scratch_bytes(std::int64_t m, std::int64_t k);

/// args.b = GGUF rows (row_bytes(b_type, k) each) on the device; scratch >= gemm_q4_scratch_bytes.
Status launch_gemm_q4(const GemmQ4Args& args, void* scratch, cudaStream_t stream);

}  // namespace parley::kernels::cuda
