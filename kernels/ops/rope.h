// Rotary position embeddings (RoPE), applied in place to queries or keys.
// Why: Llama/SmolLM/Qwen-family LMs; both pairings in use are supported and theta, rotary width
// and positions (offsets for decode, per-token for batching) are parameters.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Which dimensions rotate together:
///   kHalf (NeoX / Hugging Face "rotate_half"): pairs (i, i + rotary_dim/2).
///   kInterleaved (GPT-J / original Llama / ggml "normal" mode): pairs (2i, 2i+1).
enum class RopeStyle : std::uint8_t { kHalf = 0, kInterleaved = 1 };

/// For token t, head h, pair index i in [0, rotary_dim/2):
///   pos = positions ? positions[t] : position_offset + t
///   angle = pos * position_scale * theta^(-2i / rotary_dim)
///   (x0, x1) <- (x0 cos - x1 sin, x0 sin + x1 cos)
/// Dimensions >= rotary_dim are left unchanged (partial rotary, e.g. rotary_dim = head_dim/2).
/// x element (t, h, d) lives at x + t*token_stride + h*head_stride + d (strides in elements);
/// a contiguous [tokens, heads, head_dim] tensor has token_stride = heads*head_dim,
/// head_stride = head_dim. dtype f32, f16, bf16; math in f32 (angles computed in f64 on CPU).
struct RopeArgs {
  RopeStyle style = RopeStyle::kHalf;
  std::int64_t tokens = 0, heads = 0, head_dim = 0;
  std::int64_t rotary_dim = 0;  ///< 0 = head_dim; must be even and <= head_dim
  DType dtype = DType::kF32;
  void* x = nullptr;
  std::int64_t token_stride = 0;
  std::int64_t head_stride = 0;
  const std::int32_t* positions = nullptr;  ///< [tokens], or nullptr
  std::int64_t position_offset = 0;
  float theta = 10000.0f;
  float position_scale = 1.0f;  ///< linear position interpolation (1 = off)
};

Status validate(const RopeArgs& args);

namespace cpu {
Status rope(const RopeArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
