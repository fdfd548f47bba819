// parley-qa: question answering over knowledge bases (retrieval + extractive/generative answers).
#include <iostream>

#include "services/qa/embedder_factory.h"
#include "services/qa/qa_service.h"
#include "shared/config/base_schema.h"
#include "shared/models/runtime/device_config.h"
#include "shared/models/runtime/device_metrics.h"
#include "shared/service/curve_config.h"
#include "shared/service/host.h"

int main(int argc, char** argv) {
  using namespace parley;
  config::Schema schema = config::service_base_schema("parley-qa", "Question answering over knowledge bases");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7103"));
  schema.set_default("http.port", 9103);
  // Answer handlers mostly wait for the question-embedding batcher; the engine's parallelism is
  // qa.batch.workers. Enough handler threads must wait at once for batches to fill.
  schema.set_default("service.workers", 32);
  schema.add_string("qa.embedder", "encoder", "Embedder: encoder (MiniLM sentence encoder) or hash (lexical stand-in)",
                    config::one_of({"encoder", "hash"}));
  schema.add_string("qa.encoder_dir", "", "Encoder model directory (empty: $PARLEY_MODEL_DIR/encoder-minilm)");
  schema.add_int("qa.encoder_threads", 2, "Threads the encoder may use", config::int_range(1, 256));
  models::add_device_key(schema, "qa.device");
  schema.add_string("qa.index", "int8-exact", "Passage index kind", config::one_of({"int8-exact", "float-exact"}));
  schema.add_string("qa.lm_target", "tcp://127.0.0.1:7104", "LM service for generative answers (empty: none)");
  schema.add_duration("qa.lm_timeout", std::chrono::seconds(10), "Longest wait for a generative answer",
                      config::duration_range(std::chrono::milliseconds(10), std::chrono::minutes(5)));
  schema.add_int("qa.lm_max_tokens", 160, "Longest generative answer, in tokens", config::int_range(1, 4096));
  schema.add_string("qa.default_mode", "extractive", "Answer mode when request and KB leave it unset",
                    config::one_of({"extractive", "generative"}));
  schema.add_double("qa.min_score", 0.45, "Sentence score below which the answer is 'no answer'",
                    config::double_range(-1, 2));
  schema.add_int("qa.top_k", 5, "Passages retrieved per question by default", config::int_range(1, 50));
  schema.add_int("qa.chunk_words", 120, "Passage budget in words", config::int_range(8, 512));
  schema.add_int("qa.overlap_words", 30, "Words of trailing sentences repeated in the next passage",
                 config::int_range(0, 256));
  schema.add_int("qa.max_question_bytes", 2048, "Longest question", config::int_range(1, 1 << 20));
  schema.add_int("qa.max_document_bytes", 1 << 20, "Largest document", config::int_range(1, 256 << 20));
  schema.add_int("qa.max_documents_per_ingest", 1000, "Most documents in one Ingest", config::int_range(1, 1 << 20));
  schema.add_int("qa.max_ingest_bytes", 16 << 20, "Most text in one Ingest", config::int_range(1, 1 << 30));
  schema.add_int("qa.max_passages_per_kb", 100'000, "Most passages in one knowledge base", config::int_range(1, 1 << 26));
  schema.add_int("qa.max_knowledge_bases", 64, "Most knowledge bases held", config::int_range(1, 1 << 20));
  schema.add_int("qa.batch.max_size", 16, "Question-embedding batch size (1: no batching)", config::int_range(1, 1024));
  schema.add_duration("qa.batch.max_queue_delay", std::chrono::microseconds(1500),
                      "Longest a question waits for a batch to fill",
                      config::duration_range(std::chrono::microseconds(0), std::chrono::seconds(1)));
  schema.add_int("qa.batch.workers", 1, "Threads running embedding batches", config::int_range(1, 64));
  schema.add_int("qa.batch.queue_capacity", 1024, "Questions queued for embedding", config::int_range(1, 1 << 20));
  auto host = service::Host::create("qa", schema, argc, argv);
  const config::Config& cfg = host->config();

  auto device = models::resolve_device_key(cfg, "qa.device");
  if (!device.ok()) {
    std::cerr << "parley-qa: " << device.status().to_string() << "\n";
    return 2;
  }
  auto embedder = qa::make_embedder(cfg.get_string("qa.embedder"), cfg.get_string("qa.encoder_dir"),
                                    static_cast<int>(cfg.get_int("qa.encoder_threads")), *device);
  if (!embedder.ok()) {
    std::cerr << "parley-qa: " << embedder.status().to_string() << "\n";
    return 2;
  }
  qa::QaOptions o;
  o.limits.max_question_bytes = static_cast<std::size_t>(cfg.get_int("qa.max_question_bytes"));
  o.limits.max_document_bytes = static_cast<std::size_t>(cfg.get_int("qa.max_document_bytes"));
  o.limits.max_documents_per_ingest = static_cast<std::size_t>(cfg.get_int("qa.max_documents_per_ingest"));
  o.limits.max_ingest_bytes = static_cast<std::size_t>(cfg.get_int("qa.max_ingest_bytes"));
  o.limits.max_passages_per_kb = static_cast<std::size_t>(cfg.get_int("qa.max_passages_per_kb"));
  o.limits.max_knowledge_bases = static_cast<std::size_t>(cfg.get_int("qa.max_knowledge_bases"));
  o.chunk.chunk_words = static_cast<std::size_t>(cfg.get_int("qa.chunk_words"));
  o.chunk.overlap_words = static_cast<std::size_t>(cfg.get_int("qa.overlap_words"));
  o.index_kind = cfg.get_string("qa.index");
  o.default_top_k = static_cast<int>(cfg.get_int("qa.top_k"));
  o.default_min_score = static_cast<float>(cfg.get_double("qa.min_score"));
  o.default_mode = cfg.get_string("qa.default_mode") == "generative" ? v1::GENERATIVE : v1::EXTRACTIVE;
  o.lm_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.get_duration("qa.lm_timeout"));
  o.lm_max_tokens = static_cast<int>(cfg.get_int("qa.lm_max_tokens"));
  o.batch.max_batch_size = static_cast<std::size_t>(cfg.get_int("qa.batch.max_size"));
  o.batch.max_queue_delay = cfg.get_duration("qa.batch.max_queue_delay");
  o.batch.workers = static_cast<int>(cfg.get_int("qa.batch.workers"));
  o.batch.queue_capacity = static_cast<std::size_t>(cfg.get_int("qa.batch.queue_capacity"));

  std::unique_ptr<qa::TextGenerator> generator;
  // CURVE to the LM when the deployment configures it (transport.curve_server_key + client keys).
  auto curve = service::curve_settings(cfg);
  if (!curve.ok()) {
    std::cerr << "parley-qa: " << curve.status().to_string() << "\n";
    return 2;
  }
  if (!cfg.get_string("qa.lm_target").empty()) {
    auto g = qa::LmClientGenerator::create(cfg.get_string("qa.lm_target"), curve->client ? &*curve->client : nullptr);
    if (!g.ok()) {
      std::cerr << "parley-qa: " << g.status().to_string() << "\n";
      return 2;
    }
    generator = std::move(*g);
  }
  qa::QaMetrics qa_metrics(host->metrics());
  // The hash embedder computes on the host whatever qa.device says.
  models::register_device_metrics(host->metrics(), "qa",
                                  cfg.get_string("qa.embedder") == "hash" ? engine::Device::cpu() : *device);
  auto svc = qa::QaService::create(std::move(o), *embedder, std::move(generator), &qa_metrics);
  if (!svc.ok()) {
    std::cerr << "parley-qa: " << svc.status().to_string() << "\n";
    return 2;
  }
  if ((*svc)->batcher() != nullptr) (*svc)->batcher()->stats().export_to(host->metrics(), "qa", "question_embed");
  qa::QaService& s = **svc;
  host->unary<v1::IngestRequest, v1::IngestResponse>(
      "parley.v1.Qa/Ingest", [&s](const v1::IngestRequest& r, service::CallContext& c) { return s.ingest(r, c); });
  host->unary<v1::AnswerRequest, v1::AnswerResponse>(
      "parley.v1.Qa/Answer", [&s](const v1::AnswerRequest& r, service::CallContext& c) { return s.answer(r, c); });
  host->unary<v1::DropKnowledgeBaseRequest, v1::DropKnowledgeBaseResponse>(
      "parley.v1.Qa/DropKnowledgeBase",
      [&s](const v1::DropKnowledgeBaseRequest& r, service::CallContext& c) { return s.drop(r, c); });
  host->set_ready(true);
  return host->run();
}
