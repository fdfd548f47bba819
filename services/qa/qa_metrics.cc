// QA metric families.
#include "services/qa/qa_metrics.h"

namespace parley::qa {

QaMetrics::QaMetrics(metrics::Registry& r)
    : retrieval_duration(r.histogram("parley_qa_retrieval_duration_seconds",
                                     "Time to embed a question and search the knowledge base.")
                             .labels()),
      embed_duration(r.histogram("parley_qa_question_embed_duration_seconds",
                                 "Time to embed a question, batch queueing included.")
                         .labels()),
      ingest_duration(r.histogram("parley_qa_ingest_duration_seconds", "Time to ingest one request's documents.",
                                  {}, metrics::exponential_buckets(0.01, 2, 14))
                          .labels()),
      passages_scored(r.counter("parley_qa_passages_scored_total", "Passages scored by retrieval.").labels()),
      ingested_documents(
          r.counter("parley_qa_ingested_documents_total", "Documents ingested into knowledge bases.").labels()),
      unchanged_documents(r.counter("parley_qa_ingest_unchanged_documents_total",
                                    "Ingested documents the knowledge base already held with the same text and chunking "
                                    "(kept, not embedded again).")
                              .labels()),
      knowledge_bases(r.gauge("parley_qa_knowledge_bases", "Knowledge bases held.").labels()),
      passages(r.gauge("parley_qa_passages", "Passages held over all knowledge bases.").labels()),
      answers(r.counter("parley_qa_answers_total", "Answer requests served, by answer mode and outcome.",
                        {"mode", "outcome"})),
      lm_fallbacks(r.counter("parley_qa_lm_fallbacks_total",
                             "Generative requests answered extractively because the LM call failed.", {"reason"})) {}

}  // namespace parley::qa
