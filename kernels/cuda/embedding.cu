// Embedding gather: one thread per output value; ids outside [0, vocab) give zero rows (the GPU
// cannot return a per-row error; the CPU reports InvalidArgument). Depends on cuda_utils.cuh,
// gguf.cuh, embedding.h.
#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gguf.cuh"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

template <typename TO>
__global__ void embedding_kernel(EmbeddingArgs a, std::int64_t row_bytes) {
  const std::int64_t total = a.num_tokens * a.dim;
  const auto* table = static_cast<const std::uint8_t*>(a.table);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = i / a.dim, c = i - t * a.dim;
    const std::int64_t id = a.ids[t];
    float v = 0.0f;
    if (id >= 0 && id < a.vocab) {
      const std::uint8_t* row = table + id * row_bytes;
      switch (a.table_type) {
        case engine::DType::kF32:
          v = reinterpret_cast<const float*>(row)[c];
          break;
        case engine::DType::kF16:
          v = __half2float(reinterpret_cast<const __half*>(row)[c]);
          break;
        case engine::DType::kBF16:
          v = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(row)[c]);
          break;
        case engine::DType::kI8:
          v = static_cast<float>(reinterpret_cast<const std::int8_t*>(row)[c]) * a.row_scales[id];
          break;
        default:
          v = gguf_value(a.table_type, row, c);
          break;
      }
      v *= a.scale;
    }
    static_cast<TO*>(a.out)[t * a.ld_out + c] = from_f32<TO>(v);
  }
}

}  // namespace

Status launch_embedding(const EmbeddingArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.num_tokens == 0 || a.dim == 0) return Status::ok();
  const std::int64_t row_bytes = a.table_row_bytes != 0 ? a.table_row_bytes : engine::row_bytes(a.table_type, a.dim);
  if (row_bytes <= 0) return invalid_argument("embedding: bad table row size");
  const std::int64_t es = engine::element_size(a.table_type);
  if (es > 1 && (row_bytes % es != 0 || reinterpret_cast<std::uintptr_t>(a.table) % es != 0)) {
    return invalid_argument("embedding: table rows must be aligned to the element size");
  }
  return dispatch_float(a.out_type, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    embedding_kernel<T><<<grid_for(a.num_tokens * a.dim, kThreads), kThreads, 0, stream>>>(a, row_bytes);
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return Status::ok();
  });
}

}  // namespace parley::kernels::cuda
