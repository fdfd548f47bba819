// BF16 linear layer: y = act(bf16(x) . bf16(W)^T + b), x f32 [M,K] rounded to bf16 on the fly, W
// packed once at load into the backend's own layout, f32 accumulation and epilogue.
// Why: bf16 runs at twice the FP32 rate on CPUs with AVX-512 BF16 (and on every tensor-core GPU)
// at FP32-class accuracy (all-MiniLM-L6-v2: cosine >= 0.9999 to FP64) without int8's quantize /
// dequantize passes. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels {

/// Packs W [n, k] f32 (HOST memory, row stride ldw >= k), rounded to bf16 (nearest even), into
/// `dst` (the backend's memory, Backend::bf16_packed_bytes(n, k) bytes). Layouts:
///   CPU:  panels of 32 output channels, element (channel p*32 + c, input 2*kp + e) at
///         uint16 index ((p * k_pairs + kp) * 32 + c) * 2 + e, k_pairs = ceil(k / 2); channels
///         past n and the odd input past k are zero (vdpbf16ps pairs).
///   CUDA: bf16 [n, k] row-major (cuBLASLt's operand).
struct Bf16PackArgs {
  std::int64_t n = 0, k = 0;
  const float* w = nullptr;
  std::int64_t ldw = 0;
  void* dst = nullptr;
  std::size_t dst_bytes = 0;
};

/// C[m, n] = act(bf16(A) . W^T + bias), A f32 [m, k] (lda), W packed as above for the same
/// backend, C f32 (ldc), bias f32 [n] or null. bf16 x bf16 products are exact in f32; backends
/// differ only in summation order.
struct Bf16LinearArgs {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const void* w = nullptr;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float* c = nullptr;
  std::int64_t ldc = 0;
};

Status validate(const Bf16PackArgs& args);
Status validate(const Bf16LinearArgs& args);

namespace cpu {
/// True when this CPU runs bf16_linear at speed (AVX-512 BF16 and the avx512_vnni ISA level);
/// otherwise bf16_linear runs a slow scalar reference. The CPU backend's supports() answers
/// this for kBf16Linear, so models choose bf16 only where it pays.
bool bf16_linear_fast();
/// Bytes of the CPU panel layout (-1 for negative sizes).
std::int64_t bf16_packed_bytes(std::int64_t n, std::int64_t k);
/// Host -> CPU panels (the CPU backend's pack hook).
Status pack_bf16(const Bf16PackArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// Blocks until done; tasks of 48 rows x 64 channels on ctx.threads. The scalar reference gives
/// the same products (bf16 x bf16 exact in f32) summed in a different order.
Status bf16_linear(const Bf16LinearArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
