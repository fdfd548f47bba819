// The ASR service's metric families (parley_asr_*), declared in one place with units and help.
// Why: streams, the batcher and the endpointer update them; dashboards and the HPA read them.
// Depends on shared/metrics.
#pragma once

#include "shared/metrics/registry.h"

namespace parley::asr {

/// References into `registry` (which must outlive this). Updating is thread-safe.
struct AsrMetrics {
  explicit AsrMetrics(metrics::Registry& registry);

  metrics::Gauge& active_streams;          ///< parley_asr_active_streams
  metrics::Counter& audio_seconds;         ///< parley_asr_audio_seconds_total: audio run through Whisper
  metrics::Counter& stream_audio_seconds;  ///< parley_asr_stream_audio_seconds_total: audio received on streams
  metrics::Histogram& real_time_factor;    ///< parley_asr_real_time_factor: batch wall time / audio
  metrics::Histogram& batch_size;          ///< parley_asr_batch_size: windows per encoder call
  metrics::Histogram& partial_latency;     ///< parley_asr_partial_latency_seconds
  metrics::Histogram& endpoint_latency;    ///< parley_asr_endpoint_latency_seconds: speech stop -> END_OF_SPEECH (audio time)
  metrics::Histogram& final_latency;       ///< parley_asr_final_latency_seconds: END_OF_SPEECH -> final sent (wall)
  metrics::Counter& utterances;            ///< parley_asr_utterances_total
  metrics::CounterFamily& streams_ended;   ///< parley_asr_streams_ended_total{reason}
  metrics::Counter& speculative_started;   ///< parley_asr_speculative_finals_total: finals decoded at a pause
  metrics::Counter& speculative_used;      ///< parley_asr_speculative_finals_used_total: of those, sent as the final
  metrics::Counter& context_fallbacks;     ///< parley_asr_context_fallbacks_total: short-context windows re-run on 30 s
};

}  // namespace parley::asr
