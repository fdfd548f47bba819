// The NLU service's metric families (parley_nlu_*), declared in one place with units and help.
// Exists so dashboards find stable names and the service updates cached children.
// Depends on shared/metrics.
#pragma once

#include "shared/metrics/registry.h"

namespace parley::nlu {

/// Registers the families on construction; the registry must outlive it. Thread-safe.
///   parley_nlu_parses_total                     texts parsed (successfully)
///   parley_nlu_intent_confidence                histogram of the top intent's confidence (buckets 0.1 .. 1)
///   parley_nlu_out_of_scope_total{reason}       low_confidence | far_from_examples
///   parley_nlu_slots_total{extractor}           slot values returned, by what found them
///   parley_nlu_parse_duration_seconds           featurize + heads, batch queueing included
///   parley_nlu_trainings_total{outcome}         ok | invalid | failed
///   parley_nlu_training_duration_seconds        successful trainings
///   parley_nlu_bots                             bots loaded (gauge)
///   parley_nlu_model_bytes                      memory held by the loaded bots' heads (gauge)
///   parley_nlu_finetune_jobs_total{outcome}     fine-tuning jobs ended: ok | failed | cancelled
///   parley_nlu_finetune_jobs{state}             jobs queued | running now (gauge)
///   parley_nlu_finetune_steps_total             optimizer steps run by fine-tuning jobs
///   parley_nlu_finetune_duration_seconds        successful jobs, queue wait excluded
///   parley_nlu_finetuned_bots                   bots served by a fine-tuned encoder (gauge)
///   parley_nlu_finetune_refused_total           fine-tuned models not adopted (parsed the bot's own
///                                               examples worse than the frozen model: model_check.h)
///   parley_nlu_finetune_cache_total{outcome}    fine-tuning cache (finetune_cache.h): hit | miss |
///                                               damaged (entry removed) | stored | store_failed
struct NluMetrics {
  explicit NluMetrics(metrics::Registry& registry);

  metrics::Counter& parses;
  metrics::Histogram& intent_confidence;
  metrics::CounterFamily& out_of_scope;
  metrics::CounterFamily& slots;
  metrics::Histogram& parse_duration;
  metrics::CounterFamily& trainings;
  metrics::Histogram& training_duration;
  metrics::Gauge& bots;
  metrics::Gauge& model_bytes;
  metrics::CounterFamily& finetune_jobs;
  metrics::GaugeFamily& finetune_active;
  metrics::Counter& finetune_steps;
  metrics::Histogram& finetune_duration;
  metrics::Gauge& finetuned_bots;
  metrics::Counter& finetune_refused;
  metrics::CounterFamily& finetune_cache;
};

}  // namespace parley::nlu
