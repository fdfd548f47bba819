// Declarations of the parley_voice_* families (see voice_metrics.h). Depends on voice_metrics.h.
#include "services/dialog/voice/voice_metrics.h"

namespace parley::dialog::voice {

VoiceMetrics::VoiceMetrics(metrics::Registry& r)
    : active_sessions(r.gauge("parley_voice_active_sessions", "Open voice sessions in this replica.").labels()),
      sessions(r.counter("parley_voice_sessions_total", "Voice sessions opened, by transport (websocket, wire).",
                         {"transport"})),
      session_ends(r.counter("parley_voice_session_ends_total", "Voice sessions ended, by reason.", {"reason"})),
      stage_duration(r.histogram("parley_voice_stage_duration_seconds",
                                 "Voice turn stages in seconds: endpoint (end of user speech to final transcript), "
                                 "dialog_first_text (final transcript to the first piece of reply text), "
                                 "tts_first_audio (that text to its first audio), playout (to the first byte sent), "
                                 "first_audio (end of user speech to the first bot audio byte), turn (final "
                                 "transcript to the whole turn).",
                                 {"stage"}, metrics::exponential_buckets(0.001, 2.0, 15))),
      barge_ins(r.counter("parley_voice_barge_ins_total", "Bot replies stopped, by source (barge_in, client).", {"source"})),
      speech_ignored(r.counter("parley_voice_speech_ignored_total",
                               "User speech over the bot that did not interrupt it, by reason (too_short, "
                               "backchannel, no_words).",
                               {"reason"})),
      audio_seconds(r.counter("parley_voice_audio_seconds_total", "Audio seconds, by direction (in: user, out: bot).",
                              {"direction"})),
      audio_dropped_seconds(r.counter("parley_voice_audio_dropped_seconds_total",
                                      "User audio seconds received while speech recognition was unavailable.")
                                .labels()),
      errors(r.counter("parley_voice_errors_total", "Errors reported to voice clients, by source and status code.",
                       {"source", "code"})) {}

}  // namespace parley::dialog::voice
