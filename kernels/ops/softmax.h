// Masked, scaled softmax over the last dimension (attention scores, classifier heads).
// Why: attention in pieces (scores GEMM, softmax, GEMM) for models the fused kernels do not
// cover, and any head that needs probabilities. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// For each row r of `cols` values:
///   z[j] = scale * x[r, j] + mask[mr, j]          (mask optional, additive, f32)
///   z[j] = -inf  where causal and j > (r % causal_queries) + causal_offset
///   y[r, :] = softmax(z)     (a row with every entry -inf gives all zeros, never NaN)
/// Mask row: mr = (r / mask_row_div) % mask_rows. Examples with scores [B, H, Q, K] flattened
/// to rows = B*H*Q: key-padding mask [B, K] -> mask_row_div = H*Q, mask_rows = B; per-query
/// mask [Q, K] -> mask_row_div = 1, mask_rows = Q. Use -inf (or a large negative) to mask.
/// x and y share dtype (f32, f16, bf16); math in f32. y may alias x.
struct SoftmaxArgs {
  std::int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;
  const void* x = nullptr;
  std::int64_t ldx = 0;
  void* y = nullptr;
  std::int64_t ldy = 0;
  float scale = 1.0f;
  const float* mask = nullptr;
  std::int64_t ld_mask = 0;
  std::int64_t mask_rows = 1;
  std::int64_t mask_row_div = 1;
  bool causal = false;
  std::int64_t causal_queries = 1;  ///< rows per causal block (Q); query index = r % Q
  std::int64_t causal_offset = 0;   ///< keys before the first query (past length K - Q)
};

Status validate(const SoftmaxArgs& args);

namespace cpu {
Status softmax(const SoftmaxArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
