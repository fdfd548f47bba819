// Embedder: the interface QA uses to turn texts into sentence embeddings, and HashEmbedder, a
// deterministic lexical stand-in. Exists so retrieval and answer scoring do not depend on which
// encoder runs (MiniLM from shared/models/encoder in production, the hash embedder in unit tests and
// when configured). Depends on shared/common.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::qa {

/// Row-major embeddings: `count` rows of `dim` floats, each L2-normalised.
struct Embeddings {
  int dim = 0;
  std::vector<float> data;
  std::size_t count() const { return dim == 0 ? 0 : data.size() / static_cast<std::size_t>(dim); }
  const float* row(std::size_t i) const { return data.data() + i * static_cast<std::size_t>(dim); }
};

/// Texts in, one L2-normalised vector per text out (cosine similarity = dot product).
/// Threading: embed() may be called from several threads at once. Stateless between calls.
class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual int dim() const = 0;
  /// For logs and /metrics labels ("minilm-l6-v2", "hash-256").
  virtual std::string name() const = 0;
  virtual Result<Embeddings> embed(const std::vector<std::string>& texts) const = 0;
};

/// Feature hashing of lower-cased words, word bigrams and character 4-grams into `dim` signed
/// buckets, L2-normalised. Deterministic and fast; similarity is lexical only (no synonyms).
class HashEmbedder final : public Embedder {
 public:
  explicit HashEmbedder(int dim = 256) : dim_(dim) {}
  int dim() const override { return dim_; }
  std::string name() const override { return "hash-" + std::to_string(dim_); }
  Result<Embeddings> embed(const std::vector<std::string>& texts) const override;

 private:
  int dim_;
};

}  // namespace parley::qa
