// CublasLt: descriptor setup, heuristic algorithm selection cached per shape, matmul launch.
// Why: see cublaslt_gemm.h. Row-major Y = X·W^T is computed as column-major Y^T = W^T'·X^T' —
// cuBLAS "TN": A = W (K x N, ld = ldw, transposed), B = X (K x M, ld = ldx), D = Y^T (N x M).
// Depends on cublasLt, cublaslt_gemm.h, cublas_check.h, shared/engine/cuda.
#include "kernels/cuda/cublaslt_gemm.h"

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/cuda/cublas_check.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {

Status cublas_status(cublasStatus_t st, const char* stmt, const char* file, int line) {
  std::string text = std::string(stmt) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")";
  switch (st) {
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return unimplemented(std::move(text));
    case CUBLAS_STATUS_INVALID_VALUE:
      return invalid_argument(std::move(text));
    case CUBLAS_STATUS_ALLOC_FAILED:
      return resource_exhausted(std::move(text));
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return unavailable(std::move(text));
    default:
      return internal_error(std::move(text));
  }
}

namespace {

struct DescDeleter {
  void operator()(cublasLtMatmulDescOpaque_t* d) const { (void)cublasLtMatmulDescDestroy(d); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayoutOpaque_t* l) const { (void)cublasLtMatrixLayoutDestroy(l); }
};
struct PrefDeleter {
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { (void)cublasLtMatmulPreferenceDestroy(p); }
};
using DescPtr = std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter>;
using LayoutPtr = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LayoutDeleter>;
using PrefPtr = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, PrefDeleter>;

/// Largest power of two (<= 256) dividing the address: cuBLASLt assumes 256-byte alignment
/// unless the preference says otherwise, and a wrong assumption is a misaligned-access fault.
std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if (a == 0) return 256;
  std::uint32_t al = 1;
  while (al < 256 && (a % (al * 2)) == 0) al *= 2;
  return al;
}

std::size_t elem_size(cudaDataType_t t) {
  switch (t) {
    case CUDA_R_32F:
    case CUDA_R_32I:
      return 4;
    case CUDA_R_16F:
    case CUDA_R_16BF:
      return 2;
    case CUDA_R_8I:
      return 1;
    default:
      return 0;
  }
}

cublasLtEpilogue_t to_lt(LtEpilogue e) {
  switch (e) {
    case LtEpilogue::kNone:
      return CUBLASLT_EPILOGUE_DEFAULT;
    case LtEpilogue::kBias:
      return CUBLASLT_EPILOGUE_BIAS;
    case LtEpilogue::kGeluTanh:
      return CUBLASLT_EPILOGUE_GELU;
    case LtEpilogue::kBiasGeluTanh:
      return CUBLASLT_EPILOGUE_GELU_BIAS;
    case LtEpilogue::kRelu:
      return CUBLASLT_EPILOGUE_RELU;
    case LtEpilogue::kBiasRelu:
      return CUBLASLT_EPILOGUE_RELU_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool has_bias(LtEpilogue e) {
  return e == LtEpilogue::kBias || e == LtEpilogue::kBiasGeluTanh || e == LtEpilogue::kBiasRelu;
}

Status make_layout(LayoutPtr* out, cudaDataType_t t, std::int64_t rows, std::int64_t cols,
                   std::int64_t ld) {
  cublasLtMatrixLayout_t l = nullptr;
  PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&l, t, static_cast<std::uint64_t>(rows),
                                                           static_cast<std::uint64_t>(cols), ld));
  out->reset(l);
  return Status::ok();
}

Status check_dims(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t ldx,
                  std::int64_t ldw, std::int64_t ldy) {
  if (m < 0 || n < 0 || k < 0) return invalid_argument("GEMM dimensions must be non-negative");
  if (ldx < k || ldw < k || ldy < n) {
    return invalid_argument("GEMM row strides must be at least the row length (ldx, ldw >= K, ldy >= N)");
  }
  return Status::ok();
}

}  // namespace

bool int8_gemm_supported(const LtInt8Gemm& g) {
  const std::int64_t ldx = g.ldx == 0 ? g.k : g.ldx;
  const std::int64_t ldw = g.ldw == 0 ? g.k : g.ldw;
  const std::int64_t ldy = g.ldy == 0 ? g.n : g.ldy;
  // cuBLAS docs, "cublasLtMatmul" IMMA requirements with regular (non-COL32) ordering: TN only,
  // pointers 4-byte aligned, leading dimensions multiples of 4, and m, k multiples of 4 (m is our
  // N because D is Y^T).
  return g.k % 4 == 0 && g.n % 4 == 0 && ldx % 4 == 0 && ldw % 4 == 0 && ldy % 4 == 0 &&
         alignment_of(g.x) >= 4 && alignment_of(g.w) >= 4 && alignment_of(g.y) >= 4 && g.k > 0 &&
         g.k < (std::int64_t{1} << 31) && g.n < (std::int64_t{1} << 31) && g.m < (std::int64_t{1} << 31);
}

Result<std::unique_ptr<CublasLt>> CublasLt::create(std::size_t workspace_bytes) {
  std::unique_ptr<CublasLt> lt(new CublasLt());
  PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtCreate(&lt->handle_));
  PARLEY_ASSIGN_OR_RETURN(lt->workspace_, engine::cuda::DeviceBuffer::allocate(workspace_bytes));
  return lt;
}

CublasLt::~CublasLt() {
  if (handle_ != nullptr) (void)cublasLtDestroy(handle_);
}

std::size_t CublasLt::cached_algorithms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

Status CublasLt::gemm(const LtDenseGemm& g, cudaStream_t stream) {
  const std::int64_t ldx = g.ldx == 0 ? g.k : g.ldx;
  const std::int64_t ldw = g.ldw == 0 ? (g.w_kn ? g.n : g.k) : g.ldw;
  const std::int64_t ldy = g.ldy == 0 ? g.n : g.ldy;
  PARLEY_RETURN_IF_ERROR(check_dims(g.m, g.n, g.k, ldx, g.w_kn ? g.k : ldw, ldy));
  if (g.w_kn && ldw < g.n) return invalid_argument("GEMM: W [K, N] row stride shorter than N");
  const std::size_t es = elem_size(g.dtype);
  const cudaDataType_t ytype = g.y_dtype < 0 ? g.dtype : static_cast<cudaDataType_t>(g.y_dtype);
  if (ytype != g.dtype && ytype != CUDA_R_32F) return invalid_argument("GEMM: Y must have X's dtype or f32");
  if (g.dtype != CUDA_R_32F && g.dtype != CUDA_R_16F && g.dtype != CUDA_R_16BF) {
    return invalid_argument("cuBLASLt dense GEMM takes f32, f16 or bf16");
  }
  if (g.m == 0 || g.n == 0) return Status::ok();
  if (g.x == nullptr || g.w == nullptr || g.y == nullptr) return invalid_argument("GEMM pointer is null");
  if (has_bias(g.epilogue) && g.bias == nullptr) return invalid_argument("GEMM epilogue needs a bias");
  if (g.k == 0) {
    // cuBLASLt rejects K = 0; the product is empty, so only the epilogue would remain.
    return unimplemented("GEMM with K = 0 is not run through cuBLASLt");
  }
  if (alignment_of(g.x) < es || alignment_of(g.w) < es || alignment_of(g.y) < elem_size(ytype)) {
    return invalid_argument("GEMM pointers must be aligned to their element size");
  }

  const bool fast_bf16 = g.fast_bf16 && g.dtype == CUDA_R_32F;
  const cublasComputeType_t compute = fast_bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
  DescPtr desc;
  {
    cublasLtMatmulDesc_t d = nullptr;
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&d, compute, CUDA_R_32F));
    desc.reset(d);
  }
  const cublasOperation_t ta = g.w_kn ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t tb = CUBLAS_OP_N;
  PARLEY_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  PARLEY_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  const cublasLtEpilogue_t epi = to_lt(g.epilogue);
  PARLEY_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
  if (has_bias(g.epilogue)) {
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(
        desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)));
    const cudaDataType_t bias_type = ytype;
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(
        desc.get(), CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  }

  LayoutPtr la, lb, lc;
  if (g.w_kn) {
    PARLEY_RETURN_IF_ERROR(make_layout(&la, g.dtype, g.n, g.k, ldw));
  } else {
    PARLEY_RETURN_IF_ERROR(make_layout(&la, g.dtype, g.k, g.n, ldw));
  }
  PARLEY_RETURN_IF_ERROR(make_layout(&lb, g.dtype, g.k, g.m, ldx));
  PARLEY_RETURN_IF_ERROR(make_layout(&lc, ytype, g.n, g.m, ldy));

  const std::uint32_t al_a = alignment_of(g.w), al_b = alignment_of(g.x), al_c = alignment_of(g.y);
  const std::uint32_t al_bias = has_bias(g.epilogue) ? alignment_of(g.bias) : 256;
  const int align_bits = static_cast<int>((al_a & 0x1ff) | ((al_b & 0x1ff) << 9) |
                                          ((al_c & 0x1ff) << 18) | ((al_bias >= 16 ? 1 : 0) << 27));
  const Key key{(g.w_kn ? 2 : 0) | (fast_bf16 ? 4 : 0), static_cast<int>(g.dtype) | (static_cast<int>(ytype) << 8), g.m,
                g.n, g.k, ldx, ldw, ldy,
                static_cast<int>(g.epilogue), align_bits, g.beta != 0.0f ? 1 : 0};

  cublasLtMatmulAlgo_t algo{};
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      found = it->second.found;
      algo = it->second.algo;
      if (!found) return unimplemented("cuBLASLt has no algorithm for this GEMM (cached)");
    }
  }
  if (!found) {
    PrefPtr pref;
    {
      cublasLtMatmulPreference_t p = nullptr;
      PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&p));
      pref.reset(p);
    }
    const std::size_t ws = workspace_.size();
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof(al_c)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof(al_c)));
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
        handle_, desc.get(), la.get(), lb.get(), lc.get(), lc.get(), pref.get(), 1, &result, &returned);
    std::lock_guard<std::mutex> lock(mu_);
    if (st != CUBLAS_STATUS_SUCCESS || returned == 0) {
      cache_[key] = CachedAlgo{};
      return unimplemented("cuBLASLt has no algorithm for this GEMM");
    }
    algo = result.algo;
    cache_[key] = CachedAlgo{algo, true};
  }

  PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmul(handle_, desc.get(), &g.alpha, g.w, la.get(), g.x,
                                               lb.get(), &g.beta, g.y, lc.get(), g.y, lc.get(),
                                               &algo, workspace_.data(), workspace_.size(), stream));
  return Status::ok();
}

Status CublasLt::gemm_int8(const LtInt8Gemm& g, cudaStream_t stream) {
  const std::int64_t ldx = g.ldx == 0 ? g.k : g.ldx;
  const std::int64_t ldw = g.ldw == 0 ? g.k : g.ldw;
  const std::int64_t ldy = g.ldy == 0 ? g.n : g.ldy;
  PARLEY_RETURN_IF_ERROR(check_dims(g.m, g.n, g.k, ldx, ldw, ldy));
  if (g.m == 0 || g.n == 0) return Status::ok();
  if (g.x == nullptr || g.w == nullptr || g.y == nullptr) return invalid_argument("GEMM pointer is null");
  if (!int8_gemm_supported(g)) {
    return invalid_argument("INT8 cuBLASLt GEMM needs K, N and row strides multiple of 4 and 4-byte aligned pointers");
  }

  DescPtr desc;
  {
    cublasLtMatmulDesc_t d = nullptr;
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32I, CUDA_R_32I));
    desc.reset(d);
  }
  const cublasOperation_t ta = CUBLAS_OP_T;
  const cublasOperation_t tb = CUBLAS_OP_N;
  PARLEY_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  PARLEY_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));

  LayoutPtr la, lb, lc;
  PARLEY_RETURN_IF_ERROR(make_layout(&la, CUDA_R_8I, g.k, g.n, ldw));
  PARLEY_RETURN_IF_ERROR(make_layout(&lb, CUDA_R_8I, g.k, g.m, ldx));
  PARLEY_RETURN_IF_ERROR(make_layout(&lc, CUDA_R_32I, g.n, g.m, ldy));

  const std::uint32_t al_a = alignment_of(g.w), al_b = alignment_of(g.x), al_c = alignment_of(g.y);
  const int align_bits = static_cast<int>((al_a & 0x1ff) | ((al_b & 0x1ff) << 9) | ((al_c & 0x1ff) << 18));
  const Key key{1, static_cast<int>(CUDA_R_8I), g.m, g.n, g.k, ldx, ldw, ldy, 0, align_bits, 0};

  cublasLtMatmulAlgo_t algo{};
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      found = it->second.found;
      algo = it->second.algo;
      if (!found) return unimplemented("cuBLASLt has no INT8 algorithm for this GEMM (cached)");
    }
  }
  if (!found) {
    PrefPtr pref;
    {
      cublasLtMatmulPreference_t p = nullptr;
      PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&p));
      pref.reset(p);
    }
    const std::size_t ws = workspace_.size();
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof(al_c)));
    PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof(al_c)));
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
        handle_, desc.get(), la.get(), lb.get(), lc.get(), lc.get(), pref.get(), 1, &result, &returned);
    std::lock_guard<std::mutex> lock(mu_);
    if (st != CUBLAS_STATUS_SUCCESS || returned == 0) {
      cache_[key] = CachedAlgo{};
      return unimplemented("cuBLASLt has no INT8 algorithm for this GEMM");
    }
    algo = result.algo;
    cache_[key] = CachedAlgo{algo, true};
  }
  const std::int32_t alpha = 1;
  const std::int32_t beta = 0;
  PARLEY_CUBLAS_RETURN_IF_ERROR(cublasLtMatmul(handle_, desc.get(), &alpha, g.w, la.get(), g.x,
                                               lb.get(), &beta, g.y, lc.get(), g.y, lc.get(), &algo,
                                               workspace_.data(), workspace_.size(), stream));
  return Status::ok();
}

}  // namespace parley::kernels::cuda
