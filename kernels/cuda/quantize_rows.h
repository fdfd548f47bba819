// CUDA activation quantization for int8 linears (per-token, SmoothQuant column scale, block
// Hadamard rotation, residual pass) and the dequantize-sum epilogue over raw int32 blocks.
// Why: the CUDA side of kernels/ops/quantize_rows.h; launch functions enqueue on `stream` and
// return. Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/ops/quantize_rows.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// Longest row quantize_rows takes on this backend (the row lives in shared memory).
inline constexpr std::int64_t kMaxQuantizeRowsCols = 12288;

/// Bit-identical to cpu::quantize_rows (no fused multiply-adds, same butterfly order).
Status launch_quantize_rows(const QuantizeRowsArgs& args, cudaStream_t stream);
Status launch_dequantize_sum(const DequantizeSumArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
