// The QA service's logic.
#include "services/qa/qa_service.h"

#include <cmath>
#include <set>

#include "services/qa/text_utils.h"
#include "shared/common/log.h"

namespace parley::qa {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::string_view mode_name(v1::AnswerMode m) { return m == v1::GENERATIVE ? "generative" : "extractive"; }

bool valid_kb_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (std::isalnum(c) == 0 && c != '-' && c != '_' && c != '.' && c != ':') return false;
  }
  return true;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

/// Lets the host-less entry points share the CallContext-based code.
class DeadlineContext final : public service::CallContext {
 public:
  explicit DeadlineContext(SteadyTime deadline) : deadline_(deadline) {}
  const std::string& method() const override { return empty_; }
  const std::string& session_id() const override { return empty_; }
  const std::string& trace_id() const override { return empty_; }
  SteadyTime deadline() const override { return deadline_; }
  bool cancelled() const override { return std::chrono::steady_clock::now() >= deadline_; }
  void add_timing(std::string, std::chrono::microseconds) override {}

 private:
  SteadyTime deadline_;
  std::string empty_;
};

std::chrono::microseconds since(SteadyTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

Result<std::unique_ptr<QaService>> QaService::create(QaOptions options, std::shared_ptr<const Embedder> embedder,
                                                     std::unique_ptr<TextGenerator> generator, QaMetrics* metrics) {
  if (!embedder) return invalid_argument("QA service needs an embedder");
  PARLEY_RETURN_IF_ERROR(batching::validate(options.batch).with_context("qa.batch"));
  PARLEY_RETURN_IF_ERROR(make_index(options.index_kind, embedder->dim()).status().with_context("qa.index"));
  auto svc = std::unique_ptr<QaService>(new QaService(std::move(options), std::move(embedder), std::move(generator), metrics));
  if (svc->options_.batch.workers > 0) {
    const Embedder* e = svc->embedder_.get();
    auto b = batching::DynamicBatcher<std::string, std::vector<float>>::create(
        svc->options_.batch, [e](std::vector<std::string>& texts) {
          std::vector<Result<std::vector<float>>> out;
          auto r = e->embed(texts);
          if (!r.ok() || r->count() != texts.size()) {
            Status s = r.ok() ? internal_error("embedder returned the wrong number of vectors") : r.status();
            for (std::size_t i = 0; i < texts.size(); ++i) out.emplace_back(s);
            return out;
          }
          for (std::size_t i = 0; i < texts.size(); ++i) out.emplace_back(std::vector<float>(r->row(i), r->row(i) + r->dim));
          return out;
        });
    if (!b.ok()) return b.status();
    svc->batcher_ = std::move(*b);
  }
  return svc;
}

QaService::QaService(QaOptions options, std::shared_ptr<const Embedder> embedder,
                     std::unique_ptr<TextGenerator> generator, QaMetrics* metrics)
    : options_(std::move(options)),
      embedder_(std::move(embedder)),
      generator_(std::move(generator)),
      metrics_(metrics),
      store_(options_.limits.max_knowledge_bases) {}

QaService::~QaService() {
  if (batcher_) batcher_->stop();
}

Status QaService::validate_ingest(const v1::IngestRequest& r) const {
  const QaLimits& l = options_.limits;
  if (!valid_kb_id(r.kb_id())) {
    return invalid_argument("kb_id must be 1-128 characters of [A-Za-z0-9._:-], got '" + r.kb_id().substr(0, 64) + "'");
  }
  if (r.documents_size() == 0) return invalid_argument("no documents to ingest");
  if (static_cast<std::size_t>(r.documents_size()) > l.max_documents_per_ingest) {
    return invalid_argument(std::to_string(r.documents_size()) + " documents in one request; the limit is " +
                            std::to_string(l.max_documents_per_ingest) + " (qa.max_documents_per_ingest)");
  }
  if (r.chunk_tokens() < 0 || r.chunk_tokens() > l.max_chunk_words) {
    return invalid_argument("chunk_tokens must be within [0, " + std::to_string(l.max_chunk_words) + "]");
  }
  int chunk = r.chunk_tokens() > 0 ? r.chunk_tokens() : static_cast<int>(options_.chunk.chunk_words);
  if (r.overlap_tokens() < 0 || r.overlap_tokens() >= chunk) {
    return invalid_argument("overlap_tokens must be within [0, chunk_tokens)");
  }
  if (!v1::AnswerMode_IsValid(r.default_mode())) return invalid_argument("default_mode is not a known AnswerMode");
  if (!std::isfinite(r.default_min_score())) return invalid_argument("default_min_score must be finite");
  std::size_t total = 0;
  std::set<std::string> ids;
  for (int i = 0; i < r.documents_size(); ++i) {
    const v1::Document& d = r.documents(i);
    std::string where = "document " + std::to_string(i);
    if (d.id().empty() || d.id().size() > 256) return invalid_argument(where + ": id must be 1-256 bytes");
    PARLEY_RETURN_IF_ERROR(check_utf8(where + " id", d.id()));
    where += " ('" + d.id() + "')";
    if (!ids.insert(d.id()).second) return invalid_argument(where + ": duplicate document id in one request");
    if (d.text().size() > l.max_document_bytes) {
      return invalid_argument(where + " is " + std::to_string(d.text().size()) + " bytes; the limit is " +
                              std::to_string(l.max_document_bytes) + " (qa.max_document_bytes): split it");
    }
    PARLEY_RETURN_IF_ERROR(check_utf8(where + " title", d.title()));
    PARLEY_RETURN_IF_ERROR(check_utf8(where + " text", d.text()));
    if (blank(d.text())) return invalid_argument(where + " has no text");
    total += d.text().size();
  }
  if (total > l.max_ingest_bytes) {
    return invalid_argument("documents total " + std::to_string(total) + " bytes; the limit per request is " +
                            std::to_string(l.max_ingest_bytes) + " (qa.max_ingest_bytes)");
  }
  return Status::ok();
}

Result<v1::IngestResponse> QaService::ingest(const v1::IngestRequest& request, service::CallContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate_ingest(request));
  auto start = std::chrono::steady_clock::now();
  std::vector<DocumentInput> docs;
  docs.reserve(static_cast<std::size_t>(request.documents_size()));
  for (const auto& d : request.documents()) docs.push_back({d.id(), d.title(), d.text()});
  BuildOptions build;
  build.chunk = options_.chunk;
  if (request.chunk_tokens() > 0) build.chunk.chunk_words = static_cast<std::size_t>(request.chunk_tokens());
  if (request.chunk_tokens() > 0 || request.overlap_tokens() > 0) {
    build.chunk.overlap_words = static_cast<std::size_t>(request.overlap_tokens());
  }
  build.index_kind = options_.index_kind;
  build.max_passages = options_.limits.max_passages_per_kb;
  build.default_mode = request.default_mode();
  build.default_min_score = request.default_min_score();

  std::lock_guard writer(store_.writer_mutex());
  if (ctx.cancelled()) return deadline_exceeded("ingest: deadline passed before the build started");
  auto previous = store_.get(request.kb_id());
  BuildReport report;
  PARLEY_ASSIGN_OR_RETURN(auto kb, KnowledgeBase::build(request.kb_id(), previous.get(), docs, *embedder_, build, &report));
  if (ctx.cancelled()) return deadline_exceeded("ingest: deadline passed while embedding; nothing was stored");
  PARLEY_RETURN_IF_ERROR(store_.put(kb));
  ctx.add_timing("ingest", since(start));
  if (metrics_ != nullptr) {
    metrics_->ingest_duration.observe_since(start);
    metrics_->ingested_documents.inc(double(docs.size()));
    metrics_->unchanged_documents.inc(double(report.unchanged_documents));
    metrics_->knowledge_bases.set(double(store_.size()));
    metrics_->passages.set(double(store_.total_passages()));
  }
  std::size_t new_chunks = 0;
  for (const auto& p : kb->passages()) {
    for (const auto& d : docs) {
      if (p.document_id == d.id) {
        ++new_chunks;
        break;
      }
    }
  }
  PARLEY_LOG(kInfo).kv("kb", request.kb_id()).kv("documents", docs.size()).kv("chunks", new_chunks)
          .kv("passages", kb->passages().size()).kv("unchanged_documents", report.unchanged_documents)
      << "ingested";
  v1::IngestResponse out;
  out.set_kb_id(request.kb_id());
  out.set_documents(static_cast<int>(docs.size()));
  out.set_chunks(static_cast<int>(new_chunks));
  out.set_unchanged_documents(static_cast<int>(report.unchanged_documents));
  for (const auto& w : report.warnings) {
    out.add_warnings(w);
    PARLEY_LOG(kInfo).kv("kb", request.kb_id()) << w;
  }
  return out;
}

Result<v1::DropKnowledgeBaseResponse> QaService::drop(const v1::DropKnowledgeBaseRequest& request,
                                                      service::CallContext&) {
  std::lock_guard writer(store_.writer_mutex());
  if (!store_.drop(request.kb_id())) return not_found("unknown knowledge base '" + request.kb_id().substr(0, 128) + "'");
  if (metrics_ != nullptr) {
    metrics_->knowledge_bases.set(double(store_.size()));
    metrics_->passages.set(double(store_.total_passages()));
  }
  return v1::DropKnowledgeBaseResponse();
}

Status QaService::validate_answer(const v1::AnswerRequest& r) const {
  if (r.kb_id().empty()) return invalid_argument("kb_id is empty");
  PARLEY_RETURN_IF_ERROR(check_utf8("question", r.question()));
  if (blank(r.question())) return invalid_argument("question is empty");
  if (r.question().size() > options_.limits.max_question_bytes) {
    return invalid_argument("question is " + std::to_string(r.question().size()) + " bytes; the limit is " +
                            std::to_string(options_.limits.max_question_bytes) + " (qa.max_question_bytes)");
  }
  if (r.top_k() < 0 || r.top_k() > options_.limits.max_top_k) {
    return invalid_argument("top_k must be within [0, " + std::to_string(options_.limits.max_top_k) + "]");
  }
  if (!v1::AnswerMode_IsValid(r.mode())) return invalid_argument("mode is not a known AnswerMode");
  if (!std::isfinite(r.min_score())) return invalid_argument("min_score must be finite");
  return Status::ok();
}

Result<std::vector<float>> QaService::embed_question(const std::string& question, SteadyTime deadline) {
  auto start = std::chrono::steady_clock::now();
  Result<std::vector<float>> out = Status(StatusCode::kInternal, "unset");
  if (batcher_) {
    out = batcher_->call(question, deadline);
  } else {
    auto e = embedder_->embed({question});
    if (!e.ok()) {
      out = e.status();
    } else {
      out = std::vector<float>(e->row(0), e->row(0) + e->dim);
    }
  }
  if (metrics_ != nullptr) metrics_->embed_duration.observe_since(start);
  if (!out.ok()) return out.status().with_context("embedding the question");
  return out;
}

Result<std::vector<v1::Passage>> QaService::retrieve(const std::string& kb_id, const std::string& question, int top_k,
                                                     SteadyTime deadline) {
  auto kb = store_.get(kb_id);
  if (!kb) return not_found("unknown knowledge base '" + kb_id.substr(0, 128) + "' (ingest documents into it first)");
  PARLEY_ASSIGN_OR_RETURN(auto q, embed_question(question, deadline));
  std::vector<v1::Passage> out;
  for (const auto& h : kb->index().search(q, static_cast<std::size_t>(top_k))) {
    const StoredPassage& p = kb->passages()[h.row];
    v1::Passage& o = out.emplace_back();
    o.set_id(p.id);
    o.set_document_id(p.document_id);
    o.set_title(p.title);
    o.set_text(p.text);
    o.set_score(h.score);
  }
  return out;
}

Result<std::string> QaService::generate(const std::string& question, const KnowledgeBase& kb,
                                        const std::vector<SearchHit>& hits, SteadyTime deadline) {
  if (!generator_) return unavailable("no LM configured (qa.lm_target is empty)");
  std::vector<PromptPassage> passages;
  for (std::size_t i = 0; i < hits.size() && i < static_cast<std::size_t>(options_.generative_passages); ++i) {
    const StoredPassage& p = kb.passages()[hits[i].row];
    passages.push_back({p.title, p.text});
  }
  v1::SamplingParams params;
  params.set_temperature(0);
  params.set_max_tokens(options_.lm_max_tokens);
  return generator_->generate(build_generative_prompt(question, passages), params, deadline);
}

Result<v1::AnswerResponse> QaService::answer(const v1::AnswerRequest& request, service::CallContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate_answer(request));
  auto kb = store_.get(request.kb_id());
  if (!kb) {
    return not_found("unknown knowledge base '" + request.kb_id().substr(0, 128) + "' (ingest documents into it first)");
  }
  auto start = std::chrono::steady_clock::now();
  PARLEY_ASSIGN_OR_RETURN(auto q, embed_question(request.question(), ctx.deadline()));
  std::size_t top_k = request.top_k() > 0 ? static_cast<std::size_t>(request.top_k())
                                          : static_cast<std::size_t>(options_.default_top_k);
  std::vector<SearchHit> hits = kb->index().search(q, top_k);
  ctx.add_timing("retrieval", since(start));
  if (metrics_ != nullptr) {
    metrics_->retrieval_duration.observe_since(start);
    metrics_->passages_scored.inc(double(kb->index().size()));
  }

  auto mode = static_cast<v1::AnswerMode>(request.mode() != v1::ANSWER_MODE_UNSPECIFIED ? request.mode()
                                          : kb->default_mode() != 0                     ? kb->default_mode()
                                                                                         : options_.default_mode);
  float min_score = request.min_score() != 0       ? request.min_score()
                    : kb->default_min_score() != 0 ? kb->default_min_score()
                                                   : options_.default_min_score;
  auto extract_start = std::chrono::steady_clock::now();
  ExtractiveAnswer ex = extract_answer(*kb, request.question(), q, hits, options_.weights);
  ctx.add_timing("extract", since(extract_start));

  v1::AnswerResponse out;
  for (const auto& h : hits) {
    const StoredPassage& p = kb->passages()[h.row];
    v1::Passage* o = out.add_passages();
    o->set_id(p.id);
    o->set_document_id(p.document_id);
    o->set_title(p.title);
    o->set_text(p.text);
    o->set_score(h.score);
  }
  bool answered = ex.found && ex.confidence >= min_score;
  out.set_confidence(ex.confidence);
  out.set_mode(v1::EXTRACTIVE);
  if (answered) {
    out.set_span(ex.span);
    out.set_answer(request.short_answer() ? ex.span : ex.sentence);
  }
  if (mode == v1::GENERATIVE) {
    if (!answered) {
      out.set_mode(v1::GENERATIVE);
      out.set_note("no passage scored above min_score; the LM was not asked");
    } else {
      // Leave a little of the caller's budget for the reply itself.
      SteadyTime lm_deadline = std::min(ctx.deadline() - std::chrono::milliseconds(20),
                                        std::chrono::steady_clock::now() + options_.lm_timeout);
      auto gen_start = std::chrono::steady_clock::now();
      Result<std::string> text = generate(request.question(), *kb, hits, lm_deadline);
      ctx.add_timing("generate", since(gen_start));
      if (text.ok()) {
        std::string t = *text;
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front())) != 0) t.erase(t.begin());
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())) != 0) t.pop_back();
        out.set_mode(v1::GENERATIVE);
        if (t.empty() || is_refusal(t)) {
          answered = false;
          out.clear_answer();
          out.clear_span();
          out.set_note("the LM found no answer in the passages");
        } else {
          out.set_answer(t);
        }
      } else {
        if (metrics_ != nullptr) metrics_->lm_fallbacks.labels({status_code_name(text.status().code())}).inc();
        PARLEY_LOG_EVERY_MS(kWarn, 5000).kv("error", text.status().to_string())
            << "generative answer failed; answering extractively";
        out.set_note("generative answer unavailable (" + text.status().to_string() + "); extractive answer instead");
      }
    }
  }
  out.set_has_answer(answered);
  if (metrics_ != nullptr) metrics_->answer(mode_name(out.mode()), answered).inc();
  return out;
}

Result<v1::IngestResponse> QaService::ingest(const v1::IngestRequest& request, SteadyTime deadline) {
  DeadlineContext ctx(deadline);
  return ingest(request, ctx);
}

Result<v1::AnswerResponse> QaService::answer(const v1::AnswerRequest& request, SteadyTime deadline) {
  DeadlineContext ctx(deadline);
  return answer(request, ctx);
}

}  // namespace parley::qa
