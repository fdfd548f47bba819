// A live voice session: one actor per connection (WebSocket or transport) that streams the
// caller's audio to speech recognition, turns final transcripts into dialog turns (the same
// session, bot and state as the text API), speaks the replies through speech synthesis as they
// stream (from the LM's first clause), stops them when the user barges in, and reports every
// step as an event. Depends on engine/sessions.h, speech_clients.h, barge_in.h, clauses.h,
// playout.h, voice_metrics.h, shared/actor, dialog.proto.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/voice/barge_in.h"
#include "services/dialog/voice/clauses.h"
#include "services/dialog/voice/playout.h"
#include "services/dialog/voice/speech_clients.h"
#include "services/dialog/voice/voice_metrics.h"
#include "shared/actor/actor.h"

namespace parley::dialog::voice {

using namespace std::chrono_literals;

/// Limits and tuning of voice sessions (config keys voice.*; services/dialog/README.md).
struct VoiceOptions {
  /// A session ends after this long (it is also the recognition stream's deadline).
  std::chrono::milliseconds max_duration{3600s};
  /// A session with no audio or text from the client, and no reply in progress, ends after this.
  std::chrono::milliseconds idle_timeout{120s};
  /// Unplayed bot audio the client may hold; after a barge-in at most this much is still heard
  /// by a client that does not flush its buffer on `interrupted`.
  std::chrono::milliseconds playout_lead{150ms};
  /// Size of the bot's audio frames.
  std::chrono::milliseconds frame{40ms};
  /// Pacing resolution while the bot speaks.
  std::chrono::milliseconds tick{20ms};
  /// After speech recognition failed, audio reopens it at most this often.
  std::chrono::milliseconds asr_retry{2s};
  /// Deadline of one synthesis call.
  std::chrono::milliseconds tts_timeout{15s};
  /// Synthesis calls of one reply in flight at once (the next piece is synthesized while one plays).
  int tts_parallel = 2;
  BargeInRule barge_in;
  std::string default_language = "en-US";
  std::size_t max_text_bytes = 4096;  ///< a typed turn
};

/// Where a session's events and audio go (a WebSocket, a transport call). Called from the
/// session's actor only; must not block.
class VoiceSink {
 public:
  virtual ~VoiceSink() = default;
  /// False when the client is gone or not keeping up (the connection is being closed).
  virtual bool send_event(const v1::VoiceEvent& event) = 0;
  /// PCM16 mono of the bot's speech at the rate of the last bot_speech_started.
  virtual bool send_audio(std::string pcm16) = 0;
  /// Ends the connection after what was sent: `code` is a WebSocket close code (1000 normal,
  /// 1001 going away, 1011 error), `reason` a sentence.
  virtual void close(std::uint16_t code, const std::string& reason) = 0;
};

struct VoiceDeps {
  SessionManager* sessions = nullptr;
  AsrClient* asr = nullptr;  ///< null: no recognition (text input only)
  TtsClient* tts = nullptr;  ///< null: no synthesis (replies as text events only)
  VoiceMetrics* metrics = nullptr;  ///< may be null (tests)
  /// Called once when the session's actor stops (the gateway's count of open sessions).
  std::function<void()> on_closed;
};

/// Checks a client's config and fills its defaults (16 kHz input, en-US). INVALID_ARGUMENT names
/// the field and the allowed range.
Result<v1::VoiceConfig> check_voice_config(v1::VoiceConfig config, const VoiceOptions& options);

// ---- the session's messages ----
/// From the connection: audio (whole PCM16 samples), a typed turn, interrupt, end of input, gone.
struct ClientAudio {
  std::string pcm16;
};
struct ClientText {
  std::string text;
};
struct ClientInterrupt {};
struct ClientEnd {};
/// The connection is over: `code` is the WebSocket close code (the client's, or the server's own
/// for bad input 1003/1007/1009, a client not reading 1008, shutdown 1001; 1006 when it dropped).
struct ClientGone {
  std::uint16_t code = 1006;
  std::string why;
};
/// From the recognition stream `stream` (events of an older stream are ignored).
struct AsrEvent {
  std::uint64_t stream = 0;
  v1::RecognizeResponse event;
};
struct AsrEnded {
  std::uint64_t stream = 0;
  Status status;
};
/// From the dialog turn of reply `reply`.
struct TurnToken {
  std::uint64_t reply = 0;
  std::string text;
};
struct TurnFinished {
  std::uint64_t reply = 0;
  Result<v1::TurnResponse> result;
};
/// From the synthesis of piece `segment` of reply `reply`.
struct TtsAudio {
  std::uint64_t reply = 0;
  std::size_t segment = 0;
  v1::SynthesizeResponse chunk;
};
struct TtsEnded {
  std::uint64_t reply = 0;
  std::size_t segment = 0;
  Status status;
};
/// Timers: pacing while the bot speaks; idle and duration checks.
struct PlayoutTick {};
struct Housekeeping {};

using VoiceMsg = std::variant<ClientAudio, ClientText, ClientInterrupt, ClientEnd, ClientGone, AsrEvent, AsrEnded,
                              TurnToken, TurnFinished, TtsAudio, TtsEnded, PlayoutTick, Housekeeping>;

/// The actor. One reply at a time is spoken; a reply that was interrupted stays known until its
/// turn answers (its `turn` event still goes out, with the messages cut to what was played).
///
///   audio ─► ASR stream ─► speech_started / partial ─► final ─► dialog turn (tokens ─► clauses ─►
///   TTS ─► paced audio frames) ─► turn ─► bot_speech_started … bot_speech_ended
///
/// Barge-in: user speech that starts while a reply is in progress interrupts it when the
/// BargeInRule says so (partials are checked as they come); then bot audio stops at once, the TTS
/// calls are cancelled, the turn is interrupted (LM cancelled; history cut to the played text),
/// and the utterance's final transcript becomes the next turn.
class VoiceSession final : public actor::Actor<VoiceMsg> {
 public:
  VoiceSession(std::string session_id, v1::VoiceConfig config, std::shared_ptr<VoiceSink> sink, VoiceDeps deps,
               VoiceOptions options);

  void on_start() override;
  void receive(VoiceMsg& msg) override;
  void on_stop() override;

 private:
  struct Reply {
    std::uint64_t id = 0;
    std::uint64_t tag = 0;  // the dialog turn's tag (SessionManager::interrupt)
    std::string user_text;
    bool interrupted = false;
    bool turn_done = false;
    bool text_complete = false;  // every piece of its text was handed to the TTS
    bool speech_started = false;
    bool tts_failed = false;
    std::string streamed;  // LM text seen as tokens
    ClauseSplitter clauses;
    Playout playout;
    std::map<std::size_t, std::unique_ptr<TtsCall>> calls;  // in flight
    std::deque<std::size_t> to_synthesize;
    actor::TimePoint speech_end, final_at, first_text_at, first_tts_audio_at, first_audio_at;
    bool has_first_text = false, has_first_tts_audio = false;
    explicit Reply(const VoiceOptions& o) : playout(o.playout_lead, o.frame) {}
  };

  // input
  void on_audio(ClientAudio& m);
  void on_text(ClientText& m);
  void on_end();
  void on_gone(const ClientGone& m);
  // recognition
  void open_asr();
  void on_asr_event(AsrEvent& m);
  void on_asr_ended(AsrEnded& m);
  void on_final(const std::string& text, const v1::RecognitionResult& result);
  void check_barge_in();
  // replies
  void start_turn(const std::string& text, actor::TimePoint speech_end, actor::TimePoint final_at);
  void on_token(TurnToken& m);
  void on_turn(TurnFinished& m);
  void speak(Reply& r, std::string text);
  void synthesize_next(Reply& r);
  void on_tts_audio(TtsAudio& m);
  void on_tts_ended(TtsEnded& m);
  void pump(Reply& r);
  void finish_reply(Reply& r);
  void interrupt(const std::string& source);
  // session
  void housekeeping();
  void end_session(std::uint16_t code, const std::string& reason, const std::string& metric_reason);
  void cancel_everything(const std::string& why);
  void maybe_end();

  bool send(v1::VoiceEvent e);
  void error_event(const std::string& source, const Status& status, const std::string& message);
  void observe(const std::string& stage, actor::Duration d);
  std::int64_t audio_ms() const;
  /// When the input sample at `ms` arrived (the nearest known; now when unknown).
  actor::TimePoint arrival_of(std::int64_t ms) const;
  Reply* active();
  bool responding();
  google::protobuf::RepeatedPtrField<v1::StageTiming> timings(const Reply& r, bool with_audio) const;

  std::string session_id_;
  v1::VoiceConfig config_;
  std::shared_ptr<VoiceSink> sink_;
  VoiceDeps deps_;
  VoiceOptions options_;

  actor::TimePoint opened_{}, last_input_{};
  std::int64_t in_samples_ = 0;
  std::deque<std::pair<std::int64_t, actor::TimePoint>> arrivals_;  // (samples received by then, when)

  // recognition
  std::unique_ptr<AsrStream> asr_;
  std::uint64_t asr_id_ = 0;
  bool asr_down_ = false;
  actor::TimePoint asr_failed_at_{};
  // the user's current utterance
  bool speaking_ = false;
  bool overlapping_ = false;  // it started while the bot was responding
  std::int64_t speech_start_ms_ = 0;
  std::int64_t speech_end_ms_ = -1;
  std::string partial_;

  // replies
  std::uint64_t reply_seq_ = 0;
  std::uint64_t active_ = 0;
  std::map<std::uint64_t, std::unique_ptr<Reply>> replies_;
  bool tick_pending_ = false;

  bool ending_ = false;  // the client sent `end`
  bool audio_after_end_ = false;
  bool closed_ = false;
};

}  // namespace parley::dialog::voice
