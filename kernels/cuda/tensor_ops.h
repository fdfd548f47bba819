// CUDA strided copy (any element size) and f32 element-wise ops (kernels/ops/tensor_copy.h,
// elementwise.h). Why: fine-tuning transposes gradients and applies dropout masks on the device
// (shared/models/encoder/train); the ONNX graph runtime also needs reduce and gather on CUDA, which
// do not exist yet, so graph models stay on the CPU. Depends on the ops' Args and cudart types.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/ops/elementwise.h"
#include "kernels/ops/tensor_copy.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

Status launch_strided_copy(const StridedCopyArgs& args, cudaStream_t stream);
/// f32 inputs and output only, and the arithmetic ops (ew_f32_supported); UNIMPLEMENTED otherwise.
Status launch_elementwise(const ElementwiseArgs& args, cudaStream_t stream);
bool ew_f32_supported(EwOp op);

}  // namespace parley::kernels::cuda
