// cuBLAS(Lt) status checks: PARLEY_CUBLAS_RETURN_IF_ERROR turns a failed call into a Status
// naming the statement and file:line. Depends on cublas_api.h, shared/common/status.h.
#pragma once

#include <cublas_api.h>

#include <string>

#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// "cublasLtMatmul(...) failed at f.cc:10: CUBLAS_STATUS_NOT_SUPPORTED".
Status cublas_status(cublasStatus_t st, const char* stmt, const char* file, int line);

}  // namespace parley::kernels::cuda

#define PARLEY_CUBLAS_RETURN_IF_ERROR(stmt)                                                 \
  do {                                                                                      \
    const cublasStatus_t parley_cublas_st_ = (stmt);                                        \
    if (parley_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                         \
      return ::parley::kernels::cuda::cublas_status(parley_cublas_st_, #stmt, __FILE__, __LINE__); \
  } while (false)
