// The CUDA probe and allocator hook of CPU-only builds: no CUDA compiled in, so no devices.
// Why: CMake builds this file instead of shared/engine/cuda's probe when CUDA is off, so
// detect_devices() never needs an #ifdef. Depends on device.h.
#include "shared/engine/allocator.h"
#include "shared/engine/device.h"

namespace parley::engine::detail {

CudaProbe probe_cuda() {
  CudaProbe p;
  p.compiled = false;
  p.reason = "not built with CUDA";
  return p;
}

Allocator* cuda_allocator_or_null(int /*device*/) { return nullptr; }

}  // namespace parley::engine::detail
