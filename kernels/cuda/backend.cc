// CUDA backend table: argument checks, device/stream plumbing, scratch from the caching pool,
// cuBLASLt handles per (device, stream), the 2:4 calibration, and honest supports().
// Why: see backend.h. Depends on every launcher in this folder, kernels/backend.h,
// shared/engine/cuda (pool, probe, checks).
#include "kernels/cuda/backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/cuda/activation.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/bf16_linear.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/cublaslt_gemm.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemm_epilogue.h"
#include "kernels/cuda/gemm_q4.h"
#include "kernels/cuda/tensor_ops.h"
#include "kernels/cuda/train.h"
#include "kernels/cuda/int8_gemm.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/quantize.h"
#include "kernels/cuda/quantize_rows.h"
#include "kernels/cuda/rope.h"
#include "kernels/cuda/sample.h"
#include "kernels/cuda/softmax.h"
#include "kernels/cuda/sparse24_gemm.h"
#include "kernels/cuda/sparse24_pack.h"
#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_allocator.h"
#include "shared/engine/cuda/cuda_check.h"
#include "shared/engine/cuda/cuda_device.h"
#include "shared/engine/cuda/cuda_stream.h"
#include "shared/engine/half.h"

namespace parley::kernels::cuda {
namespace {

using engine::DType;

cudaStream_t stream_of(const ExecContext& ctx) { return static_cast<cudaStream_t>(ctx.stream.handle); }

/// Every entry point starts here: the context must name an existing CUDA device; it becomes the
/// current device for this thread.
Status enter(const ExecContext& ctx) {
  if (!ctx.stream.device.is_cuda()) return invalid_argument("CUDA backend called with a non-CUDA ExecContext");
  const int dev = ctx.stream.device.index;
  if (dev < 0 || dev >= engine::cuda::cuda_device_count()) {
    return unavailable("CUDA device " + std::to_string(dev) + " is not available");
  }
  PARLEY_CUDA_RETURN_IF_ERROR(cudaSetDevice(dev));
  return Status::ok();
}

/// Scratch: the caller's workspace when big enough, else a pooled block released (stream-ordered)
/// when this object goes.
class Scratch {
 public:
  Status acquire(const ExecContext& ctx, std::size_t bytes) {
    if (ctx.workspace != nullptr && ctx.workspace_bytes >= bytes) {
      ptr_ = ctx.workspace;
      return Status::ok();
    }
    // A graph being captured would bake a pooled block's address in while the pool hands the
    // block to someone else after this op: captures must bring a big enough workspace.
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamIsCapturing(stream_of(ctx), &capture));
    if (capture != cudaStreamCaptureStatusNone) {
      return failed_precondition("CUDA op needs " + std::to_string(bytes) + " bytes of scratch while a graph is "
                                 "being captured; the ExecContext workspace has " +
                                 std::to_string(ctx.workspace_bytes));
    }
    PARLEY_ASSIGN_OR_RETURN(pooled_, engine::cuda::cuda_device_pool(ctx.stream.device.index)
                                         .allocate_buffer(bytes, stream_of(ctx)));
    ptr_ = pooled_.data();
    return Status::ok();
  }
  void* get() const { return ptr_; }

 private:
  engine::cuda::PooledBuffer pooled_;
  void* ptr_ = nullptr;
};

// ---- cuBLASLt handles, one per (device, stream): the workspace must not be shared by streams.
CublasLt* lt_for(const ExecContext& ctx, Status* err) {
  static std::mutex mu;
  static std::map<std::pair<int, cudaStream_t>, std::unique_ptr<CublasLt>> handles;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(ctx.stream.device.index, stream_of(ctx));
  auto it = handles.find(key);
  if (it != handles.end()) return it->second.get();
  auto lt = CublasLt::create();
  if (!lt.ok()) {
    *err = lt.status();
    return nullptr;
  }
  CublasLt* raw = lt->get();
  handles.emplace(key, std::move(*lt));
  return raw;
}

bool float_type(DType t) { return engine::is_float(t); }

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

ElemType elem_type(DType t) {
  switch (t) {
    case DType::kF16:
      return ElemType::kF16;
    case DType::kBF16:
      return ElemType::kBF16;
    default:
      return ElemType::kF32;
  }
}

// ---------------------------------------------------------------- GEMM (float)
Status gemm(const GemmArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (a.m == 0 || a.n == 0) return Status::ok();
  const cudaStream_t s = stream_of(ctx);
  if (a.k == 0) {
    return launch_bias_act_inplace(a.c, a.c_type, a.m, a.n, a.ldc, a.beta, a.bias, a.activation, s);
  }
  const bool quant_b = engine::is_block_quantized(a.b_type);
  if (!float_type(a.a_type) || (!quant_b && a.b_type != a.a_type) ||
      (a.c_type != a.a_type && a.c_type != DType::kF32)) {
    return unimplemented("CUDA GEMM: needs a_type == b_type (or block-quantized b) and c_type == a_type or f32");
  }
  // Block-quantized weights are expanded to a_type [N, K] in scratch, then run densely.
  Scratch deq;
  const void* b = a.b;
  std::int64_t ldb = a.ldb;
  if (quant_b) {
    const std::size_t bytes = static_cast<std::size_t>(a.n * a.k) * static_cast<std::size_t>(engine::element_size(a.a_type));
    PARLEY_RETURN_IF_ERROR(deq.acquire(ctx, bytes));
    GgufDequantizeArgs d;
    d.rows = a.n;
    d.cols = a.k;
    d.x = a.b;
    d.x_row_bytes = a.ldb / engine::block_size(a.b_type) * engine::block_bytes(a.b_type);
    d.type = a.b_type;
    d.y = deq.get();
    d.ldy = a.k;
    d.y_type = a.a_type;
    PARLEY_RETURN_IF_ERROR(launch_gguf_dequantize(d, s));
    b = deq.get();
    ldb = a.k;
  }
  // cuBLASLt fuses bias/ReLU/GELU-tanh when the bias type (f32) matches C; else a second kernel.
  const bool fuse = a.c_type == DType::kF32 &&
                    (a.activation == Activation::kNone || a.activation == Activation::kRelu ||
                     a.activation == Activation::kGeluTanh);
  LtDenseGemm g;
  g.dtype = cuda_type(a.a_type);
  g.y_dtype = static_cast<int>(cuda_type(a.c_type));
  g.w_kn = !a.b_transposed;
  g.x = a.a;
  g.w = b;
  g.y = a.c;
  g.m = a.m;
  g.n = a.n;
  g.k = a.k;
  g.ldx = a.lda;
  g.ldw = ldb;
  g.ldy = a.ldc;
  g.alpha = a.alpha;
  g.beta = a.beta;
  g.fast_bf16 = ctx.bf16_gemm;
  if (fuse) {
    g.bias = a.bias;
    const bool bias = a.bias != nullptr;
    switch (a.activation) {
      case Activation::kRelu:
        g.epilogue = bias ? LtEpilogue::kBiasRelu : LtEpilogue::kRelu;
        break;
      case Activation::kGeluTanh:
        g.epilogue = bias ? LtEpilogue::kBiasGeluTanh : LtEpilogue::kGeluTanh;
        break;
      default:
        g.epilogue = bias ? LtEpilogue::kBias : LtEpilogue::kNone;
        break;
    }
  }
  Status err;
  CublasLt* lt = lt_for(ctx, &err);
  if (lt == nullptr) return err;
  PARLEY_RETURN_IF_ERROR(lt->gemm(g, s));
  if (!fuse && (a.bias != nullptr || a.activation != Activation::kNone)) {
    PARLEY_RETURN_IF_ERROR(launch_bias_act_inplace(a.c, a.c_type, a.m, a.n, a.ldc, 1.0f, a.bias, a.activation, s));
  }
  return Status::ok();
}

// ---------------------------------------------------------------- GEMM (int8)
Status gemm_int8(const GemmInt8Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (a.m == 0 || a.n == 0) return Status::ok();
  const cudaStream_t s = stream_of(ctx);
  const bool raw = a.c_type == DType::kI32;
  Scratch acc_buf;
  std::int32_t* acc = nullptr;
  std::int64_t ld_acc = a.n;
  if (raw) {
    acc = static_cast<std::int32_t*>(a.c);
    ld_acc = a.ldc;
  } else {
    PARLEY_RETURN_IF_ERROR(acc_buf.acquire(ctx, static_cast<std::size_t>(a.m * a.n) * sizeof(std::int32_t)));
    acc = static_cast<std::int32_t*>(acc_buf.get());
  }
  if (a.k == 0) {
    PARLEY_CUDA_RETURN_IF_ERROR(cudaMemset2DAsync(acc, static_cast<std::size_t>(ld_acc) * 4, 0,
                                                  static_cast<std::size_t>(a.n) * 4,
                                                  static_cast<std::size_t>(a.m), s));
  } else {
    LtInt8Gemm g;
    g.x = a.a;
    g.w = a.b;
    g.y = acc;
    g.m = a.m;
    g.n = a.n;
    g.k = a.k;
    g.ldx = a.lda;
    g.ldw = a.ldb;
    g.ldy = ld_acc;
    Status done = unimplemented("not tried");
    if (int8_gemm_supported(g)) {
      Status err;
      CublasLt* lt = lt_for(ctx, &err);
      if (lt == nullptr) return err;
      done = lt->gemm_int8(g, s);
      if (!done.is_ok() && done.code() != StatusCode::kUnimplemented) return done;
    }
    if (!done.is_ok()) {
      PARLEY_RETURN_IF_ERROR(launch_int8_gemm_simt(a.a, a.b, acc, a.m, a.n, a.k, a.lda, a.ldb, ld_acc, s));
    }
  }
  if (raw) return Status::ok();
  DequantEpilogue e;
  e.x_scale = a.a_scales;
  e.x_per_tensor = a.a_per_tensor;
  e.w_scale = a.b_scales;
  e.w_per_tensor = a.b_per_tensor;
  e.bias = a.bias;
  e.act = static_cast<EpilogueAct>(a.activation);
  e.out = a.c;
  e.out_type = elem_type(a.c_type);
  e.ldo = a.ldc;
  return launch_int8_dequant(acc, a.m, a.n, a.n, e, s);
}

// ---------------------------------------------------------------- 2:4 sparse
struct Calibration {
  std::once_flag once;
  Result<sp24::MetaMap> result = unimplemented("not calibrated");
};

Calibration& calibration(int device) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<Calibration>> table;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = table[device];
  if (!slot) slot = std::make_unique<Calibration>();
  return *slot;
}

std::size_t sparse24_packed_bytes(const Sparse24Matrix& src) {
  if (src.dtype != DType::kI8 || src.cols <= 0 || src.cols % sp24::kTileK != 0 || src.rows <= 0) return 0;
  return static_cast<std::size_t>(sp24::packed_dims(src.rows, src.cols).total_bytes);
}

Status pack_sparse24(const Sparse24Matrix& src, void* dst, std::size_t dst_bytes, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (src.layout != Sparse24Layout::kCpu || src.dtype != DType::kI8) {
    return unimplemented("CUDA pack_sparse24 takes an int8 matrix in the kCpu layout");
  }
  const std::size_t need = sparse24_packed_bytes(src);
  if (need == 0) return unimplemented("CUDA 2:4 GEMM needs K % 64 == 0");
  if (dst == nullptr || dst_bytes < need) return invalid_argument("pack_sparse24: destination too small");
  PARLEY_ASSIGN_OR_RETURN(const sp24::MetaMap map, sparse24_meta_map(ctx.stream.device.index));
  std::vector<std::uint8_t> packed;
  PARLEY_RETURN_IF_ERROR(pack_sparse24_host(
      Sparse24CpuView{src.rows, src.cols, static_cast<const std::int8_t*>(src.values), src.values_ld,
                      src.meta, src.meta_ld},
      map, &packed));
  const cudaStream_t s = stream_of(ctx);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, packed.data(), packed.size(), cudaMemcpyHostToDevice, s));
  // `packed` dies with this frame.
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s));
  return Status::ok();
}

Status sparse24_gemm(const Sparse24GemmArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.a_type != DType::kI8 || a.b.dtype != DType::kI8 || a.b.layout != Sparse24Layout::kBackendPacked) {
    return unimplemented("CUDA 2:4 GEMM runs int8 activations on a weight packed by this backend");
  }
  PARLEY_RETURN_IF_ERROR(sparse24_meta_map(ctx.stream.device.index).status());
  Sparse24Launch l;
  l.x = static_cast<const std::int8_t*>(a.a);
  l.ldx = a.lda;
  l.packed = a.b.values;
  l.m = a.m;
  l.n = a.n;
  l.k = a.k;
  l.epilogue.x_scale = a.a_scales;
  l.epilogue.x_per_tensor = a.a_per_tensor;
  l.epilogue.w_scale = a.b_scales;
  l.epilogue.w_per_tensor = a.b_per_tensor;
  l.epilogue.bias = a.bias;
  l.epilogue.act = static_cast<EpilogueAct>(a.activation);
  l.epilogue.out = a.c;
  l.epilogue.out_type = elem_type(a.c_type);
  l.epilogue.ldo = a.ldc;
  return launch_sparse24_gemm(l, stream_of(ctx));
}

// ---------------------------------------------------------------- Q4 GEMM (GGUF blocks)
std::int64_t gemm_q4_packed_bytes(DType type, std::int64_t n, std::int64_t k) {
  if (!gemm_q4_type(type) || n < 0 || k < 0 || k % engine::block_size(type) != 0) return -1;
  return n * engine::row_bytes(type, k);
}

// The CUDA layout is the GGUF rows as stored (see gemm_q4.h): a copy of the host rows.
Status pack_gemm_q4(const GemmQ4PackArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  const std::int64_t total = gemm_q4_packed_bytes(a.type, a.n, a.k);
  if (total < 0) return invalid_argument("gemm_q4 pack: needs a gemm_q4 type with K a multiple of its block size");
  if (total == 0) return Status::ok();
  if (a.src == nullptr || a.dst == nullptr) return invalid_argument("gemm_q4 pack: src or dst is null");
  const std::int64_t rb = engine::row_bytes(a.type, a.k);
  const std::int64_t src_rb = a.src_row_bytes != 0 ? a.src_row_bytes : rb;
  if (src_rb < rb) return invalid_argument("gemm_q4 pack: src_row_bytes too small");
  const cudaStream_t s = stream_of(ctx);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(a.dst, static_cast<std::size_t>(rb), a.src, static_cast<std::size_t>(src_rb),
                                                static_cast<std::size_t>(rb), static_cast<std::size_t>(a.n),
                                                cudaMemcpyHostToDevice, s));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s));
  return Status::ok();
}

Status gemm_q4(const GemmQ4Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (a.m == 0 || a.n == 0) return Status::ok();
  Scratch scratch;
  const std::size_t bytes = gemm_q4_scratch_bytes(a.m, a.k);
  if (bytes > 0) PARLEY_RETURN_IF_ERROR(scratch.acquire(ctx, bytes));
  return launch_gemm_q4(a, scratch.get(), stream_of(ctx));
}

// ---------------------------------------------------------------- BF16 linear
std::int64_t bf16_packed_bytes(std::int64_t n, std::int64_t k) {
  if (n < 0 || k < 0) return -1;
  return n * k * 2;
}

// Host f32 -> bf16 [n, k] (round to nearest even, as the CPU packer), then one copy.
Status pack_bf16(const Bf16PackArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  const std::int64_t total = bf16_packed_bytes(a.n, a.k);
  if (total == 0) return Status::ok();
  if (static_cast<std::int64_t>(a.dst_bytes) < total) return invalid_argument("pack_bf16: destination too small");
  std::vector<std::uint16_t> host(static_cast<std::size_t>(a.n * a.k));
  for (std::int64_t r = 0; r < a.n; ++r) {
    engine::f32_to_bf16_n(a.w + r * a.ldw, host.data() + r * a.k, static_cast<std::size_t>(a.k));
  }
  const cudaStream_t s = stream_of(ctx);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(a.dst, host.data(), static_cast<std::size_t>(total), cudaMemcpyHostToDevice, s));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s));  // `host` dies with this frame
  return Status::ok();
}

// bf16(A) into scratch, then cuBLASLt bf16 x bf16 -> f32 with the bias/activation epilogue.
Status bf16_linear(const Bf16LinearArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (a.m == 0 || a.n == 0) return Status::ok();
  Scratch abf;
  if (a.k > 0) {
    PARLEY_RETURN_IF_ERROR(abf.acquire(ctx, static_cast<std::size_t>(a.m * a.k) * 2));
    PARLEY_RETURN_IF_ERROR(launch_f32_to_bf16(a.a, a.lda, a.m, a.k, abf.get(), a.k, stream_of(ctx)));
  }
  GemmArgs g;
  g.m = a.m;
  g.n = a.n;
  g.k = a.k;
  g.a = abf.get();
  g.lda = a.k;
  g.a_type = DType::kBF16;
  g.b = a.w;
  g.ldb = a.k;
  g.b_type = DType::kBF16;
  g.c = a.c;
  g.ldc = a.ldc;
  g.c_type = DType::kF32;
  g.bias = a.bias;
  g.activation = a.activation;
  return gemm(g, ctx);
}

// ---------------------------------------------------------------- streams and graphs
Status stream_create(const engine::Device& device, engine::StreamHandle* out) {
  if (!device.is_cuda() || device.index < 0 || device.index >= engine::cuda::cuda_device_count()) {
    return unavailable("no CUDA device " + device.to_string());
  }
  engine::cuda::DeviceGuard guard(device.index);
  cudaStream_t s = nullptr;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  *out = s;
  return Status::ok();
}

void stream_destroy(const engine::Device& device, engine::StreamHandle stream) {
  if (stream == nullptr || !device.is_cuda()) return;
  engine::cuda::DeviceGuard guard(device.index);
  const cudaError_t err = cudaStreamDestroy(static_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) {
    PARLEY_LOG(kWarn) << engine::cuda::cuda_error_text(err, "cudaStreamDestroy(stream)", __FILE__, __LINE__);
  }
}

Status graph_begin_capture(const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (stream_of(ctx) == nullptr) return invalid_argument("graph capture needs a stream of its own (not the legacy default)");
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream_of(ctx), cudaStreamCaptureModeThreadLocal));
  return Status::ok();
}

Status graph_end_capture(const ExecContext& ctx, void** graph_out) {
  *graph_out = nullptr;
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  cudaGraph_t graph = nullptr;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamEndCapture(stream_of(ctx), &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);
  if (err != cudaSuccess) return engine::cuda::cuda_status(err, "cudaGraphInstantiate", __FILE__, __LINE__);
  *graph_out = exec;
  return Status::ok();
}

Status graph_launch(void* graph, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), stream_of(ctx)));
  return Status::ok();
}

void graph_destroy(void* graph) {
  if (graph != nullptr) (void)cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}

// ---------------------------------------------------------------- the rest: thin adapters
template <typename Args, Status (*Launch)(const Args&, cudaStream_t)>
Status run(const Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  return Launch(a, stream_of(ctx));
}

// Training ops that check device-resident values (ids, labels, lengths) before writing: a small
// scratch word for the answer.
template <typename Args, Status (*Launch)(const Args&, void*, cudaStream_t)>
Status run_checked(const Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  Scratch check;
  PARLEY_RETURN_IF_ERROR(check.acquire(ctx, kTrainCheckScratchBytes));
  return Launch(a, check.get(), stream_of(ctx));
}

Status norm_backward(const NormBackwardArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  Scratch stats;
  const std::size_t bytes = norm_backward_scratch_bytes(a);
  if (bytes > 0) PARLEY_RETURN_IF_ERROR(stats.acquire(ctx, bytes));
  return launch_norm_backward(a, stats.get(), stream_of(ctx));
}

Status gguf_quantize(const GgufQuantizeArgs&, const ExecContext&) {
  return unimplemented("GGUF quantization runs on the CPU (weights are converted at load)");
}

Status copy_to_device(void* dst, const void* src, std::size_t bytes, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (bytes == 0) return Status::ok();
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_of(ctx)));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_of(ctx)));
  return Status::ok();
}

Status copy_to_host(void* dst, const void* src, std::size_t bytes, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  if (bytes == 0) return Status::ok();
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(ctx)));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_of(ctx)));
  return Status::ok();
}

Status synchronize(const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(enter(ctx));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_of(ctx)));
  return Status::ok();
}

void* device_alloc(std::size_t bytes, const ExecContext& ctx) {
  if (!enter(ctx).is_ok()) return nullptr;
  void* p = nullptr;
  if (cudaMalloc(&p, bytes == 0 ? 1 : bytes) != cudaSuccess) {
    (void)cudaGetLastError();
    return nullptr;
  }
  return p;
}

void device_free(void* ptr, const ExecContext& ctx) {
  if (ptr == nullptr || !enter(ctx).is_ok()) return;
  const cudaError_t err = cudaFree(ptr);
  if (err != cudaSuccess) {
    PARLEY_LOG(kWarn) << engine::cuda::cuda_error_text(err, "cudaFree(ptr)", __FILE__, __LINE__);
  }
}

std::int64_t dim_at(const OpQuery& q, std::size_t i, std::int64_t fallback) {
  return i < q.dims.size() ? q.dims[i] : fallback;
}
DType dtype_at(const OpQuery& q, std::size_t i) { return i < q.dtypes.size() ? q.dtypes[i] : DType::kF32; }

bool supports(const OpQuery& q) {
  if (engine::cuda::cuda_device_count() == 0) return false;
  switch (q.op) {
    case Op::kGemm: {
      const DType a = dtype_at(q, 0), b = dtype_at(q, 1), c = dtype_at(q, 2);
      return float_type(a) && (b == a || engine::is_block_quantized(b)) && (c == a || c == DType::kF32);
    }
    case Op::kGemmInt8: {
      const DType c = dtype_at(q, 0);
      return float_type(c) || c == DType::kI32;
    }
    case Op::kSparse24Gemm: {
      if (dtype_at(q, 0) != DType::kI8 || dtype_at(q, 1) != DType::kI8 || !float_type(dtype_at(q, 2))) return false;
      const std::int64_t k = dim_at(q, 2, 0);
      if (k <= 0 || k % sp24::kTileK != 0) return false;
      return sparse24_meta_map(0).ok();
    }
    case Op::kNorm:
    case Op::kActivation:
    case Op::kSoftmax:
    case Op::kRope:
    case Op::kKvCacheWrite:
    case Op::kConv1d:
      return float_type(dtype_at(q, 0));
    case Op::kAttentionPrefill:
    case Op::kAttentionDecode:
      return float_type(dtype_at(q, 0)) && dim_at(q, 2, 0) <= kMaxAttentionHeadDim;
    case Op::kEmbedding: {
      const DType t = dtype_at(q, 0);
      return (float_type(t) || t == DType::kI8 || engine::is_block_quantized(t)) && float_type(dtype_at(q, 1));
    }
    case Op::kQuantize:
    case Op::kDequantize:
      return float_type(dtype_at(q, 0));
    case Op::kGgufQuantize:
      return false;
    case Op::kGgufDequantize:
      return engine::is_block_quantized(dtype_at(q, 0)) && float_type(dtype_at(q, 1));
    case Op::kSample: {
      // Greedy always; temperature sampling when the candidate set (top_k) is <= 256 (launch
      // returns UNIMPLEMENTED beyond that; the LM service draws on the CPU from host logits).
      const std::int64_t vocab = dim_at(q, 0, 0), top_k = dim_at(q, 1, 1), random = dim_at(q, 2, 1);
      if (random == 0 || top_k == 1) return true;
      const std::int64_t candidates = top_k <= 0 || top_k >= vocab ? vocab : top_k;
      return candidates <= kMaxSampleCandidates;
    }
    case Op::kStridedCopy:
      return true;
    case Op::kElementwise:
      // f32 arithmetic only (tensor_ops.h): the query must name its types, all f32. An empty
      // query (the ONNX runtime's "every graph op?") is false, as reduce and gather are.
      return !q.dtypes.empty() && std::all_of(q.dtypes.begin(), q.dtypes.end(), [](DType t) { return t == DType::kF32; });
    case Op::kReduce:
    case Op::kGather:
    case Op::kAffineQuantize:
      // No CUDA kernels yet: the ONNX runtime runs graph models on the CPU.
      return false;
    case Op::kGemmQ4: {
      const DType t = dtype_at(q, 0);
      return gemm_q4_type(t) && dim_at(q, 2, 0) % engine::block_size(t) == 0;
    }
    case Op::kBf16Linear:
    case Op::kDequantizeSum:
      return true;
    case Op::kQuantizeRows:
      return dim_at(q, 1, 0) <= kMaxQuantizeRowsCols;
    case Op::kNormBackward:
    case Op::kActivationBackward:
    case Op::kAttentionBackward:
    case Op::kEmbeddingBackward:
    case Op::kCrossEntropy:
    case Op::kAdamW:
      return true;  // train.h
    case Op::kInt8Linear:
      // QDQ models' packed int8 linear: CPU only for now (the ONNX runtime falls back to its
      // bf16 linear, which the CUDA backend has).
      return false;
  }
  return false;
}

Backend make_table() {
  Backend b;
  b.name = "cuda";
  b.device_type = engine::DeviceType::kCuda;
  b.supports = &supports;
  b.gemm = &gemm;
  b.gemm_int8 = &gemm_int8;
  b.sparse24_gemm = &sparse24_gemm;
  b.sparse24_packed_bytes = &sparse24_packed_bytes;
  b.pack_sparse24 = &pack_sparse24;
  b.norm = &run<NormArgs, &launch_norm>;
  b.activation = &run<ActivationArgs, &launch_activation>;
  b.softmax = &run<SoftmaxArgs, &launch_softmax>;
  b.rope = &run<RopeArgs, &launch_rope>;
  b.attention_prefill = &run<AttentionPrefillArgs, &launch_attention_prefill>;
  b.attention_decode = &run<AttentionDecodeArgs, &launch_attention_decode>;
  b.kv_cache_write = &run<KvCacheWriteArgs, &launch_kv_cache_write>;
  b.embedding = &run<EmbeddingArgs, &launch_embedding>;
  b.quantize = &run<QuantizeArgs, &launch_quantize>;
  b.dequantize = &run<DequantizeArgs, &launch_dequantize>;
  b.gguf_quantize = &gguf_quantize;
  b.gguf_dequantize = &run<GgufDequantizeArgs, &launch_gguf_dequantize>;
  b.conv1d = &run<Conv1dArgs, &launch_conv1d>;
  b.sample = &run<SampleArgs, &launch_sample>;
  b.copy_to_device = &copy_to_device;
  b.copy_to_host = &copy_to_host;
  b.synchronize = &synchronize;
  b.device_alloc = &device_alloc;
  b.device_free = &device_free;
  b.gemm_q4 = &gemm_q4;
  b.gemm_q4_packed_bytes = &gemm_q4_packed_bytes;
  b.pack_gemm_q4 = &pack_gemm_q4;
  b.bf16_linear = &bf16_linear;
  b.bf16_packed_bytes = &bf16_packed_bytes;
  b.pack_bf16 = &pack_bf16;
  b.quantize_rows = &run<QuantizeRowsArgs, &launch_quantize_rows>;
  b.dequantize_sum = &run<DequantizeSumArgs, &launch_dequantize_sum>;
  b.stream_create = &stream_create;
  b.stream_destroy = &stream_destroy;
  b.graph_begin_capture = &graph_begin_capture;
  b.graph_end_capture = &graph_end_capture;
  b.graph_launch = &graph_launch;
  b.graph_destroy = &graph_destroy;
  b.strided_copy = &run<StridedCopyArgs, &launch_strided_copy>;
  b.elementwise = &run<ElementwiseArgs, &launch_elementwise>;
  b.norm_backward = &norm_backward;
  b.activation_backward = &run<ActivationBackwardArgs, &launch_activation_backward>;
  b.attention_backward = &run_checked<AttentionBackwardArgs, &launch_attention_backward>;
  b.embedding_backward = &run_checked<EmbeddingBackwardArgs, &launch_embedding_backward>;
  b.cross_entropy = &run_checked<CrossEntropyArgs, &launch_cross_entropy>;
  b.adamw = &run<AdamWArgs, &launch_adamw>;
  return b;
}

}  // namespace

Result<sp24::MetaMap> sparse24_meta_map(int device) {
  Calibration& c = calibration(device);
  std::call_once(c.once, [&c, device] {
    if (device < 0 || device >= engine::cuda::cuda_device_count()) {
      c.result = unavailable("no CUDA device " + std::to_string(device));
      return;
    }
    engine::cuda::DeviceGuard guard(device);
    cudaStream_t s = nullptr;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      (void)cudaGetLastError();
      c.result = internal_error("sparse24 calibration: cannot create a stream");
      return;
    }
    auto calibrated = calibrate_sparse24(s);
    (void)cudaStreamDestroy(s);
    if (calibrated.ok()) {
      c.result = calibrated->map;
      PARLEY_LOG(kInfo) << "CUDA 2:4 sparse GEMM on device " << device << ": metadata map " << calibrated->name;
    } else {
      c.result = calibrated.status();
      PARLEY_LOG(kWarn) << "CUDA 2:4 sparse GEMM disabled on device " << device << ": "
                        << c.result.status().to_string();
    }
  });
  return c.result;
}

const Backend& cuda_backend_table() {
  static const Backend table = make_table();
  return table;
}

}  // namespace parley::kernels::cuda

namespace parley::kernels::detail {

// The registry's hook (kernels/backend.h): present when built with CUDA and a device exists.
const Backend* cuda_backend() {
  if (engine::cuda::cuda_device_count() == 0) return nullptr;
  return &cuda::cuda_backend_table();
}

}  // namespace parley::kernels::detail
