// Training ops: the backward passes of the encoder's non-GEMM ops (LayerNorm, activations,
// attention, embedding gathers), softmax cross-entropy and the AdamW update.
// Why: per-bot fine-tuning (shared/models/encoder/train) runs on the backend table like every
// forward pass; the GEMM backward passes are plain gemm calls (dX = dY.W, dW = dY^T.X).
// Depends on kernels/ops/common.h. All f32 (master weights and gradients stay f32).
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// LayerNorm backward from the saved normalizer input h (forward: y = (h - mean)/sd * gamma + beta,
/// biased variance, statistics recomputed here):
///   dx[r]   = dx_beta * dx[r] + rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma
///   dgamma  = sum_r dy * xhat ; dbeta = sum_r dy        (written, not accumulated; nullable)
/// dx may alias dy (then dx_beta must be 0). Leading dimensions in elements.
struct NormBackwardArgs {
  std::int64_t rows = 0, cols = 0;
  const float* h = nullptr;
  std::int64_t ldh = 0;
  const float* dy = nullptr;
  std::int64_t lddy = 0;
  const float* gamma = nullptr;  ///< nullptr = 1
  float eps = 1e-12f;
  float* dx = nullptr;
  std::int64_t lddx = 0;
  float dx_beta = 0.0f;  ///< 0: overwrite dx; 1: add to it
  float* dgamma = nullptr;
  float* dbeta = nullptr;
};

/// Activation backward: dx = dy * act'(x), x the pre-activation input. dx may alias dy.
struct ActivationBackwardArgs {
  Activation activation = Activation::kGeluErf;
  std::int64_t rows = 0, cols = 0;
  const float* x = nullptr;
  std::int64_t ldx = 0;
  const float* dy = nullptr;
  std::int64_t lddy = 0;
  float* dx = nullptr;
  std::int64_t lddx = 0;
};

/// Bidirectional self-attention backward over packed sequences (no padding): sequence s holds
/// rows [offsets[s], offsets[s+1]) of qkv, whose row t is [q (heads*head_dim) | k | v] (ld =
/// ld_qkv); the forward was out = softmax(scale * q k^T) v per head. The probabilities are
/// recomputed from q and k. Writes dqkv (same layout; every q/k/v element of every listed row).
/// offsets is device memory of `sequences + 1` int32; `max_len` bounds every sequence length.
struct AttentionBackwardArgs {
  std::int64_t sequences = 0, num_heads = 0, head_dim = 0, max_len = 0;
  const std::int32_t* offsets = nullptr;
  const float* qkv = nullptr;
  std::int64_t ld_qkv = 0;
  const float* dout = nullptr;  ///< [rows, num_heads*head_dim]
  std::int64_t ld_dout = 0;
  float* dqkv = nullptr;
  std::int64_t ld_dqkv = 0;
  float scale = 0.0f;  ///< 0 = 1/sqrt(head_dim)
  /// The forward's relative position bias (AttentionPrefillArgs::rel_bias; a constant: no
  /// gradient is produced for it), or nullptr.
  const float* rel_bias = nullptr;
  std::int64_t rel_bias_radius = 0;
};

/// Embedding (row gather) backward: grad[ids[t], :] += dy[t, :] for t < num_tokens (scatter-add;
/// repeated ids accumulate). With zero_grad the whole [rows, dim] grad is zeroed first.
/// ids outside [0, rows) are InvalidArgument (nothing written).
struct EmbeddingBackwardArgs {
  std::int64_t num_tokens = 0, dim = 0, rows = 0;
  const std::int32_t* ids = nullptr;
  const float* dy = nullptr;
  std::int64_t lddy = 0;
  float* grad = nullptr;  ///< [rows, ld_grad]
  std::int64_t ld_grad = 0;
  bool zero_grad = false;
};

/// Softmax cross-entropy per row: p = softmax(logits[r]); with label y = labels[r] >= 0 and
/// smoothing e: target = (1-e) onehot(y) + e/classes; loss[r] = -sum target log p;
/// dlogits[r] = scale * (p - target). Rows with a negative label get loss 0 and dlogits 0.
/// dlogits may alias logits; loss (nullable) is [rows].
struct CrossEntropyArgs {
  std::int64_t rows = 0, classes = 0;
  const float* logits = nullptr;
  std::int64_t ld_logits = 0;
  const std::int32_t* labels = nullptr;
  float* dlogits = nullptr;
  std::int64_t ld_dlogits = 0;
  float* loss = nullptr;
  float scale = 1.0f;
  float label_smoothing = 0.0f;
};

/// AdamW (decoupled weight decay, bias-corrected moments), element-wise over n values:
///   g = grad_scale * grad;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
///   param -= lr * (m / (1-b1^step) / (sqrt(v / (1-b2^step)) + eps) + weight_decay * param)
/// mask (nullable, n bytes): where mask == 0 the parameter is set to 0 and its moments stay 0
/// (2:4 sparsity with a fixed mask). zero_grad clears grad after the update.
struct AdamWArgs {
  std::int64_t n = 0;
  float* param = nullptr;
  float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  const std::uint8_t* mask = nullptr;
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  float grad_scale = 1.0f;
  std::int64_t step = 1;  ///< 1-based
  bool zero_grad = false;
};

Status validate(const NormBackwardArgs& args);
Status validate(const ActivationBackwardArgs& args);
Status validate(const AttentionBackwardArgs& args);
Status validate(const EmbeddingBackwardArgs& args);
Status validate(const CrossEntropyArgs& args);
/// Everything validate() checks but the ids / labels themselves, which live in device memory
/// on a GPU (the CUDA backend checks those on the device before it writes anything).
Status validate_sizes(const EmbeddingBackwardArgs& args);
Status validate_sizes(const CrossEntropyArgs& args);
Status validate(const AdamWArgs& args);

/// Host references every backend matches: act'(x).
float activation_grad_ref(Activation a, float x);

namespace cpu {
Status norm_backward(const NormBackwardArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status activation_backward(const ActivationBackwardArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status attention_backward(const AttentionBackwardArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status embedding_backward(const EmbeddingBackwardArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status cross_entropy(const CrossEntropyArgs& args, const ExecContext& ctx = ExecContext::cpu());
Status adamw(const AdamWArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
