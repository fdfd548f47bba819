// Strided n-d copy and f32 element-wise ops: one thread per output element, the row-major index
// decomposed over dims (last fastest), source/destination offsets from the strides in elements.
// Depends on cuda_utils.cuh, tensor_ops.h.
#include <string>

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/tensor_ops.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// Offsets, in elements, of the row-major index i of `dims` under two stride sets.
__device__ __forceinline__ void offsets_of(std::int64_t i, int rank, const std::int64_t* dims, const std::int64_t* s1,
                                           const std::int64_t* s2, std::int64_t* o1, std::int64_t* o2) {
  std::int64_t a = 0, b = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const std::int64_t idx = i % dims[d];
    i /= dims[d];
    a += idx * s1[d];
    b += idx * s2[d];
  }
  *o1 = a;
  *o2 = b;
}

template <typename E>
__global__ void strided_copy_kernel(StridedCopyArgs a, std::int64_t total) {
  const auto* src = static_cast<const E*>(a.src);
  auto* dst = static_cast<E*>(a.dst);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t so = 0, dof = 0;
    offsets_of(i, a.rank, a.dims, a.src_strides, a.dst_strides, &so, &dof);
    dst[dof] = src[so];
  }
}

// Element sizes other than 1/2/4/8: byte by byte.
__global__ void strided_copy_bytes(StridedCopyArgs a, std::int64_t total) {
  const auto* src = static_cast<const unsigned char*>(a.src);
  auto* dst = static_cast<unsigned char*>(a.dst);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t so = 0, dof = 0;
    offsets_of(i, a.rank, a.dims, a.src_strides, a.dst_strides, &so, &dof);
    for (std::int64_t b = 0; b < a.elem_bytes; ++b) dst[dof * a.elem_bytes + b] = src[so * a.elem_bytes + b];
  }
}

// The same f32 math as the CPU backend's elementwise (kernels/cpu/elementwise.cc).
__device__ __forceinline__ float ew_apply(EwOp op, float x, float y, float alpha, float beta) {
  switch (op) {
    case EwOp::kIdentity: return x;
    case EwOp::kNeg: return -x;
    case EwOp::kAbs: return fabsf(x);
    case EwOp::kExp: return expf(x);
    case EwOp::kLog: return logf(x);
    case EwOp::kSqrt: return sqrtf(x);
    case EwOp::kReciprocal: return 1.0f / x;
    case EwOp::kErf: return erff(x);
    case EwOp::kTanh: return tanhf(x);
    case EwOp::kRelu: return x > 0.0f ? x : 0.0f;
    case EwOp::kLeakyRelu: return x >= 0.0f ? x : x * alpha;
    case EwOp::kCeil: return ceilf(x);
    case EwOp::kFloor: return floorf(x);
    case EwOp::kRound: return rintf(x);
    case EwOp::kSign: return static_cast<float>((x > 0.0f) - (x < 0.0f));
    case EwOp::kClip: return fminf(fmaxf(x, alpha), beta);
    case EwOp::kAdd: return x + y;
    case EwOp::kSub: return x - y;
    case EwOp::kMul: return x * y;
    case EwOp::kDiv: return x / y;
    case EwOp::kMax: return fmaxf(x, y);
    case EwOp::kMin: return fminf(x, y);
    default: return 0.0f;  // not reached: launch_elementwise admits ew_f32_supported ops only
  }
}

__global__ void elementwise_f32_kernel(ElementwiseArgs a, std::int64_t total, bool binary) {
  const auto* x = static_cast<const float*>(a.a);
  const auto* y = static_cast<const float*>(a.b);
  auto* out = static_cast<float*>(a.y);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    std::int64_t ao = 0, bo = 0;
    offsets_of(i, a.rank, a.dims, a.a_strides, a.b_strides, &ao, &bo);
    out[i] = ew_apply(a.op, x[ao], binary ? y[bo] : 0.0f, a.alpha, a.beta);
  }
}

}  // namespace

bool ew_f32_supported(EwOp op) {
  switch (op) {
    case EwOp::kIdentity: case EwOp::kNeg: case EwOp::kAbs: case EwOp::kExp: case EwOp::kLog: case EwOp::kSqrt:
    case EwOp::kReciprocal: case EwOp::kErf: case EwOp::kTanh: case EwOp::kRelu: case EwOp::kLeakyRelu:
    case EwOp::kCeil: case EwOp::kFloor: case EwOp::kRound: case EwOp::kSign: case EwOp::kClip: case EwOp::kAdd:
    case EwOp::kSub: case EwOp::kMul: case EwOp::kDiv: case EwOp::kMax: case EwOp::kMin:
      return true;
    default:
      return false;
  }
}

Status launch_strided_copy(const StridedCopyArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) total *= a.dims[d];
  if (total == 0) return Status::ok();
  const unsigned grid = grid_for(total, kThreads);
  switch (a.elem_bytes) {
    case 1: strided_copy_kernel<unsigned char><<<grid, kThreads, 0, stream>>>(a, total); break;
    case 2: strided_copy_kernel<unsigned short><<<grid, kThreads, 0, stream>>>(a, total); break;
    case 4: strided_copy_kernel<unsigned int><<<grid, kThreads, 0, stream>>>(a, total); break;
    case 8: strided_copy_kernel<unsigned long long><<<grid, kThreads, 0, stream>>>(a, total); break;
    default: strided_copy_bytes<<<grid, kThreads, 0, stream>>>(a, total); break;
  }
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status launch_elementwise(const ElementwiseArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const bool binary = ew_arity(a.op) == 2;
  if (!ew_f32_supported(a.op) || a.a_type != ElemType::kF32 || a.y_type != ElemType::kF32 ||
      (binary && a.b_type != ElemType::kF32)) {
    return unimplemented("elementwise on CUDA: f32 arithmetic only, not '" + std::string(ew_op_name(a.op)) + "' on " +
                         std::string(elem_type_name(a.a_type)) + " -> " + std::string(elem_type_name(a.y_type)));
  }
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) total *= a.dims[d];
  if (total == 0) return Status::ok();
  elementwise_f32_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(a, total, binary);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
