// Backend: one function table per device kind (CPU always, CUDA when built and a GPU is present),
// and the registry that picks one at run time.
// Why: callers run an op the same way on any device and never #ifdef; CMake decides which backend
// files build, the registry decides at run time (STYLE.md "Kernels and engines").
// Depends on kernels/ops/*.h (plain Args structs; no device code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "kernels/ops/activation.h"
#include "kernels/ops/affine_quantize.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/common.h"
#include "kernels/ops/conv1d.h"
#include "kernels/ops/elementwise.h"
#include "kernels/ops/embedding.h"
#include "kernels/ops/gather.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/int8_linear.h"
#include "kernels/ops/gemm_q4.h"
#include "kernels/ops/norm.h"
#include "kernels/ops/quantize.h"
#include "kernels/ops/reduce.h"
#include "kernels/ops/quantize_rows.h"
#include "kernels/ops/rope.h"
#include "kernels/ops/sample.h"
#include "kernels/ops/softmax.h"
#include "kernels/ops/sparse24.h"
#include "kernels/ops/tensor_copy.h"
#include "kernels/ops/train.h"

namespace parley::kernels {

/// Every op family a backend may offer (one entry point each in Backend).
enum class Op : std::uint8_t {
  kGemm = 0,
  kGemmInt8,
  kSparse24Gemm,
  kNorm,
  kActivation,
  kSoftmax,
  kRope,
  kAttentionPrefill,
  kAttentionDecode,
  kKvCacheWrite,
  kEmbedding,
  kQuantize,
  kDequantize,
  kGgufQuantize,
  kGgufDequantize,
  kConv1d,
  kSample,
  kElementwise,   ///< graph ops (shared/onnx): element-wise with broadcasting
  kStridedCopy,   ///< transpose/slice/concat/pad/expand
  kReduce,        ///< reductions and cumulative sums along an axis
  kGather,        ///< Gather, GatherElements, GatherND, ScatterND
  // Appended: the CPU fast paths models need, as ops with CUDA counterparts (issue 11).
  kGemmQ4,
  kBf16Linear,
  kQuantizeRows,
  kDequantizeSum,
  kAffineQuantize,  ///< ONNX QuantizeLinear / DequantizeLinear (zero points, per channel)
  // Appended: training (per-bot fine-tuning, issue 17; ops/train.h).
  kNormBackward,
  kActivationBackward,
  kAttentionBackward,
  kEmbeddingBackward,
  kCrossEntropy,
  kAdamW,
  // Appended: QDQ models' integer linears on packed weights (ops/int8_linear.h).
  kInt8Linear,
};
inline constexpr int kOpCount = 33;
std::string_view op_name(Op op);

/// What supports() is asked. dtypes and dims are per op (unused entries are ignored):
///   kGemm:           dtypes {a, b, c}            dims {m, n, k}
///   kGemmInt8:       dtypes {c}                  dims {m, n, k}
///   kSparse24Gemm:   dtypes {a, b.dtype, c}      dims {m, n, k}
///   kNorm, kActivation, kSoftmax: dtypes {dtype}  dims {rows, cols}
///   kRope:           dtypes {dtype}              dims {tokens, heads, head_dim}
///   kAttentionPrefill / kAttentionDecode: dtypes {dtype}  dims {num_heads, num_kv_heads, head_dim}
///   kKvCacheWrite:   dtypes {dtype}              dims {num_kv_heads, head_dim}
///   kEmbedding:      dtypes {table, out}         dims {dim}
///   kQuantize:       dtypes {x}                  kDequantize: dtypes {y}
///   kGgufQuantize:   dtypes {type}               kGgufDequantize: dtypes {type, y}
///   kConv1d:         dtypes {dtype}              dims {kernel_size, groups}
///   kSample:         dtypes {}                   dims {vocab, top_k, temperature > 0 ? 1 : 0} (top_k
///                    and the flag optional: without them a backend answers for greedy sampling)
///   kElementwise, kStridedCopy, kReduce, kGather: dtypes {} dims {} (their Args carry their own
///                    ElemType / element size; a backend answers for the op family as a whole,
///                    except CUDA's f32-only elementwise: true only when asked with f32 dtypes)
///   kGemmQ4:         dtypes {b_type}             dims {m, n, k}
///   kBf16Linear:     dtypes {}                   dims {m, n, k}
///   kQuantizeRows:   dtypes {}                   dims {rows, cols, rotate_block}
///   kDequantizeSum:  dtypes {}                   dims {rows, cols}
///   kAffineQuantize: dtypes {} dims {} (the Args carry their AffineType)
///   kNormBackward, kActivationBackward, kAttentionBackward, kEmbeddingBackward, kCrossEntropy,
///   kAdamW:          dtypes {} dims {} (all f32; a backend answers for the op as a whole)
///   kInt8Linear:     dtypes {}                   dims {m, n, k}
struct OpQuery {
  Op op = Op::kGemm;
  std::span<const engine::DType> dtypes;
  std::span<const std::int64_t> dims;
};

/// One backend = one table of plain function pointers (a null entry = op not offered).
/// Pointers inside Args refer to memory on this backend's device. Entry points are thread-safe
/// (different threads may call with different Args); they return when the work is done (CPU) or
/// enqueued on ctx.stream (CUDA). Errors: InvalidArgument for bad Args, Unimplemented for a dtype
/// combination supports() rejects, Internal for device failures.
struct Backend {
  std::string_view name;                 ///< "cpu", "cuda"
  engine::DeviceType device_type = engine::DeviceType::kCpu;
  bool (*supports)(const OpQuery& query) = nullptr;

  Status (*gemm)(const GemmArgs&, const ExecContext&) = nullptr;
  Status (*gemm_int8)(const GemmInt8Args&, const ExecContext&) = nullptr;
  Status (*sparse24_gemm)(const Sparse24GemmArgs&, const ExecContext&) = nullptr;
  /// Converter hook: bytes needed, then pack a kCpu-layout matrix (in HOST memory) into this
  /// backend's kBackendPacked layout at dst (device memory of this backend).
  std::size_t (*sparse24_packed_bytes)(const Sparse24Matrix& src) = nullptr;
  Status (*pack_sparse24)(const Sparse24Matrix& src, void* dst, std::size_t dst_bytes,
                          const ExecContext&) = nullptr;
  Status (*norm)(const NormArgs&, const ExecContext&) = nullptr;
  Status (*activation)(const ActivationArgs&, const ExecContext&) = nullptr;
  Status (*softmax)(const SoftmaxArgs&, const ExecContext&) = nullptr;
  Status (*rope)(const RopeArgs&, const ExecContext&) = nullptr;
  Status (*attention_prefill)(const AttentionPrefillArgs&, const ExecContext&) = nullptr;
  Status (*attention_decode)(const AttentionDecodeArgs&, const ExecContext&) = nullptr;
  Status (*kv_cache_write)(const KvCacheWriteArgs&, const ExecContext&) = nullptr;
  Status (*embedding)(const EmbeddingArgs&, const ExecContext&) = nullptr;
  Status (*quantize)(const QuantizeArgs&, const ExecContext&) = nullptr;
  Status (*dequantize)(const DequantizeArgs&, const ExecContext&) = nullptr;
  Status (*gguf_quantize)(const GgufQuantizeArgs&, const ExecContext&) = nullptr;
  Status (*gguf_dequantize)(const GgufDequantizeArgs&, const ExecContext&) = nullptr;
  Status (*conv1d)(const Conv1dArgs&, const ExecContext&) = nullptr;
  Status (*sample)(const SampleArgs&, const ExecContext&) = nullptr;

  /// Host <-> device copies and stream sync, so tests and engines can move data without
  /// device headers. CPU: memcpy / no-op.
  Status (*copy_to_device)(void* dst, const void* host_src, std::size_t bytes, const ExecContext&) = nullptr;
  Status (*copy_to_host)(void* host_dst, const void* src, std::size_t bytes, const ExecContext&) = nullptr;
  Status (*synchronize)(const ExecContext&) = nullptr;
  /// Device memory for tests/engines (nullptr on failure); free with device_free.
  void* (*device_alloc)(std::size_t bytes, const ExecContext&) = nullptr;
  void (*device_free)(void* ptr, const ExecContext&) = nullptr;

  // Graph-level ops (ONNX runtime, shared/onnx); appended so older tables stay valid.
  Status (*elementwise)(const ElementwiseArgs&, const ExecContext&) = nullptr;
  Status (*strided_copy)(const StridedCopyArgs&, const ExecContext&) = nullptr;
  Status (*reduce)(const ReduceArgs&, const ExecContext&) = nullptr;
  Status (*gather)(const GatherArgs&, const ExecContext&) = nullptr;
  // ---- Appended (keep new entries at the end: parallel work adds ops here too) ----------------
  /// GGUF-block GEMM for few tokens (ops/gemm_q4.h). The weight layout is the backend's own:
  /// gemm_q4_packed_bytes (-1 = type/shape unsupported) and pack_gemm_q4 (GGUF rows in HOST
  /// memory -> dst on this backend's device).
  Status (*gemm_q4)(const GemmQ4Args&, const ExecContext&) = nullptr;
  std::int64_t (*gemm_q4_packed_bytes)(DType type, std::int64_t n, std::int64_t k) = nullptr;
  Status (*pack_gemm_q4)(const GemmQ4PackArgs&, const ExecContext&) = nullptr;
  /// BF16 linear (ops/bf16_linear.h): bf16_packed_bytes / pack_bf16 (f32 HOST weights -> dst on
  /// this backend's device, its layout), then bf16_linear.
  Status (*bf16_linear)(const Bf16LinearArgs&, const ExecContext&) = nullptr;
  std::int64_t (*bf16_packed_bytes)(std::int64_t n, std::int64_t k) = nullptr;
  Status (*pack_bf16)(const Bf16PackArgs&, const ExecContext&) = nullptr;
  /// Activation quantization for int8 linears and the dequantize-sum epilogue (ops/quantize_rows.h).
  Status (*quantize_rows)(const QuantizeRowsArgs&, const ExecContext&) = nullptr;
  Status (*dequantize_sum)(const DequantizeSumArgs&, const ExecContext&) = nullptr;

  /// Streams and captured graphs: what models use to own a stream per worker and replay a
  /// fixed-shape step as one launch (shared/models/runtime). Null on the CPU (ops run
  /// synchronously there; nothing to capture). A graph is captured from the work enqueued on
  /// ctx.stream between begin and end (the stream must be a non-default one), and replayed on it.
  Status (*stream_create)(const engine::Device& device, engine::StreamHandle* out) = nullptr;
  void (*stream_destroy)(const engine::Device& device, engine::StreamHandle stream) = nullptr;
  Status (*graph_begin_capture)(const ExecContext&) = nullptr;
  Status (*graph_end_capture)(const ExecContext&, void** graph) = nullptr;
  Status (*graph_launch)(void* graph, const ExecContext&) = nullptr;
  void (*graph_destroy)(void* graph) = nullptr;
  Status (*affine_quantize)(const AffineQuantizeArgs&, const ExecContext&) = nullptr;

  /// Training (ops/train.h): backward passes of the encoder's non-GEMM ops, softmax
  /// cross-entropy, AdamW (CPU and CUDA). Null where a backend does not train.
  Status (*norm_backward)(const NormBackwardArgs&, const ExecContext&) = nullptr;
  Status (*activation_backward)(const ActivationBackwardArgs&, const ExecContext&) = nullptr;
  Status (*attention_backward)(const AttentionBackwardArgs&, const ExecContext&) = nullptr;
  Status (*embedding_backward)(const EmbeddingBackwardArgs&, const ExecContext&) = nullptr;
  Status (*cross_entropy)(const CrossEntropyArgs&, const ExecContext&) = nullptr;
  Status (*adamw)(const AdamWArgs&, const ExecContext&) = nullptr;

  /// INT8 linear of QDQ models (ops/int8_linear.h): int8_packed_bytes / pack_int8 (int8 HOST
  /// weights -> dst on this backend's device, its layout), then int8_linear.
  Status (*int8_linear)(const Int8LinearArgs&, const ExecContext&) = nullptr;
  std::int64_t (*int8_packed_bytes)(std::int64_t n, std::int64_t k) = nullptr;
  Status (*pack_int8)(const Int8PackArgs&, const ExecContext&) = nullptr;
};

/// The CPU backend (always present; the reference every other backend is tested against).
const Backend& cpu_backend();

/// Chooses backends at run time. The CUDA backend is asked for once (first use) through
/// detail::cuda_backend(); it is present when CUDA was compiled in AND a device was found.
///
///   const Backend& be = BackendRegistry::instance().for_device(tensor.device());
///   PARLEY_RETURN_IF_ERROR(be.gemm(args, ctx));
///
/// Thread-safe (immutable after the first call).
class BackendRegistry {
 public:
  static const BackendRegistry& instance();

  /// CPU first, then CUDA when available.
  std::span<const Backend* const> all() const { return backends_; }
  const Backend& cpu() const { return *backends_.front(); }
  /// nullptr when no CUDA backend is available.
  const Backend* cuda() const;
  /// The backend for memory on `device`; the CPU backend for CPU devices. PARLEY_CHECKs that a
  /// backend exists for CUDA devices (ask cuda() first when unsure).
  const Backend& for_device(const engine::Device& device) const;
  /// First backend that lists `device_type` and whose supports(query) is true; nullptr if none.
  const Backend* find(engine::DeviceType device_type, const OpQuery& query) const;

 private:
  BackendRegistry();
  std::vector<const Backend*> backends_;
};

namespace detail {
/// Provided by exactly one file chosen by CMake: kernels/cuda/ (target parley_kernels_cuda,
/// when PARLEY_CUDA_ENABLED) or kernels/cpu/cuda_backend_none.cc. Returns the CUDA backend's
/// table, or nullptr when CUDA is not built or no device is present (called once).
const Backend* cuda_backend();
}  // namespace detail

}  // namespace parley::kernels
