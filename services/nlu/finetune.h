// Per-bot fine-tuning: a TrainRequest's examples -> token ids with first-sub-word BIO tags and
// intent labels -> the encoder fine-tuned jointly for intent and slots
// (shared/models/encoder/train) -> a serving encoder (INT8/BF16 like the shared one) for the
// bot's own featurizer. Why: the frozen encoder leaves ~5 points of slot F1 on the table
// (services/nlu/README.md). Depends on bio.h, featurizer.h, shared/models/encoder/train.
#pragma once

#include <functional>
#include <memory>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/joint_heads.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/models/encoder/encoder.h"
#include "shared/models/encoder/train/joint_trainer.h"

namespace parley::nlu {

/// How a bot's encoder is fine-tuned (config keys nlu.finetune.*, README).
struct FinetuneOptions {
  /// The service's defaults (nlu.finetune.*): epochs from the bot's size (below), peak lr 1e-4.
  FinetuneOptions() {
    joint.epochs = 0;
    joint.lr = 1e-4f;
    // Mixed precision where the CPU has AVX512_BF16 (FP32 elsewhere): 1.7-1.8x faster fine-tuning
    // at the FP32 accuracy on SNIPS and ATIS dev on an AMD EPYC; on an Intel Xeon only with its
    // AMX tiles, ~2x (without them its vdpbf16ps runs below FP32) (services/nlu/README.md).
    joint.encoder.bf16 = true;
  }
  encoder::train::JointOptions joint;
  /// epochs = clamp(round(example_passes / examples), min_epochs, max_epochs) when joint.epochs
  /// is left 0: small bots see their examples more often, large ones a few times. At least 5:
  /// SNIPS and ATIS dev slot F1 gain 0.4-1.3 points from 3 to 5-6 epochs at lr 1e-4
  /// (services/nlu/README.md); 5 epochs of SNIPS' 13k examples fit the 10 min budget on 2 cores.
  std::int64_t example_passes = 1500;
  int min_epochs = 5;
  int max_epochs = 20;
  /// Precision of the fine-tuned encoder when it serves (the shared encoder's preset).
  encoder::LoadOptions serve;
  /// CPU threads of the training (0 = the shared kernel pool).
  int threads = 0;
  /// Where training runs: the service passes nlu.device (the GPU when it has one; a job then
  /// runs on a stream of its own). The fine-tuned encoder serves on `serve.device`.
  engine::Device device = engine::Device::cpu();
  /// Hand the heads trained with the encoder to the bot's featurizer (their logits become
  /// features of the bot's CRF tagger and intent classifier); false: the encoder alone.
  bool stack_heads = true;
};

struct FinetuneReport {
  std::int64_t examples = 0, steps = 0, tokens = 0, trainable_values = 0;
  int epochs = 0;
  float final_loss = 0.0f;
  double train_seconds = 0.0, convert_seconds = 0.0;
};

/// The joint heads' class counts for `request`: intents (at least 1) and BIO tags (1 + 2 per
/// annotated slot). A cached model must have exactly these (FinetuneJobs checks).
int joint_label_count(const v1::TrainRequest& request);
int joint_tag_count(const v1::TrainRequest& request);

/// The joint examples of `request` (tokens of `tokenizer`, up to `max_length` each): tag 0 = O,
/// 1 + 2k / 2 + 2k = B/I of the k-th annotated slot (in order of first appearance); `tags` gets
/// the tag count. InvalidArgument for an empty request.
Result<std::vector<encoder::train::JointExample>> joint_examples(const v1::TrainRequest& request,
                                                                 const text::WordPieceTokenizer& tokenizer,
                                                                 std::size_t max_length, int* tags);

/// A fine-tuned encoder and the heads trained with it (the bot's featurizer appends their logits).
struct FinetunedEncoder {
  std::shared_ptr<const encoder::Encoder> encoder;
  std::shared_ptr<const JointHeads> heads;
};

/// What a fine-tuning produced before it is converted to serve: the encoder's FP32 host weights
/// (LoRA merged) and the heads trained with it. The unit FinetuneCache keeps.
struct FinetunedWeights {
  encoder::EncoderWeights weights;
  JointHeads heads;
};

/// Fine-tunes `base` (an FP32 encoder: its host weights are the starting point) on `request`.
Result<FinetunedWeights> train_finetuned(const v1::TrainRequest& request, const encoder::Encoder& base,
                                         const FinetuneOptions& options, FinetuneReport* report = nullptr);

/// The serving encoder of `tuned` (same tokenizer as `base`, `options.serve` precision) with its
/// heads (none unless options.stack_heads). report->convert_seconds is set when given.
Result<FinetunedEncoder> serve_finetuned(FinetunedWeights tuned, const encoder::Encoder& base,
                                         const FinetuneOptions& options, FinetuneReport* report = nullptr);

/// train_finetuned, then serve_finetuned.
Result<FinetunedEncoder> finetune_encoder(const v1::TrainRequest& request, const encoder::Encoder& base,
                                          const FinetuneOptions& options, FinetuneReport* report = nullptr);

}  // namespace parley::nlu
