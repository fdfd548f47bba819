// cuBLASLt behind one wrapper: dense FP32/FP16/BF16 GEMM (f32 accumulate) with bias/GELU
// epilogues, and INT8 IMMA GEMM (int8 x int8 -> int32), with an algorithm cache.
// Why: STYLE.md — one wrapper owns the handle, workspace and a cache keyed by shape and dtype.
// Depends on cublasLt, shared/engine/cuda (buffers, checks).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "shared/common/status.h"
#include "shared/engine/cuda/device_buffer.h"

namespace parley::kernels::cuda {

/// Epilogues cuBLASLt fuses into the GEMM. GELU here is the tanh approximation (cuBLASLt's);
/// the erf form runs as a separate kernel.
enum class LtEpilogue { kNone, kBias, kGeluTanh, kBiasGeluTanh, kRelu, kBiasRelu };

/// Y[M,N] = epilogue(alpha * X[M,K] · W[N,K]^T (+ bias[N]) + beta * Y), all row-major, i.e. the
/// nn.Linear layout. `ld*` are row strides in elements (0 = packed). X, W, Y share `dtype`
/// (CUDA_R_32F, CUDA_R_16F or CUDA_R_16BF); bias has Y's dtype. Accumulation is f32.
struct LtDenseGemm {
  cudaDataType_t dtype = CUDA_R_16F;  ///< X and W
  /// Y (and bias) type: dtype, or CUDA_R_32F with f16/bf16 inputs. CUDA_R_32F bias otherwise
  /// needs y_dtype f32. Left at its default (-1 here as "same as dtype").
  int y_dtype = -1;
  /// W stored [K, N] row-major (op(B) = B) instead of the nn.Linear [N, K].
  bool w_kn = false;
  const void* x = nullptr;
  const void* w = nullptr;
  void* y = nullptr;
  const void* bias = nullptr;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t ldx = 0, ldw = 0, ldy = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  LtEpilogue epilogue = LtEpilogue::kNone;
  /// f32 inputs multiplied on bf16 tensor cores (CUBLAS_COMPUTE_32F_FAST_16BF, f32 accumulation):
  /// ExecContext::bf16_gemm. Ignored for f16/bf16 inputs.
  bool fast_bf16 = false;
};

/// Y_i32[M,N] = X_i8[M,K] · W_i8[N,K]^T, row-major. cuBLASLt IMMA with the regular ("TN")
/// ordering needs K % 4 == 0, N % 4 == 0, ldx/ldw/ldy % 4 == 0 and 4-byte aligned pointers
/// (int8_gemm_supported() says whether a shape qualifies).
struct LtInt8Gemm {
  const std::int8_t* x = nullptr;
  const std::int8_t* w = nullptr;
  std::int32_t* y = nullptr;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t ldx = 0, ldw = 0, ldy = 0;
};

/// True when cuBLASLt's regular-order IMMA constraints hold for this call.
bool int8_gemm_supported(const LtInt8Gemm& g);

/// Owner of one cuBLASLt handle, a workspace and the algorithm cache.
///
///   PARLEY_ASSIGN_OR_RETURN(auto lt, CublasLt::create());
///   LtDenseGemm g{.dtype = CUDA_R_16F, .x = x, .w = w, .y = y, .m = m, .n = n, .k = k};
///   PARLEY_RETURN_IF_ERROR(lt->gemm(g, stream));
///
/// Threading: the algorithm cache is mutex-guarded, but the workspace is one buffer, so calls
/// on different streams must not overlap: use one CublasLt per stream (per engine worker).
/// Ownership: the caller owns every tensor; nothing is retained after the call returns.
class CublasLt {
 public:
  static constexpr std::size_t kDefaultWorkspaceBytes = std::size_t{32} << 20;

  /// Creates the handle on the current device and allocates the workspace.
  static Result<std::unique_ptr<CublasLt>> create(std::size_t workspace_bytes = kDefaultWorkspaceBytes);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;

  /// INVALID_ARGUMENT for bad shapes/pointers; UNIMPLEMENTED when cuBLASLt has no algorithm.
  Status gemm(const LtDenseGemm& g, cudaStream_t stream);
  Status gemm_int8(const LtInt8Gemm& g, cudaStream_t stream);

  std::size_t cached_algorithms() const;
  cublasLtHandle_t handle() const { return handle_; }

 private:
  CublasLt() = default;

  // (kind, dtype, m, n, k, ldx, ldw, ldy, epilogue, alignment bits, beta != 0)
  using Key = std::tuple<int, int, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                         std::int64_t, std::int64_t, int, int, int>;
  struct CachedAlgo {
    cublasLtMatmulAlgo_t algo{};
    bool found = false;
  };

  cublasLtHandle_t handle_ = nullptr;
  engine::cuda::DeviceBuffer workspace_;
  mutable std::mutex mu_;
  std::map<Key, CachedAlgo> cache_;
};

}  // namespace parley::kernels::cuda
