// Intent head: weighted softmax regression trained with Adam (see intent_classifier.h).
#include "services/nlu/intent_classifier.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace parley::nlu {

void softmax(float* s, std::size_t n) {
  if (n == 0) return;
  float mx = *std::max_element(s, s + n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = std::exp(s[i] - mx);
    sum += s[i];
  }
  auto inv = static_cast<float>(1.0 / sum);
  for (std::size_t i = 0; i < n; ++i) s[i] *= inv;
}

void IntentClassifier::build(const std::vector<const TextFeatures*>& texts, bool grow, LinearBatch& batch) {
  if (!grow) {
    build_const(texts, batch);
    return;
  }
  const auto dim = static_cast<std::size_t>(layer_.dense_dim());
  batch = LinearBatch{};
  batch.count = texts.size();
  batch.dense.resize(texts.size() * dim);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    text_dense_row(*texts[i], batch.dense.data() + i * dim);
    std::vector<int> ids;
    if (options_.sparse) {
      for (const std::string& s : text_sparse_strings(*texts[i])) ids.push_back(dict_.id(s, true));
    }
    batch.sparse.push_back(std::move(ids));
  }
}

void IntentClassifier::build_const(const std::vector<const TextFeatures*>& texts, LinearBatch& batch) const {
  const auto dim = static_cast<std::size_t>(layer_.dense_dim());
  batch = LinearBatch{};
  batch.count = texts.size();
  batch.dense.resize(texts.size() * dim);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    text_dense_row(*texts[i], batch.dense.data() + i * dim);
    std::vector<int> ids;
    if (options_.sparse) {
      for (const std::string& s : text_sparse_strings(*texts[i])) {
        int id = dict_.find(s);
        if (id >= 0) ids.push_back(id);
      }
    }
    batch.sparse.push_back(std::move(ids));
  }
  standardizer_.apply(batch.dense.data(), batch.count);
}

Result<std::unique_ptr<IntentClassifier>> IntentClassifier::train(const std::vector<const TextFeatures*>& texts,
                                                                  const std::vector<int>& labels, int num_intents,
                                                                  const IntentOptions& options) {
  if (texts.size() != labels.size()) return invalid_argument("intent head: texts and labels differ in count");
  if (texts.empty()) return invalid_argument("intent head: no examples");
  if (num_intents < 1) return invalid_argument("intent head: no intents");
  std::unique_ptr<IntentClassifier> c(new IntentClassifier());
  c->num_intents_ = num_intents;
  c->options_ = options;
  const int dim = text_dense_dim(*texts.front());
  // First pass: the dictionary and the dense rows of every example.
  c->layer_ = LinearLayer(num_intents, dim, 0);
  LinearBatch all;
  c->build(texts, true, all);
  c->standardizer_.fit(all.dense, static_cast<std::size_t>(dim));
  c->standardizer_.apply(all.dense.data(), all.count);
  c->layer_ = LinearLayer(num_intents, dim, c->dict_.size());

  std::vector<double> counts(static_cast<std::size_t>(num_intents), 0.0);
  for (int y : labels) {
    if (y < 0 || y >= num_intents) return invalid_argument("intent head: label out of range");
    counts[static_cast<std::size_t>(y)] += 1.0;
  }
  std::vector<float> weight(static_cast<std::size_t>(num_intents), 1.0f);
  if (options.class_weights) {
    double present = 0;
    for (double n : counts) present += n > 0 ? 1 : 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      if (counts[k] > 0) {
        // Square-root balancing, bounded: full inverse frequency lets an intent with one example
        // (ATIS has several) outweigh hundreds of others and costs accuracy on the common ones.
        double balanced = static_cast<double>(texts.size()) / (present * counts[k]);
        weight[k] = static_cast<float>(std::clamp(std::sqrt(balanced), 0.2, 5.0));
      }
    }
  }
  int epochs = options.epochs;
  if (epochs <= 0)
    epochs = static_cast<int>(std::clamp<std::size_t>((100'000 + texts.size() - 1) / texts.size(), 10, 200));
  c->epochs_ = epochs;
  const auto bs = static_cast<std::size_t>(std::max(1, options.batch_size));
  const std::size_t steps_per_epoch = (texts.size() + bs - 1) / bs;
  const double total_steps = static_cast<double>(steps_per_epoch) * epochs;
  std::vector<std::size_t> order(texts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(options.seed);
  const auto l = static_cast<std::size_t>(num_intents);
  LinearBatch batch;
  std::vector<float> scores;
  std::int64_t step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t first = 0; first < order.size(); first += bs) {
      std::size_t last = std::min(order.size(), first + bs);
      batch = LinearBatch{};
      batch.count = last - first;
      batch.dense.resize(batch.count * static_cast<std::size_t>(dim));
      double wsum = 0;
      for (std::size_t k = first; k < last; ++k) {
        std::size_t i = order[k];
        std::copy_n(all.dense.data() + i * static_cast<std::size_t>(dim), dim,
                    batch.dense.data() + (k - first) * static_cast<std::size_t>(dim));
        batch.sparse.push_back(all.sparse[i]);
        wsum += weight[static_cast<std::size_t>(labels[i])];
      }
      PARLEY_RETURN_IF_ERROR(c->layer_.score(batch, scores));
      for (std::size_t k = first; k < last; ++k) {
        float* s = scores.data() + (k - first) * l;
        softmax(s, l);
        auto y = static_cast<std::size_t>(labels[order[k]]);
        const float eps = l > 1 ? options.label_smoothing : 0.0f;
        for (std::size_t j = 0; j < l; ++j) s[j] -= eps / static_cast<float>(l - 1) * (j == y ? 0.0f : 1.0f);
        s[y] -= 1.0f - eps;
        float w = static_cast<float>(weight[y] / wsum);
        for (std::size_t j = 0; j < l; ++j) s[j] *= w;
      }
      ++step;
      const float lr =
          options.adam.learning_rate * static_cast<float>(1.0 - 0.9 * static_cast<double>(step - 1) / total_steps);
      PARLEY_RETURN_IF_ERROR(c->layer_.update(batch, scores, options.adam, lr));
    }
  }
  c->layer_.finish_training();
  return c;
}

Status IntentClassifier::predict(const TextFeatures& f, std::vector<float>& probabilities) const {
  std::vector<std::vector<float>> p;
  PARLEY_RETURN_IF_ERROR(predict_batch({&f}, p));
  probabilities = std::move(p.front());
  return Status::ok();
}

Status IntentClassifier::predict_batch(const std::vector<const TextFeatures*>& texts,
                                       std::vector<std::vector<float>>& probabilities) const {
  LinearBatch batch;
  build_const(texts, batch);
  std::vector<float> scores;
  PARLEY_RETURN_IF_ERROR(layer_.score(batch, scores));
  const auto l = static_cast<std::size_t>(num_intents_);
  probabilities.assign(texts.size(), {});
  for (std::size_t i = 0; i < texts.size(); ++i) {
    softmax(scores.data() + i * l, l);
    probabilities[i].assign(scores.data() + i * l, scores.data() + (i + 1) * l);
  }
  return Status::ok();
}

}  // namespace parley::nlu
