// Linear-chain CRF slot tagger (see slot_tagger.h). Forward-backward runs in log space with a few
// exps per tag and word (matrix-vector products, no per-pair exp), which keeps training on SNIPS
// to seconds and stays exact whatever the emissions' range.
#include "services/nlu/slot_tagger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

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
  FbScratch scratch;  // reused: its transition part alone is l*l doubles
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
        t->forward_backward(emit.data() + off * l, n, gold[i], d_emit.data() + off * l, d_trans, d_start, d_end,
                            &scratch);
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
                                    std::vector<float>& d_end, FbScratch* scratch) const {
  const auto l = static_cast<std::size_t>(num_tags_);
  if (n == 0) return 0.0;
  FbScratch local;
  FbScratch& w = scratch != nullptr ? *scratch : local;
  const bool pairs = !d_trans.empty();
  w.emit.assign(n * l, 0.0);
  w.trans.assign(pairs ? l * l : 0, 0.0);
  double log_z = 0.0;
  // Only a finite result reaches the accumulators: one NaN there makes every weight NaN, and the
  // tagger then tags everything O.
  if (!log_marginals(emit, n, w, log_z) || !std::isfinite(log_z)) return 0.0;
  auto finite = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
  };
  if (!finite(w.emit) || !finite(w.trans)) return 0.0;
  // Expected minus observed counts.
  for (std::size_t k = 0; k < w.emit.size(); ++k) d_emit[k] += static_cast<float>(w.emit[k]);
  for (std::size_t u = 0; u < l; ++u) {
    d_start[u] += static_cast<float>(w.emit[u]);
    d_end[u] += static_cast<float>(w.emit[(n - 1) * l + u]);
  }
  for (std::size_t k = 0; k < w.trans.size(); ++k) d_trans[k] += static_cast<float>(w.trans[k]);
  double gold_score = start_[static_cast<std::size_t>(gold[0])] + end_[static_cast<std::size_t>(gold[n - 1])];
  for (std::size_t i = 0; i < n; ++i) {
    const auto g = static_cast<std::size_t>(gold[i]);
    d_emit[i * l + g] -= 1.0f;
    gold_score += emit[i * l + g];
    if (i > 0) {
      const auto p = static_cast<std::size_t>(gold[i - 1]);
      gold_score += transitions_[p * l + g];
      if (pairs) d_trans[p * l + g] -= 1.0f;
    }
  }
  d_start[static_cast<std::size_t>(gold[0])] -= 1.0f;
  d_end[static_cast<std::size_t>(gold[n - 1])] -= 1.0f;
  return log_z - gold_score;
}

// Forward-backward in log space, exact whatever the scores' range (emissions of a fine-tuned
// encoder's stacked logits lie 100s apart, far beyond what scaled probabilities hold in float, or
// in double once the best tag of a word is one BIO forbids there). It costs about what the scaled
// version did: BIO allows every tag but I-X after any tag, so each word's sum over the previous
// tag is one max, one exp per tag and a matrix-vector product with exp(transitions), plus an
// exact two-term sum for each I-X (which only B-X and I-X may precede).
bool SlotTagger::log_marginals(const float* emit, std::size_t n, FbScratch& w, double& log_z) const {
  const auto l = static_cast<std::size_t>(num_tags_);
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  auto log_add = [](double x, double y) {
    if (x == kNone) return y;
    if (y == kNone) return x;
    return x > y ? x + std::log1p(std::exp(y - x)) : y + std::log1p(std::exp(x - y));
  };
  // Tags that may follow any tag (O and every B-X): their sums run over all previous tags.
  std::vector<std::size_t>& open = w.open;
  open.clear();
  for (std::size_t u = 0; u < l; ++u) {
    if (!BioTags::is_inside(static_cast<int>(u))) open.push_back(u);
  }
  const std::vector<float>& et = exp_trans_;  // exp(transitions) (0 where BIO forbids: never read there)
  // la[i][u]: log of the summed scores of the paths over words 0..i that end in u (emission i
  // included); lb[i][u]: the same over words i+1..n-1 after u, the end score included.
  std::vector<double>& la = w.la;
  std::vector<double>& lb = w.lb;
  std::vector<double>& z = w.z;
  std::vector<double>& acc = w.acc;
  la.assign(n * l, kNone);
  lb.assign(n * l, kNone);
  z.assign(l, 0.0);
  acc.assign(l, 0.0);
  for (std::size_t u = 0; u < l; ++u) {
    if (BioTags::allowed(-1, static_cast<int>(u))) la[u] = static_cast<double>(start_[u]) + emit[u];
  }
  for (std::size_t i = 1; i < n; ++i) {
    const double* prev = la.data() + (i - 1) * l;
    double* cur = la.data() + i * l;
    const double m = *std::max_element(prev, prev + l);
    if (!std::isfinite(m)) return false;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::size_t s = 0; s < l; ++s) {
      if (prev[s] == kNone) continue;
      const double ws = std::exp(prev[s] - m);
      const float* row = et.data() + s * l;
      for (std::size_t u = 0; u < l; ++u) acc[u] += ws * row[u];  // contiguous: vectorizes; I-X entries unused
    }
    for (std::size_t u : open) {
      if (acc[u] > 0.0) cur[u] = m + std::log(acc[u]) + emit[i * l + u];
    }
    for (std::size_t u = 2; u < l; u += 2) {  // I-X: after B-X (u - 1) or I-X (u)
      const double x = log_add(prev[u - 1] == kNone ? kNone : prev[u - 1] + transitions_[(u - 1) * l + u],
                               prev[u] == kNone ? kNone : prev[u] + transitions_[u * l + u]);
      if (x != kNone) cur[u] = x + emit[i * l + u];
    }
  }
  log_z = kNone;
  for (std::size_t u = 0; u < l; ++u) {
    lb[(n - 1) * l + u] = end_[u];
    if (la[(n - 1) * l + u] != kNone) log_z = log_add(log_z, la[(n - 1) * l + u] + end_[u]);
  }
  if (!std::isfinite(log_z)) return false;
  auto inside_after = [l](std::size_t s) -> std::size_t {  // the I-X that may follow s (l: none)
    if (s == 0) return l;
    const std::size_t u = BioTags::is_inside(static_cast<int>(s)) ? s : s + 1;
    return u < l ? u : l;
  };
  std::vector<double>& v = w.v;
  v.assign(l, kNone);
  auto marginal = [&](std::size_t i, std::size_t u) {
    const double x = la[i * l + u] + lb[i * l + u];
    return x == kNone ? 0.0 : std::exp(x - log_z);
  };
  for (std::size_t u = 0; u < l; ++u) w.emit[(n - 1) * l + u] = marginal(n - 1, u);
  for (std::size_t i = n - 1; i > 0; --i) {
    // lb and the marginals of word i - 1, and the pair marginals (word i - 1, word i) when asked.
    for (std::size_t u = 0; u < l; ++u) v[u] = lb[i * l + u] + emit[i * l + u];
    double mv = kNone;
    for (std::size_t u : open) mv = std::max(mv, v[u]);
    if (!std::isfinite(mv)) return false;
    for (std::size_t u : open) z[u] = std::exp(v[u] - mv);  // z stays 0 at every I-X
    double* lbp = lb.data() + (i - 1) * l;
    // acc[s] = sum over open u of exp(T[s][u]) z[u], as a sum of exp(T)'s columns (rows of the
    // transposed table) so that the inner loop is elementwise and vectorizes.
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::size_t u : open) {
      const double zu = z[u];
      if (zu == 0.0) continue;
      const float* col = exp_trans_t_.data() + u * l;
      for (std::size_t s = 0; s < l; ++s) acc[s] += col[s] * zu;
    }
    for (std::size_t s = 0; s < l; ++s) {
      const std::size_t in = inside_after(s);
      const double inside = in < l && v[in] != kNone ? transitions_[s * l + in] + v[in] : kNone;
      // Everything after s, relative to e^mv: the open tags' sum plus the one I-X s allows. When
      // that I-X outweighs the open tags by more than a double holds, the sum is taken in logs.
      const bool scaled = inside == kNone || inside - mv < 600.0;
      const double e_inside = inside == kNone ? 0.0 : scaled ? std::exp(inside - mv) : 0.0;
      const double after = acc[s] + e_inside;
      if (scaled) {
        lbp[s] = after > 0.0 ? mv + std::log(after) : kNone;
      } else {
        lbp[s] = log_add(acc[s] > 0.0 ? mv + std::log(acc[s]) : kNone, inside);
      }
      const double ps = marginal(i - 1, s);
      w.emit[(i - 1) * l + s] = ps;
      if (w.trans.empty() || ps == 0.0) continue;
      // P(s at i-1, u at i) = P(s at i-1) * P(u | s): the conditional stays in [0, 1].
      const float* row = et.data() + s * l;
      double* dt = w.trans.data() + s * l;
      const double scale = scaled ? ps / after : ps * std::exp(mv - lbp[s]);
      for (std::size_t u = 0; u < l; ++u) dt[u] += scale * row[u] * z[u];
      if (inside != kNone) dt[in] += scaled ? scale * e_inside : ps * std::exp(inside - lbp[s]);
    }
  }
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
