// TtsMetrics: registration of the parley_tts_* families (see tts_metrics.h).
// Why these buckets: first audio spans ~10 ms (GPU, short clause) to seconds (long first sentence
// on a loaded CPU); real-time factors 0.01 .. 4. Depends on shared/metrics.
#include "services/tts/tts_metrics.h"

namespace parley::tts {

TtsMetrics::TtsMetrics(metrics::Registry& r)
    : time_to_first_audio(r.histogram("parley_tts_time_to_first_audio_seconds",
                                      "Time from a Synthesize request's arrival to its first audio chunk.", {},
                                      metrics::exponential_buckets(0.005, 2.0, 12))
                              .labels()),
      real_time_factor(r.histogram("parley_tts_real_time_factor",
                                   "Synthesis time divided by the duration of the audio produced, per piece.", {},
                                   {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4})
                           .labels()),
      piece_seconds(r.histogram("parley_tts_piece_synthesis_seconds",
                                "Time to phonemize and synthesize one piece (clause group) of text.", {},
                                metrics::exponential_buckets(0.005, 2.0, 12))
                        .labels()),
      active_streams(r.gauge("parley_tts_active_streams", "Synthesize streams being served.").labels()),
      characters(r.counter("parley_tts_characters_total", "Bytes of request text accepted for synthesis.").labels()),
      audio_seconds(r.counter("parley_tts_audio_seconds_total", "Seconds of audio synthesized.").labels()),
      pieces(r.counter("parley_tts_pieces_total", "Pieces (clause groups) synthesized.").labels()),
      unknown_phonemes(r.counter("parley_tts_unknown_phonemes_total",
                                 "Phoneme symbols skipped because the voice has no id for them.")
                           .labels()),
      finished(r.counter("parley_tts_requests_finished_total", "Synthesize requests by outcome.", {"outcome"})) {}

}  // namespace parley::tts
