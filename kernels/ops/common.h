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
/// start-up by CPUID and logged); the others cap the variant (tests run each one).
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
  void* workspace = nullptr;         ///< scratch on stream.device; nullptr = the backend's own
  std::size_t workspace_bytes = 0;

  static ExecContext cpu() { return {}; }
};

}  // namespace parley::kernels
