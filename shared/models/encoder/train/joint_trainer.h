// Joint fine-tuning of an encoder for a sentence label (intent) and token labels (slot tags):
// [CLS] state -> intent softmax, every labelled token -> tag softmax, summed cross-entropies,
// AdamW with linear warm-up and decay, length-bucketed batches, progress and cancellation.
// Why: per-bot fine-tuning (services/nlu) and any other "classify + tag" head (the QA reader's
// start/end/no-answer head is the same shape). Depends on trainable_encoder.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "shared/common/status.h"
#include "shared/models/encoder/train/trainable_encoder.h"

namespace parley::encoder::train {

/// One training sequence: token ids with the specials already added ([CLS] first), a tag per
/// token (-1 = no loss on that token: sub-word continuations, specials) and a sentence label
/// (-1 = none).
struct JointExample {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> tags;
  std::int32_t label = -1;
};

struct JointProgress {
  int epoch = 0, epochs = 0;
  std::int64_t step = 0, steps = 0;
  float loss = 0.0f;  ///< mean training loss over the last 20 steps
  double seconds = 0.0;
};

struct JointOptions {
  TrainableOptions encoder;
  int epochs = 3;
  std::int64_t max_steps = 0;       ///< > 0 caps the steps (schedule fitted to it)
  std::int64_t batch_size = 32;     ///< sequences per step
  float lr = 5e-5f;                 ///< peak learning rate of the encoder
  float head_lr = 1e-3f;            ///< peak learning rate of the two heads (fresh weights)
  float weight_decay = 0.01f;
  float warmup = 0.1f;              ///< share of the steps with a linear warm-up
  float beta2 = 0.999f;
  float label_smoothing = 0.0f;
  float tag_loss_weight = 1.0f;
  std::uint32_t seed = 17;
  /// Called after every step from the training thread (keep it cheap).
  std::function<void(const JointProgress&)> progress;
  /// Polled before every step; true stops training with CANCELLED.
  std::function<bool()> cancelled;
};

struct JointResult {
  EncoderWeights weights;              ///< the fine-tuned encoder (FP32, LoRA merged)
  std::vector<float> label_w, label_b; ///< [labels, H], [labels]
  std::vector<float> tag_w, tag_b;     ///< [tags, H], [tags]
  std::int64_t steps = 0;
  std::int64_t tokens = 0;             ///< tokens processed (all epochs)
  float final_loss = 0.0f;
  double seconds = 0.0;
  std::int64_t trainable_values = 0;
};

/// Fine-tunes `weights` (FP32) on `examples`. `labels` / `tags` are the class counts (>= 1).
/// InvalidArgument names a bad example; CANCELLED when options.cancelled() said so.
Result<JointResult> train_joint(const EncoderWeights& weights, const EncoderConfig& config,
                                const std::vector<JointExample>& examples, int labels, int tags,
                                const JointOptions& options,
                                const models::ModelDevice& dev = models::ModelDevice::cpu());

/// AdamW settings (moments live in each Param).
struct AdamWOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.01f;
};

/// One AdamW update (1-based `step` for the bias correction) of every param with its gradient at
/// learning rate `lr` (weight decay only where Param::decay); gradients are cleared.
Status adamw_update(const std::vector<Param*>& params, float lr, std::int64_t step, const AdamWOptions& options,
                    const models::ModelDevice& dev);

}  // namespace parley::encoder::train
