// NLU metric families.
#include "services/nlu/nlu_metrics.h"

namespace parley::nlu {

NluMetrics::NluMetrics(metrics::Registry& r)
    : parses(r.counter("parley_nlu_parses_total", "Texts parsed.").labels()),
      intent_confidence(r.histogram("parley_nlu_intent_confidence", "Confidence of the top intent of each parse.", {},
                                    metrics::linear_buckets(0.1, 0.1, 10))
                            .labels()),
      out_of_scope(r.counter("parley_nlu_out_of_scope_total", "Parses answered out of scope, by reason.", {"reason"})),
      slots(r.counter("parley_nlu_slots_total", "Slot values returned, by the extractor that found them.",
                      {"extractor"})),
      parse_duration(r.histogram("parley_nlu_parse_duration_seconds",
                                 "Time to parse one text (featurize + heads), batch queueing included.")
                         .labels()),
      trainings(r.counter("parley_nlu_trainings_total", "Train calls, by outcome (ok, unchanged, invalid, failed).", {"outcome"})),
      training_duration(r.histogram("parley_nlu_training_duration_seconds", "Time to train one bot.", {},
                                    metrics::exponential_buckets(0.05, 2, 12))
                            .labels()),
      bots(r.gauge("parley_nlu_bots", "Bots loaded.").labels()),
      model_bytes(r.gauge("parley_nlu_model_bytes", "Bytes held by the loaded bots' models: trained heads, and the fine-tuned bots' own encoders.").labels()),
      finetune_jobs(r.counter("parley_nlu_finetune_jobs_total", "Fine-tuning jobs ended, by outcome (ok, failed, cancelled; rejected: not started, over nlu.finetune.max_queued or max_models).",
                              {"outcome"})),
      finetune_active(r.gauge("parley_nlu_finetune_jobs", "Fine-tuning jobs queued or running now.", {"state"})),
      finetune_steps(r.counter("parley_nlu_finetune_steps_total", "Optimizer steps run by fine-tuning jobs.").labels()),
      finetune_duration(r.histogram("parley_nlu_finetune_duration_seconds", "Time to fine-tune one bot (queue wait excluded).",
                                    {}, metrics::exponential_buckets(0.5, 2, 12))
                            .labels()),
      finetuned_bots(r.gauge("parley_nlu_finetuned_bots", "Bots served by a fine-tuned encoder.").labels()),
      finetune_refused(r.counter("parley_nlu_finetune_refused_total",
                                 "Fine-tuned models not adopted: they parsed the bot's own examples worse than the "
                                 "frozen model (the job is failed, the frozen model keeps serving).")
                           .labels()),
      finetune_cache(r.counter("parley_nlu_finetune_cache_total",
                               "Fine-tuning cache lookups and writes, by outcome (hit, miss, damaged, stored, store_failed).",
                               {"outcome"})) {}

}  // namespace parley::nlu
