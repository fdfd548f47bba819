// detail::cuda_backend() of builds without the CUDA backend: there is none.
// Why: CMake builds this file instead of kernels/cuda/backend.cc when CUDA is off, so the
// registry never needs an #ifdef. Depends on kernels/backend.h.
#include "kernels/backend.h"

namespace parley::kernels::detail {

const Backend* cuda_backend() { return nullptr; }

}  // namespace parley::kernels::detail
