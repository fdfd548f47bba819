// The QA service's metric families (parley_qa_*), declared in one place with units and help.
// Exists so the service code updates cached children and dashboards find stable names.
// Depends on shared/metrics.
#pragma once

#include <string_view>

#include "shared/metrics/registry.h"

namespace parley::qa {

/// Registers the families on construction; the registry must outlive it. Thread-safe.
///   parley_qa_retrieval_duration_seconds        question embedding + index search
///   parley_qa_question_embed_duration_seconds   question embedding alone (incl. batch queueing)
///   parley_qa_passages_scored_total             passages whose score was computed (exact search: KB size)
///   parley_qa_answers_total{mode,outcome}       mode = extractive|generative, outcome = answered|no_answer
///   parley_qa_lm_fallbacks_total{reason}        generative answered extractively; reason = status code name
///   parley_qa_ingested_documents_total, parley_qa_ingest_unchanged_documents_total,
///   parley_qa_knowledge_bases, parley_qa_passages (gauges)
///   parley_qa_ingest_duration_seconds
struct QaMetrics {
  explicit QaMetrics(metrics::Registry& registry);

  metrics::Histogram& retrieval_duration;
  metrics::Histogram& embed_duration;
  metrics::Histogram& ingest_duration;
  metrics::Counter& passages_scored;
  metrics::Counter& ingested_documents;
  metrics::Counter& unchanged_documents;  // of those, already held exactly: not embedded again
  metrics::Gauge& knowledge_bases;
  metrics::Gauge& passages;
  metrics::CounterFamily& answers;
  metrics::CounterFamily& lm_fallbacks;

  metrics::Counter& answer(std::string_view mode, bool answered) {
    return answers.labels({mode, answered ? "answered" : "no_answer"});
  }
};

}  // namespace parley::qa
