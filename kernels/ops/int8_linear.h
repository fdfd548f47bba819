// INT8 linear layer on weights packed once: unsigned 8-bit activations with a zero point times
// signed 8-bit weights, exact int32 sums, then y = act(scale[j] * (sum - a_zero * colsum[j]) + b).
// Why: QDQ-quantized ONNX models (smart-turn's end-of-turn model) carry exactly this arithmetic
// (uint8 activations with a zero point, int8 per-channel weights), which is what vpdpbusd
// multiplies (u8 x s8), so it runs at the int8 rate without gemm_int8's per-call weight
// packing and with results that equal the model's integer arithmetic. Depends on
// kernels/ops/common.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::kernels {

/// Packs W [n, k] int8 (HOST memory, row stride ldw >= k) into `dst` (the backend's memory,
/// Backend::int8_packed_bytes(n, k) bytes), with each output channel's sum of weights. CPU
/// layout: panels of 32 output channels, byte (channel p*32 + c, input 4*q + t) at
/// ((p * q_count + q) * 32 + c) * 4 + t, q_count = ceil(k / 4), zero past n and k; then
/// int32 colsum[ceil(n / 32) * 32].
struct Int8PackArgs {
  std::int64_t n = 0, k = 0;
  const std::int8_t* w = nullptr;
  std::int64_t ldw = 0;
  void* dst = nullptr;
  std::size_t dst_bytes = 0;
};

/// C[m, n] = act(S[i,j] * (sum_k A[i,k] * W[j,k] - a_zero * sum_k W[j,k] + row_offsets[i]) + bias[j])
/// with S[i,j] = row_scales[i] * scales[j] (row_scales given) or scales[j].
/// A uint8 [m, k] (lda), a_zero in [0, 255]; W packed as above for the same backend; scales f32
/// [n] (a per-tensor scale is n copies); row_scales f32 [m] or null (per-token activation
/// scales: symmetric int8 activations are A = a + 128 with a_zero 128, and the result equals
/// gemm_int8's bit for bit); row_offsets int32 [m] or null (a product of two activations stores
/// its second operand's bytes as byte - 128 and puts that shift's share here); bias f32 [n] or
/// null; C f32 (ldc). The int32 sums are exact for k <= 65,000
/// (255 * 128 * k < 2^31), so backends differ only in the float epilogue.
struct Int8LinearArgs {
  std::int64_t m = 0, n = 0, k = 0;
  const std::uint8_t* a = nullptr;
  std::int64_t lda = 0;
  std::int32_t a_zero = 0;
  const void* w = nullptr;
  const float* scales = nullptr;
  const float* row_scales = nullptr;
  const std::int32_t* row_offsets = nullptr;
  const float* bias = nullptr;
  Activation activation = Activation::kNone;
  float* c = nullptr;
  std::int64_t ldc = 0;
};

/// Rows from which a model should prefer int8_linear on packed weights over gemm_int8 (which
/// reads unpacked weights once per row block: for fewer rows it does no packing at all).
inline constexpr std::int64_t kInt8LinearMinRows = 16;

Status validate(const Int8PackArgs& args);
Status validate(const Int8LinearArgs& args);

namespace cpu {
/// True when this CPU runs int8_linear at speed (the avx512_vnni ISA level); otherwise it runs a
/// scalar reference. The CPU backend's supports() answers this for kInt8Linear.
bool int8_linear_fast();
/// Bytes of the CPU layout (-1 for negative sizes).
std::int64_t int8_packed_bytes(std::int64_t n, std::int64_t k);
/// Host -> CPU panels and column sums (the CPU backend's pack hook).
Status pack_int8(const Int8PackArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// Blocks until done; tasks of 96 rows x 64 channels on ctx.threads.
Status int8_linear(const Int8LinearArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
