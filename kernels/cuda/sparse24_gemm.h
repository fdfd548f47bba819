// 2:4 structured-sparse INT8 GEMM on sparse tensor cores (mma.sp m16n8k64 s8, sm_80+), our own
// kernel, with the dequantize/bias/activation epilogue fused; plus the start-up calibration that
// picks the metadata convention the device actually implements.
// Why: cuSPARSELt is not on the build machines (only as a PyPI wheel), and our own kernel keeps
// the build free of it. Depends on gemm_types.h, sparse24_layout.h, cudart types.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/gemm_types.h"
#include "kernels/cuda/sparse24_layout.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// out[M, N] = epilogue(X[M, K] · W^T) with W packed by pack_sparse24_host (device copy).
/// Needs K % 64 == 0, x 16-byte aligned with ldx % 16 == 0, packed 16-byte aligned.
struct Sparse24Launch {
  const std::int8_t* x = nullptr;
  std::int64_t ldx = 0;  ///< 0 = K
  const void* packed = nullptr;
  std::int64_t m = 0, n = 0, k = 0;
  DequantEpilogue epilogue;
};

/// True when the launch constraints above hold (shape and alignment only).
bool sparse24_launch_supported(const Sparse24Launch& s);

Status launch_sparse24_gemm(const Sparse24Launch& s, cudaStream_t stream);

/// Runs a small known product under each metadata convention on the current device and returns
/// the one that matches exactly; UNIMPLEMENTED when neither does (then the backend reports the
/// sparse op unsupported), UNAVAILABLE when the device is older than sm_80.
Result<sp24::MetaConvention> calibrate_sparse24(cudaStream_t stream);

}  // namespace parley::kernels::cuda
