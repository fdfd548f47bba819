// The LM service's metric families (parley_lm_*), declared in one place with units and help.
// Why: the scheduler updates them on its loop thread, the service and tests read them; names are
// what dashboards and the HPA use. Depends on shared/metrics.
#pragma once

#include "shared/metrics/registry.h"

namespace parley::lm {

/// References into `registry` (which must outlive this). Updating is thread-safe.
///
///   metrics::Registry registry;
///   LmMetrics m(registry);
///   m.tokens_generated.inc();
struct LmMetrics {
  explicit LmMetrics(metrics::Registry& registry);

  metrics::Counter& tokens_generated;      ///< parley_lm_tokens_generated_total
  metrics::Counter& prompt_tokens;         ///< parley_lm_prompt_tokens_total (prefilled, recomputes included)
  metrics::Histogram& time_to_first_token; ///< parley_lm_time_to_first_token_seconds
  metrics::Histogram& inter_token_latency; ///< parley_lm_inter_token_latency_seconds
  metrics::Histogram& batch_size;          ///< parley_lm_batch_size: sequences per forward step
  metrics::Histogram& step_tokens;         ///< parley_lm_step_tokens: tokens per forward step
  metrics::Gauge& kv_pages_used;           ///< parley_lm_kv_pages_used (callback)
  metrics::Gauge& kv_pages_free;           ///< parley_lm_kv_pages_free (callback)
  metrics::Gauge& requests_waiting;        ///< parley_lm_requests_waiting: queued, not admitted
  metrics::Gauge& requests_running;        ///< parley_lm_requests_running: admitted sequences
  metrics::Counter& requests_queued;       ///< parley_lm_requests_queued_total: had to wait for KV/batch room
  metrics::Counter& preemptions;           ///< parley_lm_preemptions_total: sequences evicted for KV room
  metrics::CounterFamily& finished;        ///< parley_lm_requests_finished_total{reason}
};

}  // namespace parley::lm
