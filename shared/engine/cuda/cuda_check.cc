// CUDA runtime error formatting for PARLEY_CUDA_CHECK / PARLEY_CUDA_RETURN_IF_ERROR.
// Why a .cc: keeps <string> formatting out of every kernel translation unit.
// Depends on cuda_check.h.
#include "shared/engine/cuda/cuda_check.h"

#include <sstream>

namespace parley::engine::cuda {

std::string cuda_error_text(cudaError_t err, const char* stmt, const char* file, int line) {
  std::ostringstream s;
  s << stmt << " failed at " << file << ":" << line << ": " << cudaGetErrorString(err) << " ("
    << cudaGetErrorName(err) << ")";
  return s.str();
}

Status cuda_status(cudaError_t err, const char* stmt, const char* file, int line) {
  // Non-sticky errors stay as "last error" and would be misreported by the next check.
  (void)cudaGetLastError();
  std::string text = cuda_error_text(err, stmt, file, line);
  switch (err) {
    case cudaErrorMemoryAllocation:
      return resource_exhausted(std::move(text));
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
      return unavailable(std::move(text));
    default:
      return internal_error(std::move(text));
  }
}

}  // namespace parley::engine::cuda
