// HashEmbedder: deterministic feature hashing.
#include "services/qa/embedder.h"

#include <cmath>
#include <cstdint>
#include <string_view>

#include "services/qa/text_utils.h"
#include "shared/common/hash.h"

namespace parley::qa {

namespace {

void add_feature(std::vector<float>& v, std::string_view feature, std::uint64_t seed, float weight) {
  std::uint64_t h = fnv1a_seeded(feature, seed);
  auto bucket = static_cast<std::size_t>(h % v.size());
  v[bucket] += ((h >> 63) != 0U) ? -weight : weight;
}

}  // namespace

Result<Embeddings> HashEmbedder::embed(const std::vector<std::string>& texts) const {
  Embeddings out;
  out.dim = dim_;
  out.data.assign(texts.size() * static_cast<std::size_t>(dim_), 0.0f);
  std::vector<float> v(static_cast<std::size_t>(dim_));
  for (std::size_t t = 0; t < texts.size(); ++t) {
    std::fill(v.begin(), v.end(), 0.0f);
    auto ws = words(texts[t]);
    for (std::size_t i = 0; i < ws.size(); ++i) {
      std::string s = stem(ws[i].norm);
      float w = is_stop_word(ws[i].norm) ? 0.2f : 1.0f;
      add_feature(v, s, 1, w);
      if (i + 1 < ws.size()) add_feature(v, s + " " + stem(ws[i + 1].norm), 2, 0.5f * w);
      std::string padded = " " + ws[i].norm + " ";
      for (std::size_t k = 0; k + 4 <= padded.size(); ++k) add_feature(v, std::string_view(padded).substr(k, 4), 3, 0.3f * w);
    }
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (int d = 0; d < dim_; ++d) out.data[t * static_cast<std::size_t>(dim_) + static_cast<std::size_t>(d)] = v[static_cast<std::size_t>(d)] * inv;
  }
  return out;
}

}  // namespace parley::qa
