// The CUDA backend: one kernels::Backend table whose entries run the CUDA kernels of this folder
// (cuBLASLt for dense GEMM, our own kernels for the rest), registered through
// kernels::detail::cuda_backend() when a device is present.
// Why: STYLE.md — CUDA registers itself; callers never #ifdef. Depends on kernels/backend.h.
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/sparse24_layout.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// The table (valid whether or not a device exists; entries then fail with UNAVAILABLE).
const Backend& cuda_backend_table();

/// The 2:4 metadata map calibrated on `device` (first call runs the calibration, which logs
/// how the map was found); an error when sparse tensor cores are unusable there.
Result<sp24::MetaMap> sparse24_meta_map(int device);

}  // namespace parley::kernels::cuda
