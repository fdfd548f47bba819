// CUDA runtime error checks: PARLEY_CUDA_CHECK (fatal) and PARLEY_CUDA_RETURN_IF_ERROR (Status).
// Why: STYLE.md's third tier says a failed CUDA API call prints the statement and file:line; the
// Status form is for calls whose failure is an expected condition (out of memory, no device).
// Depends on cuda_runtime_api.h and shared/common (check.h, status.h).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "shared/common/check.h"
#include "shared/common/status.h"

namespace parley::engine::cuda {

/// "cudaMalloc(&p, n) failed at file.cc:12: out of memory (cudaErrorMemoryAllocation)".
std::string cuda_error_text(cudaError_t err, const char* stmt, const char* file, int line);

/// A Status for a failed runtime call (kResourceExhausted for allocation failures, kUnavailable
/// for "no device / no driver", kInternal otherwise). Clears the sticky-free last error.
Status cuda_status(cudaError_t err, const char* stmt, const char* file, int line);

}  // namespace parley::engine::cuda

/// Fatal: aborts with the statement, file:line and CUDA's error string.
#define PARLEY_CUDA_CHECK(stmt)                                                          \
  do {                                                                                   \
    const cudaError_t parley_cuda_err_ = (stmt);                                         \
    PARLEY_CHECK(parley_cuda_err_ == cudaSuccess)                                        \
        << ::parley::engine::cuda::cuda_error_text(parley_cuda_err_, #stmt, __FILE__, __LINE__); \
  } while (false)

/// Returns a Status naming the statement and file:line from the enclosing function on failure.
#define PARLEY_CUDA_RETURN_IF_ERROR(stmt)                                                 \
  do {                                                                                    \
    const cudaError_t parley_cuda_err_ = (stmt);                                          \
    if (parley_cuda_err_ != cudaSuccess)                                                  \
      return ::parley::engine::cuda::cuda_status(parley_cuda_err_, #stmt, __FILE__, __LINE__); \
  } while (false)
