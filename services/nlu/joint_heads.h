// JointHeads: the intent and tag heads trained together with a fine-tuned encoder (first-sub-word
// BIO tag logits, [CLS] intent logits). Why: the featurizer of a fine-tuned bot appends their
// logits to the word and sentence vectors, so the bot's own heads (CRF tagger, intent classifier)
// build on what end-to-end training learned instead of relearning it from frozen vectors.
// Depends on nothing but the standard library.
#pragma once

#include <cstddef>
#include <vector>

namespace parley::nlu {

struct JointHeads {
  int hidden = 0;  ///< H of the encoder they read
  int labels = 0;  ///< intents
  int tags = 0;    ///< BIO tags (0 = O, 1 + 2k / 2 + 2k = B / I of the k-th slot in order of first appearance)
  std::vector<float> label_w, label_b;  ///< [labels, H], [labels]
  std::vector<float> tag_w, tag_b;      ///< [tags, H], [tags]

  /// out[r] = b[r] + w[r, :] . x for the rows of one head (x has `hidden` floats).
  static void apply(const std::vector<float>& w, const std::vector<float>& b, const float* x, int hidden, float* out) {
    const std::size_t rows = b.size(), h = static_cast<std::size_t>(hidden);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* wr = w.data() + r * h;
      float s = b[r];
      for (std::size_t k = 0; k < h; ++k) s += wr[k] * x[k];
      out[r] = s;
    }
  }
};

}  // namespace parley::nlu
