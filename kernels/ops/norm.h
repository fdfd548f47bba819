// LayerNorm and RMSNorm over the last dimension, with an optional fused residual add.
// Why: every transformer block normalizes (BERT-style post-norm: LN(x + residual); Llama-style
// pre-norm: h = x + residual kept for the next block, y = RMSNorm(h)); fusing saves a pass.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

enum class NormKind : std::uint8_t { kLayerNorm = 0, kRmsNorm = 1 };

/// For each of `rows` rows of `cols` values:
///   h = x + residual            (residual optional; h = x without it)
///   residual_out = h            (optional; may alias x or residual exactly, row for row)
///   LayerNorm: y = (h - mean(h)) / sqrt(var(h) + eps) * gamma + beta     (biased variance)
///   RMSNorm:   y = h / sqrt(mean(h^2) + eps) * gamma                     (beta ignored)
/// x, residual, residual_out and y share `dtype` (f32, f16, bf16); statistics in f32.
/// gamma/beta are f32 [cols]; gamma nullptr = 1, beta nullptr = 0. y may alias x.
/// Leading dimensions in elements.
struct NormArgs {
  NormKind kind = NormKind::kLayerNorm;
  std::int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;
  const void* x = nullptr;
  std::int64_t ldx = 0;
  const void* residual = nullptr;
  std::int64_t ld_residual = 0;
  void* residual_out = nullptr;
  std::int64_t ld_residual_out = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float eps = 1e-5f;
  void* y = nullptr;
  std::int64_t ldy = 0;
};

Status validate(const NormArgs& args);

namespace cpu {
Status norm(const NormArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
