// Feature templates (see word_features.h).
#include "services/nlu/word_features.h"

#include <algorithm>

namespace parley::nlu {

int word_dense_dim(const WordFeatureOptions& o, int context_dim, int lexical_dim) {
  return context_dim * (o.neighbour_context ? 3 : 1) + (o.lexical ? lexical_dim : 0) +
         (o.neighbour_lexical ? 2 * lexical_dim : 0);
}

void WordStandardizers::fit(const std::vector<const TextFeatures*>& texts) {
  if (texts.empty()) return;
  context.begin(static_cast<std::size_t>(texts.front()->context_dim));
  lexical.begin(static_cast<std::size_t>(texts.front()->lexical_dim));
  for (const TextFeatures* f : texts) {
    context.add(f->contextual.data(), f->size());
    lexical.add(f->lexical.data(), f->size());
  }
  context.end();
  lexical.end();
}

namespace {

void put(const float* src, const Standardizer& st, float* dst) {
  const std::size_t d = st.mean.size();
  if (src == nullptr) {
    // Past the text's edge: the mean, i.e. 0 after standardization.
    std::fill(dst, dst + d, 0.0f);
    return;
  }
  for (std::size_t k = 0; k < d; ++k) dst[k] = (src[k] - st.mean[k]) * st.inv_std[k];
}

std::string shape_of(const std::string& w) {
  std::string s;
  for (unsigned char c : w) {
    char k = (c >= '0' && c <= '9')   ? 'd'
             : (c >= 'a' && c <= 'z') ? 'x'
             : (c >= 'A' && c <= 'Z') ? 'X'
             : c >= 0x80              ? 'u'
                                      : 'p';
    if (s.empty() || s.back() != k) s.push_back(k);
  }
  return s;
}

template <typename Dict, typename Lookup>
void append_rows_impl(const TextFeatures& f, const WordFeatureOptions& o, const WordStandardizers& st, Dict& dict,
                      Lookup lookup, LinearBatch& batch, std::string_view context) {
  const std::size_t n = f.size();
  const int dim = word_dense_dim(o, f.context_dim, f.lexical_dim);
  std::size_t base = batch.dense.size();
  batch.dense.resize(base + n * static_cast<std::size_t>(dim));
  for (std::size_t i = 0; i < n; ++i) {
    float* row = batch.dense.data() + base + i * static_cast<std::size_t>(dim);
    put(f.context_row(i), st.context, row);
    row += f.context_dim;
    if (o.neighbour_context) {
      put(i > 0 ? f.context_row(i - 1) : nullptr, st.context, row);
      row += f.context_dim;
      put(i + 1 < n ? f.context_row(i + 1) : nullptr, st.context, row);
      row += f.context_dim;
    }
    if (o.lexical) {
      put(f.lexical_row(i), st.lexical, row);
      row += f.lexical_dim;
    }
    if (o.neighbour_lexical) {
      put(i > 0 ? f.lexical_row(i - 1) : nullptr, st.lexical, row);
      row += f.lexical_dim;
      put(i + 1 < n ? f.lexical_row(i + 1) : nullptr, st.lexical, row);
    }
    std::vector<int> ids;
    if (o.sparse) {
      for (const std::string& s : word_sparse_strings(f, i, o.context ? context : std::string_view{})) {
        int id = lookup(dict, s);
        if (id >= 0) ids.push_back(id);
      }
    }
    batch.sparse.push_back(std::move(ids));
  }
  batch.count += n;
}

}  // namespace

void append_word_rows(const TextFeatures& f, const WordFeatureOptions& o, const WordStandardizers& st,
                      FeatureDict& dict, bool grow, LinearBatch& batch) {
  append_rows_impl(f, o, st, dict, [grow](FeatureDict& d, const std::string& s) { return d.id(s, grow); }, batch, {});
}

void append_word_rows(const TextFeatures& f, const WordFeatureOptions& o, const WordStandardizers& st,
                      const FeatureDict& dict, LinearBatch& batch, std::string_view context) {
  append_rows_impl(
      f, o, st, dict, [](const FeatureDict& d, const std::string& s) { return d.find(s); }, batch, context);
}

std::vector<std::string> word_sparse_strings(const TextFeatures& f, std::size_t i, std::string_view context) {
  const std::string& w = f.word_text[i];
  const std::string& p = i > 0 ? f.word_text[i - 1] : std::string("<s>");
  const std::string& nx = i + 1 < f.size() ? f.word_text[i + 1] : std::string("</s>");
  std::vector<std::string> out;
  out.reserve(8);
  out.push_back("w=" + w);
  out.push_back("p=" + p);
  out.push_back("n=" + nx);
  out.push_back("pw=" + p + "|" + w);
  out.push_back("wn=" + w + "|" + nx);
  if (w.size() > 3) out.push_back("s3=" + w.substr(w.size() - 3));
  out.push_back("sh=" + shape_of(w));
  if (!context.empty()) {
    out.push_back("c=" + std::string(context));
    out.push_back("cw=" + std::string(context) + "|" + w);
  }
  return out;
}

int text_dense_dim(const TextFeatures& f) {
  return static_cast<int>(f.sentence.size() + f.intent_logits.size()) + f.lexical_dim;
}

void text_dense_row(const TextFeatures& f, float* out) {
  const auto sd = f.sentence.size();
  std::copy(f.sentence.begin(), f.sentence.end(), out);
  std::copy(f.intent_logits.begin(), f.intent_logits.end(), out + sd);
  float* lex = out + sd + f.intent_logits.size();
  const auto ld = static_cast<std::size_t>(f.lexical_dim);
  std::fill(lex, lex + ld, 0.0f);
  if (f.size() == 0) return;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const float* r = f.lexical_row(i);
    for (std::size_t k = 0; k < ld; ++k) lex[k] += r[k];
  }
  float inv = 1.0f / static_cast<float>(f.size());
  for (std::size_t k = 0; k < ld; ++k) lex[k] *= inv;
}

std::vector<std::string> text_sparse_strings(const TextFeatures& f) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < f.size(); ++i) {
    out.push_back("u=" + f.word_text[i]);
    out.push_back("b=" + (i > 0 ? f.word_text[i - 1] : std::string("<s>")) + "|" + f.word_text[i]);
  }
  if (f.size() > 0) out.push_back("b=" + f.word_text.back() + "|</s>");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace parley::nlu
