// IntentClassifier: multinomial logistic regression over the pooled sentence embedding, the mean
// static word embedding and the text's word unigrams/bigrams, with class weights for unbalanced
// intents. Why: seconds to train on a bot's examples, calibrated enough for thresholds.
// Depends on linear_layer.h, word_features.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "services/nlu/linear_layer.h"
#include "services/nlu/word_features.h"

namespace parley::nlu {

struct IntentOptions {
  int epochs = 0;  ///< 0: chosen from the data size
  int batch_size = 32;
  bool sparse = true;         ///< unigram/bigram features
  bool class_weights = true;  ///< weight each intent by 1/frequency (normalized)
  /// Target mass spread over the other intents: keeps a few examples from driving confidence
  /// to exactly 1.0, so thresholds (out_of_scope_threshold) keep their meaning.
  float label_smoothing = 0.1f;
  AdamOptions adam{.learning_rate = 0.01f, .l2 = 1e-4f};
  std::uint64_t seed = 1;
};

/// Immutable after train(); predict() is const and thread-safe.
class IntentClassifier {
 public:
  /// labels[i] in [0, num_intents) is the intent of texts[i].
  static Result<std::unique_ptr<IntentClassifier>> train(const std::vector<const TextFeatures*>& texts,
                                                         const std::vector<int>& labels, int num_intents,
                                                         const IntentOptions& options);
  /// Probabilities over the intents (sum 1).
  Status predict(const TextFeatures& f, std::vector<float>& probabilities) const;
  /// Many texts at once (one GEMM); probabilities[i] per text.
  Status predict_batch(const std::vector<const TextFeatures*>& texts,
                       std::vector<std::vector<float>>& probabilities) const;

  int num_intents() const { return num_intents_; }
  int epochs_run() const { return epochs_; }
  std::size_t bytes() const { return layer_.bytes(); }

 private:
  IntentClassifier() = default;
  void build(const std::vector<const TextFeatures*>& texts, bool grow, LinearBatch& batch);
  void build_const(const std::vector<const TextFeatures*>& texts, LinearBatch& batch) const;

  int num_intents_ = 0;
  int epochs_ = 0;
  IntentOptions options_;
  Standardizer standardizer_;
  FeatureDict dict_;
  LinearLayer layer_;
};

/// In-place softmax over `n` scores.
void softmax(float* scores, std::size_t n);

}  // namespace parley::nlu
