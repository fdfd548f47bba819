// Types shared by every op's Args: the activation enum, the CPU ISA selector and ExecContext.
// Why: each op header is a plain struct of raw pointers and sizes; what runs it (device, stream,
// threads, scratch) travels separately so the same Args work on every backend.
// Depends on shared/engine/device.h, shared/engine/dtype.h (no device code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/engine/device.h"
#include "shared/engine/dtype.h"

namespace parley::kernels {

using engine::DType;

class ThreadPool;  // kernels/cpu/thread_pool.h

/// Element-wise activation, used standalone (activation.h) and as a GEMM/conv epilogue.
/// kGeluErf: 0.5x(1+erf(x/sqrt2)); kGeluTanh: 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)));
/// kSilu: x*sigmoid(x); kRelu: max(x,0).
enum class Activation : std::uint8_t { kNone = 0, kRelu = 1, kGeluErf = 2, kGeluTanh = 3, kSilu = 4 };
std::string_view activation_name(Activation a);

/// Instruction-set variants of the CPU backend. kAuto = the best the CPU has (chosen once at
/// start-up by CPUID and logged), AMX tiles included where present (cpu/isa.h); the others cap
/// the variant (tests run each one), and kAvx512Vnni means the AVX-512 vector kernels.
enum class CpuIsa : std::uint8_t { kAuto = 0, kScalar = 1, kAvx2 = 2, kAvx512Vnni = 3 };
std::string_view cpu_isa_name(CpuIsa isa);

/// Where and how an op runs. Cheap value type; does not own anything.
struct ExecContext {
  engine::Stream stream = engine::Stream::cpu();  ///< device + stream (CUDA: cudaStream_t)
  ThreadPool* threads = nullptr;     ///< CPU: pool to run on; nullptr = ThreadPool::global()
  CpuIsa cpu_isa = CpuIsa::kAuto;    ///< CPU: highest ISA variant allowed (clamped to the CPU's)
  /// f32 ops may round their operands to bf16 for the products (f32 accumulation) where a kernel
  /// has such a path and the CPU runs it natively (oneDNN's "fpmath mode bf16"); today the CPU
  /// stride-1 convolution (AVX512_BF16). Off by default: results differ from f32 at ~1e-3 relative.
  bool allow_bf16 = false;
  /// f32 GEMMs (gemm.h with a, b and c all f32) multiply bf16-rounded operands with f32
  /// accumulation where the device runs bf16 natively: the CPU with AMX (tdpbf16ps) or else
  /// AVX512_BF16 (vdpbf16ps, ~2x the f32 rate on AMD Zen 4, below it on an Intel Xeon), CUDA
  /// through cuBLASLt's CUBLAS_COMPUTE_32F_FAST_16BF. Mixed-precision
  /// training sets it (shared/models/encoder/train); separate from allow_bf16 so that models
  /// opting into bf16 convolutions keep f32 GEMMs. Elsewhere, and for tiny products, f32 runs.
  bool bf16_gemm = false;
  void* workspace = nullptr;         ///< scratch on stream.device; nullptr = the backend's own
  std::size_t workspace_bytes = 0;

  static ExecContext cpu() { return {}; }
};

}  // namespace parley::kernels
