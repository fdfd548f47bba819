// CUDA Symmetric int8 quantize/dequantize (per tensor/row/column) and GGUF block dequantize.
// Why: the CUDA side of the op in kernels/ops; launch functions enqueue on `stream` and return.
// Depends on the op's Args header and cudart types (no device code here).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops/quantize.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_quantize(const QuantizeArgs& args, cudaStream_t stream);
Status launch_dequantize(const DequantizeArgs& args, cudaStream_t stream);
Status launch_gguf_dequantize(const GgufDequantizeArgs& args, cudaStream_t stream);

}  // namespace parley::kernels::cuda
