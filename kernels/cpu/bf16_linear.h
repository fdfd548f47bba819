// BF16 linear layer for the CPU: y = act(x W^T + b) with x f32 [M,K] (rounded to bf16 on the
// fly), W pre-packed once into bf16 VNNI-style panels, f32 accumulation (AVX-512 BF16 vdpbf16ps).
// Why: at twice the FP32 FMA rate and the rate of a two-pass int8 linear, bf16 keeps the
// encoder at FP32-class accuracy (all-MiniLM-L6-v2: cosine >= 0.9999 to FP64) without the int8
// quantize / dequantize passes. CPU only (host memory; not in the Backend table).
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels {

/// W [n, k] f32 packed as bf16 (round to nearest even): panels of 32 output channels,
///   element (channel p*32 + c, input 2*kp + e) at panels[((p * k_pairs + kp) * 32 + c) * 2 + e],
/// k_pairs = ceil(k / 2); channels past n and the odd input past k are zero.
struct Bf16PackedWeights {
  std::int64_t n = 0, k = 0, k_pairs = 0;
  std::vector<std::uint16_t> panels;
  std::size_t bytes() const { return panels.size() * sizeof(std::uint16_t); }
};

/// Packs w [n, k] (row stride ldw >= k). InvalidArgument on negative sizes, null w, ldw < k.
Status pack_bf16_weights(const float* w, std::int64_t n, std::int64_t k, std::int64_t ldw, Bf16PackedWeights& out);

/// C[m, n] = act(bf16(A) . W^T + bias), A f32 [m, k] (lda), C f32 (ldc), bias f32 [n] or null.
struct Bf16LinearArgs {
  std::int64_t m = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const Bf16PackedWeights* w = nullptr;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float* c = nullptr;
  std::int64_t ldc = 0;
};

Status validate(const Bf16LinearArgs& args);

namespace cpu {
/// True when this CPU runs bf16_linear at speed (AVX-512 BF16 and the avx512_vnni ISA level);
/// otherwise bf16_linear runs a slow scalar reference. Use it to choose bf16 at load time.
bool bf16_linear_fast();
/// Blocks until done; tasks of 48 rows x 64 channels on ctx.threads. The scalar reference gives
/// the same products (bf16 x bf16 exact in f32) summed in a different order.
Status bf16_linear(const Bf16LinearArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
