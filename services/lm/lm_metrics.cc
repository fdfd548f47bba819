// LmMetrics: registration of the parley_lm_* families (see lm_metrics.h).
// Why buckets here: time to first token spans 1 ms (warm, tiny model) to tens of seconds (long
// prompt on a CPU); inter-token latency 0.5 ms to 2 s. Depends on shared/metrics.
#include "services/lm/lm_metrics.h"

namespace parley::lm {

LmMetrics::LmMetrics(metrics::Registry& r)
    : tokens_generated(r.counter("parley_lm_tokens_generated_total", "Tokens generated (sampled) by the LM.").labels()),
      prompt_tokens(r.counter("parley_lm_prompt_tokens_total",
                              "Prompt tokens run through prefill (recomputed ones after a preemption included).")
                        .labels()),
      time_to_first_token(r.histogram("parley_lm_time_to_first_token_seconds",
                                      "Time from a Generate request's arrival to its first generated token.", {},
                                      metrics::exponential_buckets(0.001, 2.0, 16))
                              .labels()),
      inter_token_latency(r.histogram("parley_lm_inter_token_latency_seconds",
                                      "Time between consecutive generated tokens of one sequence.", {},
                                      metrics::exponential_buckets(0.0005, 2.0, 13))
                              .labels()),
      batch_size(r.histogram("parley_lm_batch_size", "Sequences in one forward step of the continuous batch.", {},
                             {1, 2, 4, 8, 16, 32, 64, 128, 256})
                     .labels()),
      step_tokens(r.histogram("parley_lm_step_tokens", "Tokens (prefill + decode) in one forward step.", {},
                              metrics::exponential_buckets(1, 2.0, 13))
                      .labels()),
      kv_pages_used(r.gauge("parley_lm_kv_pages_used", "KV-cache pages held by sequences.").labels()),
      kv_pages_free(r.gauge("parley_lm_kv_pages_free", "KV-cache pages free.").labels()),
      requests_waiting(r.gauge("parley_lm_requests_waiting",
                               "Generate requests waiting for a batch slot or KV pages.")
                           .labels()),
      requests_running(r.gauge("parley_lm_requests_running", "Sequences admitted to the continuous batch.").labels()),
      requests_queued(r.counter("parley_lm_requests_queued_total",
                                "Generate requests that could not be admitted at once (batch or KV full).")
                          .labels()),
      preemptions(r.counter("parley_lm_preemptions_total",
                            "Sequences evicted from the batch (KV pages freed, recomputed later) for KV room.")
                      .labels()),
      finished(r.counter("parley_lm_requests_finished_total", "Generations finished, by finish reason.",
                         {"reason"})) {}

}  // namespace parley::lm
