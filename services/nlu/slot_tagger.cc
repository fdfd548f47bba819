// Linear-chain CRF slot tagger (see slot_tagger.h). Forward-backward runs in scaled probability
// space (matrix-vector products, no per-pair exp), which keeps training on SNIPS to seconds.
#include "services/nlu/slot_tagger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <type_traits>

namespace parley::nlu {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

Result<std::unique_ptr<SlotTagger>> SlotTagger::train(const std::vector<const TextFeatures*>& texts,
                                                      const std::vector<std::vector<int>>& gold, int num_tags,
                                                      const TaggerOptions& options,
                                                      const std::vector<std::string>& contexts) {
  if (texts.size() != gold.size()) return invalid_argument("slot tagger: texts and tags differ in count");
  if (num_tags < 1) return invalid_argument("slot tagger: no tags");
  if (!contexts.empty() && contexts.size() != texts.size())
    return invalid_argument("slot tagger: one context per text");
  std::unique_ptr<SlotTagger> t(new SlotTagger());
  t->num_tags_ = num_tags;
  t->options_ = options;
  const auto l = static_cast<std::size_t>(num_tags);
  std::vector<std::size_t> order;
  std::size_t words = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (gold[i].size() != texts[i]->size()) return invalid_argument("slot tagger: tag count differs from word count");
    for (int g : gold[i]) {
      if (g < 0 || g >= num_tags) return invalid_argument("slot tagger: tag out of range");
    }
    if (texts[i]->size() > 0) order.push_back(i);
    words += texts[i]->size();
  }
  t->standardizers_.fit(texts);
  // Sparse ids are fixed per training text: build them (and the dictionary) once.
  std::vector<std::vector<std::vector<int>>> sparse(texts.size());
  if (options.features.sparse) {
    for (std::size_t i : order) {
      for (std::size_t w = 0; w < texts[i]->size(); ++w) {
        std::vector<int> ids;
        std::string_view context = options.features.context && !contexts.empty() ? contexts[i] : std::string_view{};
        for (const std::string& s : word_sparse_strings(*texts[i], w, context)) ids.push_back(t->dict_.id(s, true));
        sparse[i].push_back(std::move(ids));
      }
    }
  }
  WordFeatureOptions dense_only = options.features;
  dense_only.sparse = false;
  const int dim = word_dense_dim(options.features, texts.empty() ? 0 : texts.front()->context_dim,
                                 texts.empty() ? 0 : texts.front()->lexical_dim);
  t->emissions_ = LinearLayer(num_tags, dim, t->dict_.size());
  t->transitions_.assign(l * l, 0.0f);
  t->start_.assign(l, 0.0f);
  t->end_.assign(l, 0.0f);
  t->refresh_exp_transitions();
  std::vector<float> mt(l * l, 0), vt(l * l, 0), ms(l, 0), vs(l, 0), me(l, 0), ve(l, 0);

  int epochs = options.epochs;
  if (epochs <= 0)
    epochs = static_cast<int>(std::clamp<std::size_t>((500'000 + words - 1) / std::max<std::size_t>(words, 1), 5, 40));
  t->epochs_ = epochs;
  const std::size_t batch_texts = static_cast<std::size_t>(std::max(1, options.batch_texts));
  const std::size_t steps_per_epoch = (order.size() + batch_texts - 1) / batch_texts;
  const double total_steps = static_cast<double>(steps_per_epoch) * epochs;
  std::mt19937_64 rng(options.seed);
  LinearBatch batch;
  std::vector<float> emit, d_emit, d_trans(l * l), d_start(l), d_end(l);
  std::int64_t step = 0;
  FeatureDict unused;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t first = 0; first < order.size(); first += batch_texts) {
      std::size_t last = std::min(order.size(), first + batch_texts);
      batch = LinearBatch{};
      for (std::size_t k = first; k < last; ++k) {
        std::size_t i = order[k];
        std::size_t row = batch.count;
        append_word_rows(*texts[i], dense_only, t->standardizers_, unused, false, batch);
        if (options.features.sparse) {
          for (std::size_t w = 0; w < texts[i]->size(); ++w) batch.sparse[row + w] = sparse[i][w];
        }
      }
      PARLEY_RETURN_IF_ERROR(t->emissions_.score(batch, emit));
      d_emit.assign(emit.size(), 0.0f);
      std::fill(d_trans.begin(), d_trans.end(), 0.0f);
      std::fill(d_start.begin(), d_start.end(), 0.0f);
      std::fill(d_end.begin(), d_end.end(), 0.0f);
      std::size_t off = 0;
      for (std::size_t k = first; k < last; ++k) {
        std::size_t i = order[k];
        std::size_t n = texts[i]->size();
        t->forward_backward(emit.data() + off * l, n, gold[i], d_emit.data() + off * l, d_trans, d_start, d_end);
        off += n;
      }
      // Mean over the batch's texts keeps the step size independent of the batch size.
      const float scale = 1.0f / static_cast<float>(last - first);
      for (float& g : d_emit) g *= scale;
      for (float& g : d_trans) g *= scale;
      for (float& g : d_start) g *= scale;
      for (float& g : d_end) g *= scale;
      ++step;
      const float lr =
          options.adam.learning_rate * static_cast<float>(1.0 - 0.9 * static_cast<double>(step - 1) / total_steps);
      PARLEY_RETURN_IF_ERROR(t->emissions_.update(batch, d_emit, options.adam, lr));
      adam_step(t->transitions_, d_trans, mt, vt, options.adam, lr, step, false);
      adam_step(t->start_, d_start, ms, vs, options.adam, lr, step, false);
      adam_step(t->end_, d_end, me, ve, options.adam, lr, step, false);
      t->refresh_exp_transitions();
    }
  }
  t->emissions_.finish_training();
  return t;
}

void SlotTagger::refresh_exp_transitions() {
  const auto l = static_cast<std::size_t>(num_tags_);
  exp_trans_.assign(l * l, 0.0f);
  exp_trans_t_.assign(l * l, 0.0f);
  for (std::size_t s = 0; s < l; ++s) {
    for (std::size_t u = 0; u < l; ++u) {
      float v = BioTags::allowed(static_cast<int>(s), static_cast<int>(u)) ? std::exp(transitions_[s * l + u]) : 0.0f;
      exp_trans_[s * l + u] = v;
      exp_trans_t_[u * l + s] = v;
    }
  }
}

double SlotTagger::forward_backward(const float* emit, std::size_t n, const std::vector<int>& gold, float* d_emit,
                                    std::vector<float>& d_trans, std::vector<float>& d_start,
                                    std::vector<float>& d_end) const {
  double loss = 0.0;
  if (forward_backward_as<float>(emit, n, gold, d_emit, d_trans, d_start, d_end, loss)) return loss;
  // Every path BIO allows underflowed in float: emissions so peaked that the allowed tags score
  // e^-100 below a forbidden one (seen with a fine-tuned 12-layer encoder's logits stacked into the
  // features: the CRF's weights became NaN and it tagged everything O). Again in double, where
  // the floor below keeps every allowed path representable.
  if (forward_backward_as<double>(emit, n, gold, d_emit, d_trans, d_start, d_end, loss)) return loss;
  return 0.0;  // not representable even so: the sentence adds no gradient
}

template <typename T>
bool SlotTagger::forward_backward_as(const float* emit, std::size_t n, const std::vector<int>& gold, float* d_emit,
                                     std::vector<float>& d_trans, std::vector<float>& d_start,
                                     std::vector<float>& d_end, double& loss) const {
  const auto l = static_cast<std::size_t>(num_tags_);
  loss = 0.0;
  if (n == 0) return true;
  // float: exact exp (a failed sentence is redone in double); double: scores at most 600 below
  // the position's best (e^-600 ~ 1e-261 stays a normal double through a transition).
  const T floor = std::is_same_v<T, float> ? -std::numeric_limits<T>::infinity() : T(-600);
  auto ok = [](double v) { return v > 0.0 && std::isfinite(v); };
  const std::vector<float>& m = exp_trans_;
  const std::vector<float>& mt = exp_trans_t_;
  std::vector<T> psi(n * l), a(n * l), b(n * l), c(n);
  double log_z = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* e = emit + i * l;
    float mx = *std::max_element(e, e + l);
    log_z += mx;
    for (std::size_t u = 0; u < l; ++u) psi[i * l + u] = std::exp(std::max(static_cast<T>(e[u] - mx), floor));
  }
  // Forward (scaled).
  for (std::size_t u = 0; u < l; ++u) {
    a[u] = BioTags::allowed(-1, static_cast<int>(u)) ? static_cast<T>(std::exp(start_[u])) * psi[u] : T(0);
  }
  for (std::size_t i = 0;; ++i) {
    T* ai = a.data() + i * l;
    double sum = 0;
    for (std::size_t u = 0; u < l; ++u) sum += ai[u];
    if (!ok(sum)) return false;
    c[i] = static_cast<T>(sum);
    log_z += std::log(sum);
    T inv = static_cast<T>(1.0 / sum);
    for (std::size_t u = 0; u < l; ++u) ai[u] *= inv;
    if (i + 1 == n) break;
    T* an = a.data() + (i + 1) * l;
    std::fill(an, an + l, T(0));
    for (std::size_t s = 0; s < l; ++s) {
      T as = ai[s];
      if (as == T(0)) continue;
      const float* row = m.data() + s * l;
      for (std::size_t u = 0; u < l; ++u) an[u] += as * row[u];
    }
    for (std::size_t u = 0; u < l; ++u) an[u] *= psi[(i + 1) * l + u];
  }
  double z_end = 0;
  std::vector<T> exp_end(l);
  for (std::size_t u = 0; u < l; ++u) {
    exp_end[u] = static_cast<T>(std::exp(end_[u]));
    z_end += a[(n - 1) * l + u] * exp_end[u];
  }
  if (!ok(z_end)) return false;
  log_z += std::log(z_end);
  // Backward (same scaling).
  for (std::size_t u = 0; u < l; ++u) b[(n - 1) * l + u] = static_cast<T>(exp_end[u] / z_end);
  std::vector<T> tmp(l);
  for (std::size_t i = n - 1; i > 0; --i) {
    for (std::size_t u = 0; u < l; ++u) tmp[u] = psi[i * l + u] * b[i * l + u] / c[i];
    // bp = M . tmp, as a sum of M's columns (rows of M^T) so the inner loop vectorizes.
    T* bp = b.data() + (i - 1) * l;
    std::fill(bp, bp + l, T(0));
    for (std::size_t u = 0; u < l; ++u) {
      T tu = tmp[u];
      if (tu == T(0)) continue;
      const float* col = mt.data() + u * l;
      for (std::size_t s = 0; s < l; ++s) bp[s] += col[s] * tu;
    }
  }
  // Gradients: expected minus observed counts.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t u = 0; u < l; ++u) d_emit[i * l + u] += static_cast<float>(a[i * l + u] * b[i * l + u]);
    d_emit[i * l + static_cast<std::size_t>(gold[i])] -= 1.0f;
  }
  for (std::size_t u = 0; u < l; ++u) {
    d_start[u] += static_cast<float>(a[u] * b[u]);
    d_end[u] += static_cast<float>(a[(n - 1) * l + u] * b[(n - 1) * l + u]);
  }
  d_start[static_cast<std::size_t>(gold[0])] -= 1.0f;
  d_end[static_cast<std::size_t>(gold[n - 1])] -= 1.0f;
  for (std::size_t i = 1; i < n && !d_trans.empty(); ++i) {
    for (std::size_t u = 0; u < l; ++u) tmp[u] = psi[i * l + u] * b[i * l + u] / c[i];
    const T* ap = a.data() + (i - 1) * l;
    for (std::size_t s = 0; s < l; ++s) {
      T as = ap[s];
      if (as == T(0)) continue;
      const float* row = m.data() + s * l;
      float* dt = d_trans.data() + s * l;
      for (std::size_t u = 0; u < l; ++u) dt[u] += static_cast<float>(as * row[u] * tmp[u]);
    }
    d_trans[static_cast<std::size_t>(gold[i - 1]) * l + static_cast<std::size_t>(gold[i])] -= 1.0f;
  }
  double gold_score = start_[static_cast<std::size_t>(gold[0])] + end_[static_cast<std::size_t>(gold[n - 1])];
  for (std::size_t i = 0; i < n; ++i) {
    gold_score += emit[i * l + static_cast<std::size_t>(gold[i])];
    if (i > 0)
      gold_score += transitions_[static_cast<std::size_t>(gold[i - 1]) * l + static_cast<std::size_t>(gold[i])];
  }
  loss = log_z - gold_score;
  return true;
}

void SlotTagger::viterbi(const float* emit, std::size_t n, std::vector<int>& path) const {
  const auto l = static_cast<std::size_t>(num_tags_);
  path.assign(n, 0);
  if (n == 0) return;
  std::vector<float> score(l), next(l);
  std::vector<int> back(n * l, 0);
  for (std::size_t u = 0; u < l; ++u)
    score[u] = BioTags::allowed(-1, static_cast<int>(u)) ? start_[u] + emit[u] : kNegInf;
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t u = 0; u < l; ++u) {
      float best = kNegInf;
      int arg = 0;
      for (std::size_t s = 0; s < l; ++s) {
        if (!BioTags::allowed(static_cast<int>(s), static_cast<int>(u))) continue;
        float v = score[s] + transitions_[s * l + u];
        if (v > best) {
          best = v;
          arg = static_cast<int>(s);
        }
      }
      next[u] = best + emit[i * l + u];
      back[i * l + u] = arg;
    }
    score.swap(next);
  }
  float best = kNegInf;
  for (std::size_t u = 0; u < l; ++u) {
    float v = score[u] + end_[u];
    if (v > best) {
      best = v;
      path[n - 1] = static_cast<int>(u);
    }
  }
  for (std::size_t i = n - 1; i > 0; --i) path[i - 1] = back[i * l + static_cast<std::size_t>(path[i])];
}

void SlotTagger::marginals(const float* emit, std::size_t n, std::vector<float>& p) const {
  const auto l = static_cast<std::size_t>(num_tags_);
  std::vector<int> dummy(n, 0);
  std::vector<float> d_trans, d_start(l), d_end(l);  // empty d_trans: no pairwise marginals needed
  p.assign(n * l, 0.0f);
  forward_backward(emit, n, dummy, p.data(), d_trans, d_start, d_end);
  // forward_backward subtracted the one-hot of the dummy path (tag 0): add it back.
  for (std::size_t i = 0; i < n; ++i) p[i * l] += 1.0f;
}

Status SlotTagger::decode(const TextFeatures& f, Decoded& out, std::string_view context) const {
  out.tags.clear();
  out.confidence.clear();
  const std::size_t n = f.size();
  if (n == 0) return Status::ok();
  LinearBatch batch;
  append_word_rows(f, options_.features, standardizers_, dict_, batch, context);
  std::vector<float> emit;
  PARLEY_RETURN_IF_ERROR(emissions_.score(batch, emit));
  viterbi(emit.data(), n, out.tags);
  std::vector<float> p;
  marginals(emit.data(), n, p);
  const auto l = static_cast<std::size_t>(num_tags_);
  for (std::size_t i = 0; i < n; ++i)
    out.confidence.push_back(std::clamp(p[i * l + static_cast<std::size_t>(out.tags[i])], 0.0f, 1.0f));
  return Status::ok();
}

}  // namespace parley::nlu
