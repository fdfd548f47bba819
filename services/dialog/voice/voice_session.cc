// The voice session actor (see voice_session.h): recognition, turns, streamed synthesis, paced
// playout, barge-in, and the events that report them — one file (a little over 600 lines) so the
// actor's transitions read together. Depends on voice_session.h, engine/interruption.h, log.h.
#include "services/dialog/voice/voice_session.h"

#include <algorithm>
#include <cctype>

#include "services/dialog/engine/interruption.h"
#include "shared/common/log.h"

namespace parley::dialog::voice {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

v1::VoiceEvent event(const char* type) {
  v1::VoiceEvent e;
  e.set_type(type);
  return e;
}

std::string transcript_of(const v1::RecognitionResult& r) {
  return r.alternatives_size() > 0 ? r.alternatives(0).transcript() : std::string();
}

void add_stage(google::protobuf::RepeatedPtrField<v1::StageTiming>& out, const char* stage, actor::Duration d) {
  v1::StageTiming* t = out.Add();
  t->set_stage(stage);
  t->set_duration_us(std::max<std::int64_t>(0, duration_cast<microseconds>(d).count()));
}

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// The bytes [text_begin, text_end) of the request text a synthesized chunk speaks, when the TTS
// says (SynthesizeResponse.text_begin/text_end, added by the TTS service); {-1, -1} otherwise.
// Read by name so this builds before and after those fields reach this tree's tts.proto.
std::pair<int, int> text_range(const v1::SynthesizeResponse& chunk) {
  static const auto* begin = v1::SynthesizeResponse::descriptor()->FindFieldByName("text_begin");
  static const auto* end = v1::SynthesizeResponse::descriptor()->FindFieldByName("text_end");
  if (begin == nullptr || end == nullptr || begin->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32 ||
      end->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
    return {-1, -1};
  }
  const auto* refl = chunk.GetReflection();
  const int b = refl->GetInt32(chunk, begin), e = refl->GetInt32(chunk, end);
  if (e <= b) return {-1, -1};  // not set
  return {b, e};
}

}  // namespace

Result<v1::VoiceConfig> check_voice_config(v1::VoiceConfig c, const VoiceOptions& options) {
  if (c.sample_rate_hz() == 0) c.set_sample_rate_hz(16000);
  if (c.sample_rate_hz() < 8000 || c.sample_rate_hz() > 48000) {
    return invalid_argument("sample_rate " + std::to_string(c.sample_rate_hz()) +
                            " Hz is not supported: the audio must be PCM16 mono at 8000..48000 Hz");
  }
  if (c.output_sample_rate_hz() != 0 && (c.output_sample_rate_hz() < 8000 || c.output_sample_rate_hz() > 48000)) {
    return invalid_argument("output_sample_rate " + std::to_string(c.output_sample_rate_hz()) +
                            " Hz is not supported: 0 (the voice's own rate) or 8000..48000 Hz");
  }
  if (c.language().empty()) c.set_language(options.default_language);
  const bool language_ok = c.language().size() <= 35 && std::all_of(c.language().begin(), c.language().end(), [](char ch) {
                             return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-';
                           });
  if (!language_ok) return invalid_argument("language '" + c.language().substr(0, 40) + "' is not a BCP-47 tag such as en-US");
  if (c.voice().size() > 64) return invalid_argument("voice name is longer than 64 characters");
  if (!std::all_of(c.voice().begin(), c.voice().end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == ':';
      })) {
    return invalid_argument("voice name '" + c.voice().substr(0, 64) + "' may hold only letters, digits, '-', '_', '.' and ':'");
  }
  return c;
}

VoiceSession::VoiceSession(std::string session_id, v1::VoiceConfig config, std::shared_ptr<VoiceSink> sink,
                           VoiceDeps deps, VoiceOptions options)
    : session_id_(std::move(session_id)),
      config_(std::move(config)),
      sink_(std::move(sink)),
      deps_(deps),
      options_(std::move(options)) {}

void VoiceSession::on_start() {
  opened_ = last_input_ = now();
  if (deps_.metrics) deps_.metrics->active_sessions.inc();
  const bool tts = deps_.tts != nullptr && !config_.text_only();
  v1::VoiceEvent ready = event("ready");
  ready.set_session_id(session_id_);
  ready.set_sample_rate_hz(config_.sample_rate_hz());
  ready.set_asr(deps_.asr != nullptr);
  ready.set_tts(tts);
  send(std::move(ready));
  open_asr();
  schedule_self(1s, Housekeeping{});
}

void VoiceSession::receive(VoiceMsg& msg) {
  if (closed_) return;
  actor::match(
      msg, [&](ClientAudio& m) { on_audio(m); }, [&](ClientText& m) { on_text(m); },
      [&](ClientInterrupt&) {
        last_input_ = now();
        if (responding()) interrupt("client");
      },
      [&](ClientEnd&) { on_end(); }, [&](ClientGone& m) { on_gone(m); }, [&](AsrEvent& m) { on_asr_event(m); },
      [&](AsrEnded& m) { on_asr_ended(m); }, [&](TurnToken& m) { on_token(m); }, [&](TurnFinished& m) { on_turn(m); },
      [&](TtsAudio& m) { on_tts_audio(m); }, [&](TtsEnded& m) { on_tts_ended(m); },
      [&](PlayoutTick&) {
        tick_pending_ = false;
        if (Reply* r = active()) pump(*r);
      },
      [&](Housekeeping&) { housekeeping(); });
}

void VoiceSession::on_stop() {
  cancel_everything("the voice session ended");
  if (!closed_) {
    closed_ = true;
    sink_->close(1011, "the voice session stopped unexpectedly");
    if (deps_.metrics) deps_.metrics->session_ends.labels({"error"}).inc();
  }
  if (deps_.metrics) deps_.metrics->active_sessions.dec();
  if (deps_.on_closed) deps_.on_closed();
}

// ---- input ------------------------------------------------------------------------------------

void VoiceSession::on_audio(ClientAudio& m) {
  const auto t = now();
  last_input_ = t;
  const std::int64_t samples = static_cast<std::int64_t>(m.pcm16.size() / 2);
  in_samples_ += samples;
  arrivals_.emplace_back(in_samples_, t);
  while (arrivals_.size() > 1024) arrivals_.pop_front();
  const double seconds = static_cast<double>(samples) / config_.sample_rate_hz();
  if (deps_.metrics) deps_.metrics->audio_seconds.labels({"in"}).inc(seconds);
  if (ending_) {
    if (!audio_after_end_) {
      audio_after_end_ = true;
      error_event("input", failed_precondition("audio after end"), "audio after {\"type\":\"end\"} is ignored");
    }
    return;
  }
  if (!asr_ && deps_.asr != nullptr && t - asr_failed_at_ >= options_.asr_retry) open_asr();
  if (!asr_ || !asr_->send_audio(std::move(m.pcm16))) {
    if (deps_.metrics) deps_.metrics->audio_dropped_seconds.inc(seconds);
    return;
  }
  check_barge_in();  // the speech may just have become long enough
}

void VoiceSession::on_text(ClientText& m) {
  last_input_ = now();
  if (is_blank(m.text)) {
    return error_event("input", invalid_argument("blank text"), "a text turn must not be blank");
  }
  if (m.text.size() > options_.max_text_bytes) {
    return error_event("input", invalid_argument("text too long"),
                       "a text turn is " + std::to_string(m.text.size()) + " bytes; the limit is " +
                           std::to_string(options_.max_text_bytes));
  }
  if (responding()) interrupt("client");
  start_turn(m.text, now(), now());
}

void VoiceSession::on_end() {
  last_input_ = now();
  if (ending_) return;
  ending_ = true;
  if (asr_) {
    asr_->finish();  // the recognizer finishes what it heard; its final becomes the last turn
  }
  maybe_end();
}

void VoiceSession::on_gone(const ClientGone& m) {
  PARLEY_LOG(kDebug).kv("session", session_id_).kv("code", m.code) << "voice connection closed: " << m.why;
  cancel_everything(m.why);
  closed_ = true;
  const char* reason = m.code == 1000   ? "client_closed"
                       : m.code == 1001 ? "server_stop"
                       : m.code == 1008 ? "slow_client"
                       : (m.code == 1003 || m.code == 1007 || m.code == 1009) ? "bad_input"
                                                                              : "client_gone";
  if (deps_.metrics) deps_.metrics->session_ends.labels({reason}).inc();
  stop_self();
}

// ---- recognition ------------------------------------------------------------------------------

void VoiceSession::open_asr() {
  if (deps_.asr == nullptr) return;
  const std::uint64_t id = ++asr_id_;
  v1::RecognitionConfig rc;
  rc.mutable_format()->set_encoding(v1::AudioFormat::PCM16);
  rc.mutable_format()->set_sample_rate_hz(config_.sample_rate_hz());
  rc.mutable_format()->set_channels(1);
  rc.set_language(config_.language());
  rc.set_interim_results(true);
  rc.set_enable_vad(true);
  rc.set_max_alternatives(1);
  CallMeta meta{session_id_, "", std::chrono::steady_clock::now() + (options_.max_duration - (now() - opened_)), nullptr};
  auto self_ref = self();
  AsrHandlers h;
  h.on_event = [self_ref, id](v1::RecognizeResponse ev) { (void)self_ref.tell(AsrEvent{id, std::move(ev)}); };
  h.on_end = [self_ref, id](Status s) { (void)self_ref.tell(AsrEnded{id, std::move(s)}); };
  asr_ = deps_.asr->recognize(rc, meta, std::move(h));
  speaking_ = false;
  overlapping_ = false;
}

void VoiceSession::on_asr_event(AsrEvent& m) {
  if (m.stream != asr_id_) return;  // an older stream
  if (asr_down_) {
    asr_down_ = false;
    PARLEY_LOG(kInfo).kv("session", session_id_) << "speech recognition is back";
  }
  const v1::RecognizeResponse& ev = m.event;
  if (ev.speech_event() == v1::RecognizeResponse::START_OF_SPEECH) {
    speaking_ = true;
    overlapping_ = responding();
    partial_.clear();
    speech_end_ms_ = -1;
    speech_start_ms_ = audio_ms();
    if (ev.results_size() > 0 && ev.results(0).audio_start_ms() > 0) speech_start_ms_ = ev.results(0).audio_start_ms();
    v1::VoiceEvent e = event("speech_started");
    e.set_audio_ms(static_cast<std::int32_t>(speech_start_ms_));
    send(std::move(e));
  }
  for (const auto& result : ev.results()) {
    if (result.alternatives_size() == 0) continue;  // timing only (with a speech event)
    const std::string text = transcript_of(result);
    if (!result.is_final()) {
      if (!speaking_) {  // a recognizer without VAD events
        speaking_ = true;
        overlapping_ = responding();
        speech_start_ms_ = result.audio_start_ms() > 0 ? result.audio_start_ms() : audio_ms();
      }
      partial_ = text;
      v1::VoiceEvent e = event("partial");
      e.set_text(text);
      send(std::move(e));
      check_barge_in();
    } else {
      on_final(text, result);
    }
  }
  if (ev.speech_event() == v1::RecognizeResponse::END_OF_SPEECH) {
    speech_end_ms_ = audio_ms();
    for (const auto& r : ev.results()) {
      if (r.audio_end_ms() > 0) speech_end_ms_ = r.audio_end_ms();
    }
    if (speaking_) check_barge_in();
    v1::VoiceEvent e = event("speech_ended");
    e.set_audio_ms(static_cast<std::int32_t>(speech_end_ms_));
    send(std::move(e));
  }
}

void VoiceSession::on_final(const std::string& text, const v1::RecognitionResult& result) {
  const auto t = now();
  const std::int64_t end_ms =
      result.audio_end_ms() > 0 ? result.audio_end_ms() : (speech_end_ms_ >= 0 ? speech_end_ms_ : audio_ms());
  const std::int64_t start_ms = result.audio_start_ms() > 0 ? result.audio_start_ms() : speech_start_ms_;
  const bool was_overlapping = overlapping_ || (!speaking_ && responding());
  v1::VoiceEvent e = event("final");
  e.set_text(text);
  e.set_audio_ms(static_cast<std::int32_t>(end_ms));
  speaking_ = false;
  overlapping_ = false;
  partial_.clear();
  std::string refusal;
  if (is_blank(text)) {
    refusal = "no_words";
  } else if (responding()) {
    // Speech that began over the bot must pass the barge-in rule; speech that began before this
    // reply did (the user was still talking) takes the floor back.
    if (was_overlapping) refusal = barge_in_refusal(options_.barge_in, milliseconds(end_ms - start_ms), text);
    if (refusal.empty()) interrupt("barge_in");
  }
  if (!refusal.empty()) {
    e.set_ignored(true);
    e.set_reason(refusal);
    if (deps_.metrics) deps_.metrics->speech_ignored.labels({refusal}).inc();
    send(std::move(e));
    return maybe_end();
  }
  send(std::move(e));
  start_turn(text, arrival_of(end_ms), t);
}

void VoiceSession::check_barge_in() {
  if (!speaking_ || !overlapping_ || !responding()) return;
  const milliseconds speech(std::max<std::int64_t>(0, (speech_end_ms_ >= 0 ? speech_end_ms_ : audio_ms()) - speech_start_ms_));
  if (interrupts(options_.barge_in, speech, partial_)) interrupt("barge_in");
}

void VoiceSession::on_asr_ended(AsrEnded& m) {
  if (m.stream != asr_id_) return;
  asr_.reset();
  speaking_ = false;
  overlapping_ = false;
  if (!m.status.is_ok() && !(ending_ && m.status.code() == StatusCode::kCancelled)) {
    asr_down_ = true;
    asr_failed_at_ = now();
    error_event("asr", m.status,
                "speech recognition is unavailable (" + m.status.message() +
                    "); audio is not understood until it is back (retried as audio arrives); text turns "
                    "({\"type\":\"text\"}) still work");
  }
  maybe_end();
}

// ---- replies ----------------------------------------------------------------------------------

void VoiceSession::start_turn(const std::string& text, actor::TimePoint speech_end, actor::TimePoint final_at) {
  if (responding()) interrupt("client");  // one reply at a time: the new turn supersedes it
  auto r = std::make_unique<Reply>(options_);
  r->id = ++reply_seq_;
  r->tag = SessionManager::new_turn_tag();
  r->user_text = text;
  r->speech_end = speech_end;
  r->final_at = final_at;
  const std::uint64_t id = r->id;
  const std::uint64_t tag = r->tag;
  active_ = id;
  replies_[id] = std::move(r);
  auto self_ref = self();
  deps_.sessions->turn(
      session_id_, text, [self_ref, id](const std::string& delta) { (void)self_ref.tell(TurnToken{id, delta}); }, tag,
      [self_ref, id](Result<v1::TurnResponse> result) {
        Status s = self_ref.tell(TurnFinished{id, std::move(result)});
        (void)s;  // a stopped session has nothing left to tell
      });
}

void VoiceSession::on_token(TurnToken& m) {
  auto it = replies_.find(m.reply);
  if (it == replies_.end() || it->second->interrupted) return;
  Reply& r = *it->second;
  v1::VoiceEvent e = event("token");
  e.set_text(m.text);
  e.set_reply(static_cast<std::int32_t>(r.id));
  send(std::move(e));
  r.streamed += m.text;
  for (auto& piece : r.clauses.push(m.text)) speak(r, std::move(piece));
}

void VoiceSession::on_turn(TurnFinished& m) {
  auto it = replies_.find(m.reply);
  if (it == replies_.end()) return;
  Reply& r = *it->second;
  r.turn_done = true;
  const auto t = now();
  observe("turn", t - r.final_at);
  if (!m.result.ok()) {
    if (!(r.interrupted && m.result.status().code() == StatusCode::kCancelled)) {
      error_event("dialog", m.result.status(), "the turn failed: " + m.result.status().message());
    }
    r.text_complete = true;
    finish_reply(r);
    return;
  }
  v1::VoiceEvent e = event("turn");
  e.set_reply(static_cast<std::int32_t>(r.id));
  e.set_text(r.user_text);
  *e.mutable_turn() = *m.result;
  add_stage(*e.mutable_timings(), "voice.endpoint", r.final_at - r.speech_end);
  add_stage(*e.mutable_timings(), "voice.turn", t - r.final_at);
  if (r.has_first_text) add_stage(*e.mutable_timings(), "voice.dialog_first_text", r.first_text_at - r.final_at);
  if (r.speech_started) add_stage(*e.mutable_timings(), "voice.first_audio", r.first_audio_at - r.speech_end);
  send(std::move(e));
  if (r.interrupted) return finish_reply(r);

  // Speak what the tokens did not already carry: the whole reply when nothing streamed (forms,
  // KB answers), the rest of an LM reply otherwise.
  std::string full;
  for (const auto& msg : m.result->messages()) full += (full.empty() ? "" : " ") + msg.text();
  full = normalize_spaces(full);
  const std::string streamed = normalize_spaces(r.streamed);
  std::string rest;
  if (streamed.empty()) {
    rest = full;
  } else if (auto p = full.find(streamed); p != std::string::npos) {
    rest = full.substr(p + streamed.size());
  }
  for (auto& piece : r.clauses.push(rest)) speak(r, std::move(piece));
  if (std::string last = r.clauses.flush(); !last.empty()) speak(r, std::move(last));
  r.text_complete = true;
  pump(r);
}

void VoiceSession::speak(Reply& r, std::string text) {
  if (r.interrupted || r.tts_failed || deps_.tts == nullptr || config_.text_only()) return;
  if (!r.has_first_text) {
    r.has_first_text = true;
    r.first_text_at = now();
    observe("dialog_first_text", r.first_text_at - r.final_at);
  }
  r.to_synthesize.push_back(r.playout.add_segment(std::move(text)));
  synthesize_next(r);
}

void VoiceSession::synthesize_next(Reply& r) {
  while (!r.to_synthesize.empty() && static_cast<int>(r.calls.size()) < std::max(1, options_.tts_parallel)) {
    const std::size_t seg = r.to_synthesize.front();
    r.to_synthesize.pop_front();
    // The text is the segment's; Playout keeps it for the played-text estimate.
    v1::SynthesizeRequest req;
    req.set_text(r.playout.text(seg));
    req.set_voice(config_.voice());
    req.set_sample_rate_hz(config_.output_sample_rate_hz());
    CallMeta meta{session_id_, "", std::chrono::steady_clock::now() + options_.tts_timeout, nullptr};
    auto self_ref = self();
    const std::uint64_t id = r.id;
    TtsHandlers h;
    h.on_audio = [self_ref, id, seg](v1::SynthesizeResponse chunk) { (void)self_ref.tell(TtsAudio{id, seg, std::move(chunk)}); };
    h.on_end = [self_ref, id, seg](Status s) { (void)self_ref.tell(TtsEnded{id, seg, std::move(s)}); };
    r.calls[seg] = deps_.tts->synthesize(req, meta, std::move(h));
  }
}

void VoiceSession::on_tts_audio(TtsAudio& m) {
  auto it = replies_.find(m.reply);
  if (it == replies_.end() || it->second->interrupted) return;
  Reply& r = *it->second;
  if (!r.has_first_tts_audio) {
    r.has_first_tts_audio = true;
    r.first_tts_audio_at = now();
    if (r.has_first_text) observe("tts_first_audio", r.first_tts_audio_at - r.first_text_at);
  }
  const auto& audio = m.chunk.audio();
  int rate = audio.has_format() ? audio.format().sample_rate_hz() : 0;
  if (rate == 0 && r.playout.sample_rate() == 0) rate = config_.output_sample_rate_hz();
  if (audio.has_format() && audio.format().encoding() != v1::AudioFormat::PCM16 &&
      audio.format().encoding() != v1::AudioFormat::ENCODING_UNSPECIFIED) {
    error_event("tts", internal_error("unsupported audio"), "the speech service sent audio that is not PCM16; skipped");
    r.playout.fail_segment(m.segment);
  } else if (const auto range = text_range(m.chunk);
             !r.playout.add_audio(m.segment, rate, audio.data(), range.first, range.second)) {
    error_event("tts", internal_error("bad audio format"),
                rate == 0 ? std::string("the speech service sent audio without a sample rate; that piece is skipped")
                          : "the speech service sent audio at " + std::to_string(rate) + " Hz in a reply at " +
                                std::to_string(r.playout.sample_rate()) + " Hz; that piece is skipped");
    r.playout.fail_segment(m.segment);
  }
  pump(r);
}

void VoiceSession::on_tts_ended(TtsEnded& m) {
  auto it = replies_.find(m.reply);
  if (it == replies_.end()) return;
  Reply& r = *it->second;
  r.calls.erase(m.segment);
  if (r.interrupted) return;
  if (!m.status.is_ok()) {
    r.playout.fail_segment(m.segment);
    if (!r.tts_failed) {
      r.tts_failed = true;  // the rest of this reply is text only
      error_event("tts", m.status,
                  "speech synthesis failed (" + m.status.message() + "); the reply continues as text events");
    }
    for (auto seg : r.to_synthesize) r.playout.fail_segment(seg);
    r.to_synthesize.clear();
  } else {
    r.playout.end_segment(m.segment);
  }
  synthesize_next(r);
  pump(r);
}

void VoiceSession::pump(Reply& r) {
  if (r.interrupted || closed_) return;
  const auto t = now();
  auto frames = r.playout.due(t);
  if (!frames.empty() && !r.speech_started) {
    r.speech_started = true;
    r.first_audio_at = t;
    v1::VoiceEvent e = event("bot_speech_started");
    e.set_reply(static_cast<std::int32_t>(r.id));
    e.set_sample_rate_hz(r.playout.sample_rate());
    *e.mutable_timings() = timings(r, true);
    send(std::move(e));
    observe("first_audio", t - r.speech_end);
    if (r.has_first_tts_audio) observe("playout", t - r.first_tts_audio_at);
  }
  for (auto& f : frames) {
    if (deps_.metrics) {
      deps_.metrics->audio_seconds.labels({"out"}).inc(static_cast<double>(f.size() / 2) / r.playout.sample_rate());
    }
    if (!sink_->send_audio(std::move(f))) return;  // the connection is closing; ClientGone follows
  }
  if (r.text_complete && r.playout.finished(t)) return finish_reply(r);
  if (!tick_pending_ && r.speech_started) {  // pacing (and bot_speech_ended on time) needs a clock
    tick_pending_ = true;
    schedule_self(options_.tick, PlayoutTick{});
  }
}

void VoiceSession::finish_reply(Reply& r) {
  if (!r.turn_done || (!r.interrupted && !r.text_complete)) return;  // its turn event is still to come
  if (r.speech_started && !r.interrupted) {
    v1::VoiceEvent e = event("bot_speech_ended");
    e.set_reply(static_cast<std::int32_t>(r.id));
    e.set_audio_ms(static_cast<std::int32_t>(r.playout.played(now()).count()));
    send(std::move(e));
  }
  for (auto& [seg, call] : r.calls) call->cancel();
  const std::uint64_t id = r.id;
  if (active_ == id) active_ = 0;
  replies_.erase(id);
  maybe_end();
}

void VoiceSession::interrupt(const std::string& source) {
  Reply* r = active();
  if (r == nullptr || r->interrupted) return;
  const auto t = now();
  r->interrupted = true;
  const std::string played = r->playout.played_text(t);
  for (auto& [seg, call] : r->calls) call->cancel();  // their work stops; late chunks are ignored
  v1::VoiceEvent e = event("interrupted");
  e.set_reply(static_cast<std::int32_t>(r->id));
  e.set_text(played);
  e.set_source(source);
  e.set_audio_ms(static_cast<std::int32_t>(r->playout.played(t).count()));
  send(std::move(e));
  if (deps_.metrics) deps_.metrics->barge_ins.labels({source}).inc();
  // The turn stops (LM cancelled) or, when it was already stored, its history entry is cut.
  deps_.sessions->interrupt(session_id_, r->tag, played, source);
  active_ = 0;
  if (r->turn_done) finish_reply(*r);
}

// ---- session ----------------------------------------------------------------------------------

void VoiceSession::housekeeping() {
  const auto t = now();
  if (t - opened_ >= options_.max_duration) {
    return end_session(1000, "the voice session reached its maximum duration", "max_duration");
  }
  if (!active() && t - last_input_ >= options_.idle_timeout) {
    return end_session(1000, "no audio or text for " + std::to_string(duration_cast<std::chrono::seconds>(options_.idle_timeout).count()) + " s",
                       "idle");
  }
  schedule_self(1s, Housekeeping{});
}

void VoiceSession::end_session(std::uint16_t code, const std::string& reason, const std::string& metric_reason) {
  if (closed_) return;
  cancel_everything(reason);
  closed_ = true;
  sink_->close(code, reason);
  if (deps_.metrics) deps_.metrics->session_ends.labels({metric_reason}).inc();
  stop_self();
}

void VoiceSession::cancel_everything(const std::string& why) {
  if (asr_) {
    asr_->cancel();
    asr_.reset();
  }
  ++asr_id_;  // whatever the old stream still says is ignored
  const auto t = now();
  for (auto& [id, r] : replies_) {
    for (auto& [seg, call] : r->calls) call->cancel();
    r->calls.clear();
    if (!r->interrupted) {
      // The client is gone: the turn's LM generation stops; history keeps what was played.
      deps_.sessions->interrupt(session_id_, r->tag, r->playout.played_text(t), "client_gone");
      r->interrupted = true;
    }
  }
  (void)why;
}

void VoiceSession::maybe_end() {
  if (!ending_ || closed_) return;
  if (!replies_.empty() || asr_) return;  // a reply in progress, or the last final still to come
  end_session(1000, "end of input; every reply was given", "end");
}

bool VoiceSession::send(v1::VoiceEvent e) {
  if (closed_) return false;
  return sink_->send_event(e);
}

void VoiceSession::error_event(const std::string& source, const Status& status, const std::string& message) {
  v1::VoiceEvent e = event("error");
  e.set_source(source);
  e.mutable_error()->set_code(static_cast<v1::Status::Code>(static_cast<int>(status.code())));
  e.mutable_error()->set_message(message);
  send(std::move(e));
  if (deps_.metrics) deps_.metrics->errors.labels({source, std::string(status_code_name(status.code()))}).inc();
}

void VoiceSession::observe(const std::string& stage, actor::Duration d) {
  if (deps_.metrics) deps_.metrics->stage_duration.labels({stage}).observe(std::chrono::duration<double>(d).count());
}

std::int64_t VoiceSession::audio_ms() const { return in_samples_ * 1000 / config_.sample_rate_hz(); }

actor::TimePoint VoiceSession::arrival_of(std::int64_t ms) const {
  const std::int64_t sample = ms * config_.sample_rate_hz() / 1000;
  for (const auto& [samples, at] : arrivals_) {
    if (samples >= sample) return at;
  }
  return now();
}

VoiceSession::Reply* VoiceSession::active() {
  if (active_ == 0) return nullptr;
  auto it = replies_.find(active_);
  return it == replies_.end() ? nullptr : it->second.get();
}

bool VoiceSession::responding() {
  Reply* r = active();
  return r != nullptr && !r->interrupted;
}

google::protobuf::RepeatedPtrField<v1::StageTiming> VoiceSession::timings(const Reply& r, bool with_audio) const {
  google::protobuf::RepeatedPtrField<v1::StageTiming> out;
  add_stage(out, "voice.endpoint", r.final_at - r.speech_end);
  if (r.has_first_text) add_stage(out, "voice.dialog_first_text", r.first_text_at - r.final_at);
  if (r.has_first_text && r.has_first_tts_audio) add_stage(out, "voice.tts_first_audio", r.first_tts_audio_at - r.first_text_at);
  if (with_audio) {
    const auto sent = now();
    if (r.has_first_tts_audio) add_stage(out, "voice.playout", sent - r.first_tts_audio_at);
    add_stage(out, "voice.first_audio", sent - r.speech_end);
  }
  return out;
}

}  // namespace parley::dialog::voice
