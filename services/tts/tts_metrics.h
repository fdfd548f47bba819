// The TTS service's metric families (parley_tts_*), declared in one place with units and help.
// Why: dashboards and the HPA read these names; the service updates them from worker threads.
// Depends on shared/metrics.
#pragma once

#include "shared/metrics/registry.h"

namespace parley::tts {

/// References into `registry` (which must outlive this). Updating is thread-safe.
struct TtsMetrics {
  explicit TtsMetrics(metrics::Registry& registry);

  metrics::Histogram& time_to_first_audio;  ///< parley_tts_time_to_first_audio_seconds
  metrics::Histogram& real_time_factor;     ///< parley_tts_real_time_factor: synthesis time / audio time, per piece
  metrics::Histogram& piece_seconds;        ///< parley_tts_piece_synthesis_seconds
  metrics::Gauge& active_streams;           ///< parley_tts_active_streams
  metrics::Counter& characters;             ///< parley_tts_characters_total (request text bytes accepted)
  metrics::Counter& audio_seconds;          ///< parley_tts_audio_seconds_total (audio produced)
  metrics::Counter& pieces;                 ///< parley_tts_pieces_total
  metrics::Counter& unknown_phonemes;       ///< parley_tts_unknown_phonemes_total (skipped: not in the voice's map)
  metrics::CounterFamily& finished;         ///< parley_tts_requests_finished_total{outcome}
};

}  // namespace parley::tts
