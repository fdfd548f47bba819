// The CPU backend's function table and its supports() answer.
// Why: the registry hands this table out for CPU memory; it is also the reference every other
// backend is compared with. Depends on kernels/backend.h and the CPU entry points.
#include <cstdlib>
#include <cstring>

#include "kernels/backend.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {
namespace {

using engine::DType;
using engine::is_block_quantized;
using engine::is_float;

DType dt(const OpQuery& q, std::size_t i, DType fallback = DType::kF32) {
  return i < q.dtypes.size() ? q.dtypes[i] : fallback;
}

bool cpu_supports(const OpQuery& q) {
  switch (q.op) {
    case Op::kGemm:
      return is_float(dt(q, 0)) && (is_float(dt(q, 1)) || is_block_quantized(dt(q, 1))) && is_float(dt(q, 2));
    case Op::kGemmInt8: return is_float(dt(q, 0)) || dt(q, 0) == DType::kI32;
    case Op::kSparse24Gemm:
      return ((dt(q, 0) == DType::kF32 && dt(q, 1) == DType::kF32) || (dt(q, 0) == DType::kI8 && dt(q, 1) == DType::kI8)) &&
             is_float(dt(q, 2));
    case Op::kNorm:
    case Op::kActivation:
    case Op::kSoftmax:
    case Op::kRope:
    case Op::kAttentionPrefill:
    case Op::kAttentionDecode:
    case Op::kKvCacheWrite:
    case Op::kConv1d:
    case Op::kQuantize:
    case Op::kDequantize: return is_float(dt(q, 0));
    case Op::kEmbedding:
      return (is_float(dt(q, 0)) || dt(q, 0) == DType::kI8 || is_block_quantized(dt(q, 0))) && is_float(dt(q, 1));
    case Op::kGgufQuantize: return is_block_quantized(dt(q, 0, DType::kQ8_0));
    case Op::kGgufDequantize: return is_block_quantized(dt(q, 0, DType::kQ8_0)) && is_float(dt(q, 1));
    case Op::kSample: return true;
    case Op::kElementwise:
    case Op::kStridedCopy:
    case Op::kReduce:
    case Op::kGather: return true;
    case Op::kGemmQ4: return gemm_q4_type(dt(q, 0));
    // Offered where it is fast (AVX-512 BF16): models choose bf16 by asking (the scalar reference
    // still runs when called directly).
    case Op::kBf16Linear: return cpu::bf16_linear_fast();
    case Op::kQuantizeRows:
    case Op::kDequantizeSum: return true;
    case Op::kAffineQuantize: return true;
    case Op::kNormBackward:
    case Op::kActivationBackward:
    case Op::kAttentionBackward:
    case Op::kEmbeddingBackward:
    case Op::kCrossEntropy:
    case Op::kAdamW: return true;
    // Offered where it is fast (AVX-512 VNNI), like kBf16Linear.
    case Op::kInt8Linear: return cpu::int8_linear_fast();
  }
  return false;
}

Status copy_bytes(void* dst, const void* src, std::size_t bytes, const ExecContext&) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status no_sync(const ExecContext&) { return Status::ok(); }
void* cpu_alloc(std::size_t bytes, const ExecContext&) {
  return std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}
void cpu_free(void* p, const ExecContext&) { std::free(p); }

Backend make_cpu_backend() {
  Backend b;
  b.name = "cpu";
  b.device_type = engine::DeviceType::kCpu;
  b.supports = &cpu_supports;
  b.gemm = &cpu::gemm;
  b.gemm_int8 = &cpu::gemm_int8;
  b.sparse24_gemm = &cpu::sparse24_gemm;
  b.sparse24_packed_bytes = &cpu::sparse24_packed_bytes;
  b.pack_sparse24 = &cpu::pack_sparse24;
  b.norm = &cpu::norm;
  b.activation = &cpu::activation;
  b.softmax = &cpu::softmax;
  b.rope = &cpu::rope;
  b.attention_prefill = &cpu::attention_prefill;
  b.attention_decode = &cpu::attention_decode;
  b.kv_cache_write = &cpu::kv_cache_write;
  b.embedding = &cpu::embedding;
  b.quantize = &cpu::quantize;
  b.dequantize = &cpu::dequantize;
  b.gguf_quantize = &cpu::gguf_quantize;
  b.gguf_dequantize = &cpu::gguf_dequantize;
  b.conv1d = &cpu::conv1d;
  b.sample = &cpu::sample;
  b.copy_to_device = &copy_bytes;
  b.copy_to_host = &copy_bytes;
  b.synchronize = &no_sync;
  b.device_alloc = &cpu_alloc;
  b.device_free = &cpu_free;
  b.elementwise = &cpu::elementwise;
  b.strided_copy = &cpu::strided_copy;
  b.reduce = &cpu::reduce;
  b.gather = &cpu::gather;
  b.gemm_q4 = &cpu::gemm_q4;
  b.gemm_q4_packed_bytes = &gemm_q4_packed_bytes;
  b.pack_gemm_q4 = &cpu::pack_gemm_q4;
  b.bf16_linear = &cpu::bf16_linear;
  b.bf16_packed_bytes = &cpu::bf16_packed_bytes;
  b.pack_bf16 = &cpu::pack_bf16;
  b.int8_linear = &cpu::int8_linear;
  b.int8_packed_bytes = &cpu::int8_packed_bytes;
  b.pack_int8 = &cpu::pack_int8;
  b.quantize_rows = &cpu::quantize_rows;
  b.dequantize_sum = &cpu::dequantize_sum;
  b.affine_quantize = &cpu::affine_quantize;
  b.norm_backward = &cpu::norm_backward;
  b.activation_backward = &cpu::activation_backward;
  b.attention_backward = &cpu::attention_backward;
  b.embedding_backward = &cpu::embedding_backward;
  b.cross_entropy = &cpu::cross_entropy;
  b.adamw = &cpu::adamw;
  return b;
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend b = make_cpu_backend();
  return b;
}

}  // namespace parley::kernels
