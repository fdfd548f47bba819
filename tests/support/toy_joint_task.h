// The toy joint intent + tag task the fine-tuning tests learn (CPU: trainable_encoder_test, CUDA:
// trainable_encoder_gpu_test): label = whether token 5 occurs, tag = 1 on tokens >= 20, else 0
// ([CLS]/[SEP] untagged). Header-only; depends on shared/models/encoder/train/joint_trainer.h.
#pragma once

#include <random>
#include <vector>

#include "shared/models/encoder/train/joint_trainer.h"

namespace parley::encoder::testing {

/// 96 examples over ids 1..39 (tiny_encoder_config's vocabulary of 40), half of them with a 5.
inline std::vector<train::JointExample> toy_joint_examples() {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> tok(3, 39), len(3, 8);
  std::vector<train::JointExample> data;
  for (int i = 0; i < 96; ++i) {
    train::JointExample e;
    e.ids.push_back(1);
    e.tags.push_back(-1);
    const int l = len(rng);
    const bool has5 = i % 2 == 0;
    for (int t = 0; t < l; ++t) {
      int id = tok(rng);
      if (id == 5) id = 6;
      e.ids.push_back(id);
      e.tags.push_back(id >= 20 ? 1 : 0);
    }
    if (has5) {
      e.ids[1] = 5;
      e.tags[1] = 0;
    }
    e.ids.push_back(2);
    e.tags.push_back(-1);
    e.label = has5 ? 1 : 0;
    data.push_back(std::move(e));
  }
  return data;
}

/// The settings that learn it in a second: 30 epochs of batch 16, lr 3e-3 (heads 1e-2).
inline train::JointOptions toy_joint_options() {
  train::JointOptions o;
  o.epochs = 30;
  o.batch_size = 16;
  o.lr = 3e-3f;
  o.head_lr = 1e-2f;
  return o;
}

}  // namespace parley::encoder::testing
