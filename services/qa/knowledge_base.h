// Knowledge bases: passages with their embeddings, a passage index, per-sentence embeddings for
// answer extraction and word statistics; and KbStore, the set of isolated knowledge bases of one
// process. Exists so ingestion builds an immutable snapshot that answers read without locks while
// a re-ingest builds the next one. Depends on chunker, embedder, index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/qa/chunker.h"
#include "services/qa/embedder.h"
#include "services/qa/index.h"
#include "shared/common/status.h"

namespace parley::qa {

/// One passage as stored: id is "<document id>#<chunk index>".
struct StoredPassage {
  std::string id;
  std::string document_id;
  std::string title;  ///< heading path (document title > sections)
  std::string text;
  std::vector<Span> sentences;      ///< byte ranges into text
  std::size_t first_sentence = 0;   ///< row of sentences[0] in the sentence vectors
};

/// A document to ingest (already validated by the service).
struct DocumentInput {
  std::string id;
  std::string title;
  std::string text;
};

struct BuildOptions {
  ChunkOptions chunk;
  std::string index_kind = "int8-exact";
  std::size_t max_passages = 100'000;
  std::size_t embed_batch = 32;
  /// KB defaults for Answer requests (0 = keep the previous KB's, or none).
  int default_mode = 0;  ///< v1::AnswerMode value
  float default_min_score = 0;
};

/// What a build did besides the KB itself.
struct BuildReport {
  /// Documents of the request whose passages the previous KB already held exactly (same text and
  /// chunking): kept with their vectors, not embedded again.
  std::size_t unchanged_documents = 0;
  /// Documents that chunked to nothing (only headings): nothing in them can be answered. Five by
  /// name, then one line counting the rest.
  std::vector<std::string> warnings;
};

/// An immutable knowledge base. Threading: const after build; share it with shared_ptr<const>.
class KnowledgeBase {
 public:
  const std::string& id() const { return id_; }
  const std::vector<StoredPassage>& passages() const { return passages_; }
  const Index& index() const { return *index_; }
  std::size_t document_count() const { return documents_; }
  int dim() const { return dim_; }
  /// Approximate cosine between sentence row `row` and the (quantized) query.
  float sentence_similarity(std::size_t row, const QuantizedVector& query) const;
  /// Inverse document frequency (over passages) of a stemmed word; unseen words get the maximum.
  float idf(const std::string& stemmed) const;
  /// Answer defaults stored with the KB (0: none, the service's apply).
  int default_mode() const { return default_mode_; }
  float default_min_score() const { return default_min_score_; }

  /// Builds a KB from `previous` (may be null; its documents with ids in `documents` are
  /// replaced, the others kept without re-embedding) plus `documents`. Embeds with `embedder`;
  /// a document whose passages `previous` holds exactly as they chunk now keeps its vectors
  /// (counted in `report`, which may be null).
  /// RESOURCE_EXHAUSTED past options.max_passages; the embedder's error otherwise.
  static Result<std::shared_ptr<const KnowledgeBase>> build(std::string id, const KnowledgeBase* previous,
                                                            const std::vector<DocumentInput>& documents,
                                                            const Embedder& embedder, const BuildOptions& options,
                                                            BuildReport* report = nullptr);

 private:
  std::string id_;
  int dim_ = 0;
  std::size_t documents_ = 0;
  std::vector<StoredPassage> passages_;
  std::vector<float> passage_vectors_;     // float, kept so a re-ingest can rebuild the index
  std::unique_ptr<Index> index_;
  std::vector<std::int8_t> sentence_codes_;  // row-major int8
  std::vector<float> sentence_scales_;
  std::unordered_map<std::string, float> idf_;
  float max_idf_ = 1.0f;
  int default_mode_ = 0;
  float default_min_score_ = 0;
};

/// The knowledge bases of a process, isolated by id. Threading: all methods are thread-safe;
/// get() returns a snapshot that stays valid while a later ingest replaces the KB.
/// Writers (ingest, drop) serialize on writer_mutex() so a build sees the latest previous KB.
class KbStore {
 public:
  explicit KbStore(std::size_t max_kbs) : max_kbs_(max_kbs) {}
  std::shared_ptr<const KnowledgeBase> get(const std::string& id) const;
  /// Adds or replaces; RESOURCE_EXHAUSTED when it would exceed max_kbs.
  Status put(std::shared_ptr<const KnowledgeBase> kb);
  bool drop(const std::string& id);
  std::size_t size() const;
  std::size_t total_passages() const;
  std::mutex& writer_mutex() { return writer_mu_; }

 private:
  std::size_t max_kbs_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const KnowledgeBase>> kbs_;  // guarded by mu_
  std::mutex writer_mu_;
};

}  // namespace parley::qa
