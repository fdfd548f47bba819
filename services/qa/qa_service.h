// The QA service's logic: ingest documents into isolated knowledge bases, answer questions by
// retrieval plus an extractive or generative answer, drop knowledge bases. No sockets or
// envelopes: main.cc wires it to the host. Depends on knowledge_base, extractive, generator,
// shared/batching, shared/service (CallContext), proto.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "parley/v1/qa.pb.h"
#include "services/qa/embedder.h"
#include "services/qa/extractive.h"
#include "services/qa/generator.h"
#include "services/qa/knowledge_base.h"
#include "services/qa/qa_metrics.h"
#include "shared/batching/dynamic_batcher.h"
#include "shared/service/method.h"

namespace parley::qa {

/// Explicit limits; a request beyond one gets INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for the
/// service-wide ones) naming the limit and its config key.
struct QaLimits {
  std::size_t max_question_bytes = 2048;         ///< qa.max_question_bytes
  std::size_t max_document_bytes = 1 << 20;      ///< qa.max_document_bytes
  std::size_t max_documents_per_ingest = 1000;   ///< qa.max_documents_per_ingest
  std::size_t max_ingest_bytes = 16 << 20;       ///< qa.max_ingest_bytes
  std::size_t max_passages_per_kb = 100'000;     ///< qa.max_passages_per_kb
  std::size_t max_knowledge_bases = 64;          ///< qa.max_knowledge_bases
  int max_top_k = 50;
  int max_chunk_words = 512;
};

struct QaOptions {
  QaLimits limits;
  ChunkOptions chunk;
  std::string index_kind = "int8-exact";
  int default_top_k = 5;
  /// Sentence score below which the answer is "no answer" (request and KB values win).
  float default_min_score = 0.45f;
  v1::AnswerMode default_mode = v1::EXTRACTIVE;
  ExtractiveWeights weights;
  /// Generative: LM budget (capped by the request's deadline), tokens, passages in the prompt.
  std::chrono::milliseconds lm_timeout{10'000};
  int lm_max_tokens = 160;
  int generative_passages = 3;
  /// Question embedding: `workers` engine threads behind a dynamic batcher (max_batch_size 1 =
  /// one question per embed call, no batching; workers 0 = embed inline on the caller's thread).
  batching::DynamicBatcherOptions batch{.name = "question_embed", .max_batch_size = 16,
                                        .max_queue_delay = std::chrono::microseconds(1500),
                                        .queue_capacity = 1024, .workers = 1};
};

/// Thread-safe: all methods may run on many worker threads at once. Ingests serialize among
/// themselves; answers never wait for an ingest (they read the previous KB snapshot).
class QaService {
 public:
  /// `embedder` required; `generator` may be null (generative requests then answer extractively,
  /// with a note); `metrics` may be null (tests).
  static Result<std::unique_ptr<QaService>> create(QaOptions options, std::shared_ptr<const Embedder> embedder,
                                                   std::unique_ptr<TextGenerator> generator, QaMetrics* metrics);
  ~QaService();

  /// parley.v1.Qa/Ingest: adds documents (replacing same-id documents) to kb_id, creating it.
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& request, service::CallContext& ctx);
  /// parley.v1.Qa/Answer.
  Result<v1::AnswerResponse> answer(const v1::AnswerRequest& request, service::CallContext& ctx);
  /// parley.v1.Qa/DropKnowledgeBase: NOT_FOUND when unknown.
  Result<v1::DropKnowledgeBaseResponse> drop(const v1::DropKnowledgeBaseRequest& request, service::CallContext& ctx);

  /// The same without a host (tools/eval, benchmarks): `deadline` bounds the work.
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& request, std::chrono::steady_clock::time_point deadline);
  Result<v1::AnswerResponse> answer(const v1::AnswerRequest& request, std::chrono::steady_clock::time_point deadline);

  /// Retrieval only (evaluation): the top-k passages of kb_id for `question`.
  Result<std::vector<v1::Passage>> retrieve(const std::string& kb_id, const std::string& question, int top_k,
                                            std::chrono::steady_clock::time_point deadline);

  const KbStore& store() const { return store_; }
  /// The question-embedding batcher (null when batch.workers is 0).
  batching::DynamicBatcher<std::string, std::vector<float>>* batcher() { return batcher_.get(); }

 private:
  QaService(QaOptions options, std::shared_ptr<const Embedder> embedder, std::unique_ptr<TextGenerator> generator,
            QaMetrics* metrics);
  Status validate_ingest(const v1::IngestRequest& request) const;
  Status validate_answer(const v1::AnswerRequest& request) const;
  Result<std::vector<float>> embed_question(const std::string& question, std::chrono::steady_clock::time_point deadline);
  Result<std::string> generate(const std::string& question, const KnowledgeBase& kb, const std::vector<SearchHit>& hits,
                               std::chrono::steady_clock::time_point deadline);

  QaOptions options_;
  std::shared_ptr<const Embedder> embedder_;
  std::unique_ptr<TextGenerator> generator_;
  QaMetrics* metrics_;
  KbStore store_;
  std::unique_ptr<batching::DynamicBatcher<std::string, std::vector<float>>> batcher_;
};

}  // namespace parley::qa
