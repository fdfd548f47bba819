// SlotTagger: a linear-chain CRF over words (BIO tags), emission scores from the encoder's
// contextual and static vectors plus lexical features, transitions restricted to valid BIO
// moves; trained by forward-backward + Adam, decoded by Viterbi. Why: slot spans need
// consistent boundaries, which per-word classifiers do not give. Depends on bio.h, word_features.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "services/nlu/bio.h"
#include "services/nlu/linear_layer.h"
#include "services/nlu/word_features.h"

namespace parley::nlu {

struct TaggerOptions {
  WordFeatureOptions features;
  int epochs = 0;  ///< 0: chosen from the data size (more passes for small bots)
  int batch_texts = 16;
  AdamOptions adam{.learning_rate = 0.005f, .l2 = 1e-6f};
  std::uint64_t seed = 1;
};

/// Immutable after train(); decode() is const and thread-safe.
///
///   auto tagger = SlotTagger::train(texts, gold_tags, bio.size(), {});
///   SlotTagger::Decoded d;  PARLEY_RETURN_IF_ERROR((*tagger)->decode(features, d));
class SlotTagger {
 public:
  /// texts[i] is tagged gold[i] (one tag per word, see BioTags) in context contexts[i] (the
  /// example's intent; empty vector = no context). Deterministic for a seed.
  static Result<std::unique_ptr<SlotTagger>> train(const std::vector<const TextFeatures*>& texts,
                                                   const std::vector<std::vector<int>>& gold, int num_tags,
                                                   const TaggerOptions& options,
                                                   const std::vector<std::string>& contexts = {});

  struct Decoded {
    std::vector<int> tags;          ///< Viterbi path, one per word
    std::vector<float> confidence;  ///< marginal probability of each word's chosen tag
  };
  /// `context`: the text's predicted intent (as in training).
  Status decode(const TextFeatures& f, Decoded& out, std::string_view context = {}) const;

  int num_tags() const { return num_tags_; }
  int epochs_run() const { return epochs_; }
  std::size_t bytes() const { return emissions_.bytes() + transitions_.size() * sizeof(float); }

 private:
  friend struct SlotTaggerInternals;  // tests/unit/nlu/heads_test.cc: forward-backward on chosen emissions
  SlotTagger() = default;
  // Buffers of one sentence's forward-backward, reused between sentences.
  struct FbScratch {
    std::vector<double> emit, trans;     // marginals of each word's tags and of tag pairs
    std::vector<double> la, lb, v, z, acc;
    std::vector<std::size_t> open;
  };
  // Adds dLoss/dEmission to d_emit and the transition gradients (none when d_trans is empty);
  // returns the negative log-likelihood. A sentence whose gradients are not finite adds nothing
  // and returns 0. `scratch` (optional) is reused between calls.
  double forward_backward(const float* emit, std::size_t n, const std::vector<int>& gold, float* d_emit,
                          std::vector<float>& d_trans, std::vector<float>& d_start, std::vector<float>& d_end,
                          FbScratch* scratch = nullptr) const;
  // Marginals of each word's tags (w.emit) and, when w.trans is sized, of each pair of
  // neighbouring tags summed over the sentence; log_z: the log of the partition function.
  bool log_marginals(const float* emit, std::size_t n, FbScratch& w, double& log_z) const;
  void viterbi(const float* emit, std::size_t n, std::vector<int>& path) const;
  void refresh_exp_transitions();
  void marginals(const float* emit, std::size_t n, std::vector<float>& p) const;

  int num_tags_ = 0;
  int epochs_ = 0;
  TaggerOptions options_;
  WordStandardizers standardizers_;
  FeatureDict dict_;
  LinearLayer emissions_;
  std::vector<float> transitions_;  // [from, to]
  std::vector<float> start_, end_;
  std::vector<float> exp_trans_, exp_trans_t_;  // exp(transitions), 0 where BIO forbids; and transposed
};

}  // namespace parley::nlu
