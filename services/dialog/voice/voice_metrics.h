// The voice sessions' metric families (parley_voice_*), declared in one place with units and
// bounded labels. Depends on shared/metrics.
#pragma once

#include "shared/metrics/registry.h"

namespace parley::dialog::voice {

/// Families:
///   parley_voice_active_sessions                      gauge      open voice sessions
///   parley_voice_sessions_total{transport}            counter    websocket | wire
///   parley_voice_session_ends_total{reason}           counter    end | client_closed | client_gone | bad_input | slow_client | idle | max_duration | server_stop | error
///   parley_voice_stage_duration_seconds{stage}        histogram  endpoint | dialog_first_text | tts_first_audio | playout | first_audio | turn
///   parley_voice_barge_ins_total{source}              counter    barge_in | client
///   parley_voice_speech_ignored_total{reason}         counter    too_short | backchannel | no_words
///   parley_voice_audio_seconds_total{direction}       counter    in | out
///   parley_voice_audio_dropped_seconds_total          counter    user audio received while recognition was down
///   parley_voice_errors_total{source,code}            counter    input | asr | tts | dialog
/// Threading: thread-safe.
struct VoiceMetrics {
  explicit VoiceMetrics(metrics::Registry& registry);

  metrics::Gauge& active_sessions;
  metrics::CounterFamily& sessions;
  metrics::CounterFamily& session_ends;
  metrics::HistogramFamily& stage_duration;
  metrics::CounterFamily& barge_ins;
  metrics::CounterFamily& speech_ignored;
  metrics::CounterFamily& audio_seconds;
  metrics::Counter& audio_dropped_seconds;
  metrics::CounterFamily& errors;
};

}  // namespace parley::dialog::voice
