// INT8 GEMM pieces of our own: the dequantize epilogue after cuBLASLt's int32 output, and a
// plain SIMT int8 GEMM for shapes cuBLASLt IMMA rejects (K or N not a multiple of 4, M = 0..).
// Why: the issue asks for per-channel weight × per-token activation scales + bias + activation
// fused after IMMA. Depends on gemm_types.h, cudart (types only).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/gemm_types.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// out = epilogue(acc) for acc [M, N] int32 with row stride `ld_acc` (0 = N).
Status launch_int8_dequant(const std::int32_t* acc, std::int64_t m, std::int64_t n,
                           std::int64_t ld_acc, const DequantEpilogue& e, cudaStream_t stream);

/// acc[M, N] = X[M, K] · W[N, K]^T, int8 in, int32 out, row-major with row strides (0 = packed).
/// Any shape and alignment; ~SIMT speed (fallback path, and the reference on the device).
Status launch_int8_gemm_simt(const std::int8_t* x, const std::int8_t* w, std::int32_t* acc,
                             std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t ldx,
                             std::int64_t ldw, std::int64_t ld_acc, cudaStream_t stream);

}  // namespace parley::kernels::cuda
