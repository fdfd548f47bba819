// AsrMetrics: registration of the parley_asr_* families (see asr_metrics.h).
// Why these buckets: latencies of interest run from 10 ms to seconds; RTF from 0.005 (GPU,
// batches) to > 1 (overload). Depends on shared/metrics.
#include "services/asr/asr_metrics.h"

namespace parley::asr {

AsrMetrics::AsrMetrics(metrics::Registry& r)
    : active_streams(r.gauge("parley_asr_active_streams", "Recognize streams open now.").labels()),
      audio_seconds(r.counter("parley_asr_audio_seconds_total", "Seconds of audio transcribed by Whisper (windows run).").labels()),
      stream_audio_seconds(r.counter("parley_asr_stream_audio_seconds_total", "Seconds of audio received on Recognize streams.").labels()),
      real_time_factor(r.histogram("parley_asr_real_time_factor", "Wall time of a Whisper batch divided by the audio it held.", {},
                                   metrics::exponential_buckets(0.005, 2.0, 12))
                           .labels()),
      batch_size(r.histogram("parley_asr_batch_size", "Windows in one encoder batch.", {}, {1, 2, 4, 8, 16, 32}).labels()),
      partial_latency(r.histogram("parley_asr_partial_latency_seconds",
                                  "Time from the audio chunk that made a partial due to the partial being sent.", {},
                                  metrics::exponential_buckets(0.01, 2.0, 11))
                          .labels()),
      endpoint_latency(r.histogram("parley_asr_endpoint_latency_seconds",
                                   "Audio time from the last speech chunk to the END_OF_SPEECH decision.", {},
                                   metrics::exponential_buckets(0.032, 1.5, 10))
                           .labels()),
      final_latency(r.histogram("parley_asr_final_latency_seconds", "Wall time from END_OF_SPEECH to the final result being sent.",
                                {}, metrics::exponential_buckets(0.01, 2.0, 11))
                        .labels()),
      utterances(r.counter("parley_asr_utterances_total", "Utterances finalized.").labels()),
      streams_ended(r.counter("parley_asr_streams_ended_total", "Recognize streams ended, by reason.", {"reason"})),
      speculative_started(r.counter("parley_asr_speculative_finals_total",
                                    "Finals decoded at a pause while the turn-end classifier ran (asr.speculative_finals).")
                              .labels()),
      speculative_used(r.counter("parley_asr_speculative_finals_used_total",
                                 "Speculative finals that became the turn's final (the rest were extra work).")
                           .labels()),
      context_fallbacks(r.counter("parley_asr_context_fallbacks_total",
                                  "Windows decoded on a shortened audio context whose text looked degenerate (repetition, "
                                  "low confidence) and were run again on the full 30 s window.")
                            .labels()) {}

}  // namespace parley::asr
