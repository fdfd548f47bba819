// TrainableEncoder: a BERT-family encoder whose FP32 master weights live on the model's device
// with gradients and AdamW moments, a forward pass that keeps what the backward pass needs, and
// that backward pass (linears, LayerNorm, GELU, attention, embeddings) — all layers trained, or
// the top layers plus LoRA adapters below them, optionally with 2:4-sparse linears (fixed masks).
// Why: per-bot fine-tuning (services/nlu) and the QA reader train the shared encoder this way.
// Depends on shared/models/encoder (weights, config, batch), shared/models/runtime, kernels/ (the
// backend table: gemm, norm, embedding, attention_prefill, strided_copy and ops/train.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/models/encoder/batch.h"
#include "shared/models/encoder/config.h"
#include "shared/models/encoder/model.h"
#include "shared/models/runtime/model_device.h"

namespace parley::encoder::train {

/// One trainable tensor on the device: value, gradient, AdamW moments, optional keep-mask.
struct Param {
  std::string name;
  std::int64_t size = 0;
  models::DeviceBuffer value, grad, m, v;
  models::DeviceBuffer mask;  ///< uint8 [size] (2:4 sparsity) or empty
  bool decay = true;          ///< AdamW weight decay applies (not to biases and norms)
  float* data() const { return value.as<float>(); }
  float* g() const { return grad.as<float>(); }
};

/// Makes a Param of `size` floats on dev initialised from `init` (host; size values) or zeros.
Result<std::unique_ptr<Param>> make_param(const models::ModelDevice& dev, std::string name, std::int64_t size,
                                          const float* init, bool decay);

/// What is trained. Layers are numbered bottom (0) to top (layers-1).
struct TrainableOptions {
  /// Top layers trained in full; -1 = every layer (then the embeddings' position/type/LayerNorm
  /// weights are trained too when train_embeddings).
  int full_layers = -1;
  /// LoRA adapters (rank lora_rank, scale lora_alpha / lora_rank) on every linear of this many
  /// layers right below the fully trained ones; layers below those are frozen and the backward
  /// pass stops there.
  int lora_layers = 0;
  int lora_rank = 8;
  float lora_alpha = 16.0f;
  bool train_embeddings = true;
  bool train_word_embeddings = false;  ///< the [vocab, hidden] table (47 MB of moments for MiniLM)
  /// Prune every linear of the fully trained layers to 2:4 (of each 4 consecutive input weights
  /// of an output row, the 2 largest magnitudes stay) and keep the mask fixed while training.
  bool sparse24 = false;
  /// Dropout on the attention and feed-forward outputs of the trained layers (before each
  /// residual sum), as BERT's fine-tuning recipe has it: 0 = off. A fresh mask every forward().
  float dropout = 0.0f;
  /// Mixed precision: every linear's three products (forward, input gradient, weight gradient)
  /// multiply bf16-rounded operands with f32 accumulation (kernels::ExecContext::bf16_gemm) where
  /// the device runs bf16 natively (CPU: AMX tiles, else AVX512_BF16; CUDA: tensor cores); f32 elsewhere. Master
  /// weights, gradients, AdamW moments and every other op stay f32, and bf16 keeps f32's exponent
  /// range, so no loss scaling is needed (the usual bf16 recipe).
  bool bf16 = false;
  std::uint32_t seed = 1234;
};

/// Single-threaded (one trainer owns it); its ops run on dev's context (CPU threads / stream).
///
///   auto enc = TrainableEncoder::create(model->weights(), model->config(), dev, {});
///   enc->forward(batch);              // hidden(): [tokens, H] on the device
///   ...fill hidden_grad() with dLoss/dHidden...
///   enc->backward();                  // gradients in params()
class TrainableEncoder {
 public:
  /// `weights` must hold FP32 linears (EncoderModel loaded with Precision::kFp32).
  static Result<std::unique_ptr<TrainableEncoder>> create(const EncoderWeights& weights, const EncoderConfig& config,
                                                          const models::ModelDevice& dev,
                                                          const TrainableOptions& options = {});
  ~TrainableEncoder();

  /// Runs the encoder over `batch` (sequences packed back to back; each <= max_positions),
  /// keeping the activations backward() needs.
  Status forward(const TokenBatch& batch);
  /// The dropout masks drawn from here on start from `seed` (the same seed, the same masks:
  /// gradient checks repeat a forward pass exactly).
  void reseed_dropout(std::uint32_t seed);
  /// [tokens, hidden] on the device, valid after forward().
  const float* hidden() const;
  /// [tokens, hidden] on the device: the caller writes dLoss/dHidden here before backward().
  float* hidden_grad();
  /// Gradients of every trainable parameter for the last forward() (overwritten, not summed).
  Status backward();

  std::vector<Param*> params() const;
  std::int64_t trainable_values() const;
  const EncoderConfig& config() const { return config_; }
  const models::ModelDevice& device() const { return dev_; }
  /// Row offsets of the sequences of the last forward() (host; size sequences + 1).
  const std::vector<std::int32_t>& offsets() const { return offsets_host_; }

  /// The current weights as FP32 host arrays (LoRA merged into the linears), ready for
  /// EncoderModel::from_host_weights.
  Result<EncoderWeights> export_weights() const;

 private:
  struct Impl;
  explicit TrainableEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  EncoderConfig config_;
  models::ModelDevice dev_ = models::ModelDevice::cpu();
  std::vector<std::int32_t> offsets_host_;
};

/// The 2:4 keep-mask of a [rows, cols] matrix (cols % 4 == 0): per row, per 4 consecutive
/// columns, the 2 largest magnitudes (ties: the lower column). Host.
std::vector<std::uint8_t> mask_2to4(const float* w, std::int64_t rows, std::int64_t cols);

}  // namespace parley::encoder::train
