// The voice session actor, deterministically (manual executor and clock; the dialog's fake
// services and the scripted ASR/TTS reply on the test's thread): a spoken question answered with
// paced speech and ordered events, LM replies spoken from their first clause, barge-in (the bot
// stops, the LM is cancelled, the history keeps what was played), backchannels and short noises
// that do not interrupt, a client interrupt, ASR or TTS down (error events, text fallback), the
// end of input, and a client that vanishes.
#include "services/dialog/voice/voice_session.h"

#include <gtest/gtest.h>

#include "services/dialog/bot/loader.h"
#include "services/dialog/testing/fake_services.h"
#include "services/dialog/testing/fake_speech.h"
#include "shared/actor/executor.h"
#include "shared/actor/timer.h"
#include "shared/store/memory_store.h"

namespace parley::dialog::voice {
namespace {

using testing::ScriptedAsr;
using testing::tone_pcm16;

/// Records what the session sends, in order.
class RecordingSink final : public VoiceSink {
 public:
  bool send_event(const v1::VoiceEvent& e) override {
    events.push_back(e);
    log.push_back(e.type());
    return !gone;
  }
  bool send_audio(std::string pcm16) override {
    audio += pcm16;
    log.push_back("audio");
    return !gone;
  }
  void close(std::uint16_t code, const std::string& reason) override { closed = {code, reason}; }

  /// The events of `type`.
  std::vector<v1::VoiceEvent> of(const std::string& type) const {
    std::vector<v1::VoiceEvent> out;
    for (const auto& e : events) {
      if (e.type() == type) out.push_back(e);
    }
    return out;
  }
  /// Position of the first `type` in the log (npos when absent).
  std::size_t first(const std::string& type) const {
    for (std::size_t i = 0; i < log.size(); ++i) {
      if (log[i] == type) return i;
    }
    return std::string::npos;
  }
  std::size_t last(const std::string& type) const {
    for (std::size_t i = log.size(); i-- > 0;) {
      if (log[i] == type) return i;
    }
    return std::string::npos;
  }

  std::vector<v1::VoiceEvent> events;
  std::vector<std::string> log;
  std::string audio;
  std::optional<std::pair<std::uint16_t, std::string>> closed;
  bool gone = false;
};

class VoiceSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = load_bot_file(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    bot_ = r.bot;
    ASSERT_TRUE(services_.train(bot_->train_request(), std::chrono::seconds(1)).ok());
    v1::IngestRequest ingest;
    ingest.set_kb_id("demo");
    for (const auto& d : bot_->knowledge_base.documents) {
      auto* doc = ingest.add_documents();
      doc->set_id(d.id);
      doc->set_title(d.title);
      doc->set_text(d.text);
    }
    ASSERT_TRUE(services_.ingest(ingest, std::chrono::seconds(1)).ok());
    SessionDeps deps;
    deps.find_bot = [this](const std::string& id) -> std::shared_ptr<const Bot> { return id == bot_->id ? bot_ : nullptr; };
    deps.services = &services_;
    deps.store = &store_;
    sessions_ = std::make_unique<SessionManager>(system_, deps, DialogOptions{});
    auto s = sessions_->create("demo", {});
    ASSERT_TRUE(s.ok());
    id_ = s->id();
  }

  // The voice actor stops (cancelling what it started) while the session manager still exists,
  // as parley-dialog's shutdown order guarantees.
  void TearDown() override {
    if (voice_.valid()) voice_.stop();
    run();
  }

  void open(v1::VoiceConfig config = {}) {
    auto checked = check_voice_config(config, options_);
    ASSERT_TRUE(checked.ok()) << checked.status().to_string();
    VoiceDeps deps{sessions_.get(), with_asr_ ? &asr_ : nullptr, with_tts_ ? &tts_ : nullptr, nullptr, nullptr};
    voice_ = system_.spawn<VoiceSession>(
        actor::ActorOptions{.name = "voice", .mailbox_capacity = 1024, .messages_per_turn = 32, .restart = {.max_restarts = 0}},
        id_, *checked, sink_, deps, options_);
    run();
  }
  void run() { executor_.run_all(); }
  void tell(VoiceMsg m) {
    ASSERT_TRUE(voice_.tell(std::move(m)).is_ok());
    run();
  }
  /// Lets `ms` of time pass in 10 ms steps (pacing ticks fire).
  void advance(int ms) {
    for (int t = 0; t < ms; t += 10) {
      clock_.advance(std::chrono::milliseconds(10));
      run();
    }
  }
  void audio(int ms, double hz = 440) { tell(ClientAudio{tone_pcm16(16000, hz, ms)}); }
  ScriptedAsr::Stream& stream() { return *asr_.streams.back(); }
  void emit(const v1::RecognizeResponse& e) {
    stream().emit(e);
    run();
  }
  /// Plays `ms` of user speech saying `text`: START_OF_SPEECH, audio, a partial, END and the final.
  void say(const std::string& text, int ms = 800) {
    const int start = static_cast<int>(heard_ms_);
    emit(ScriptedAsr::start_of_speech(start));
    audio(ms);
    heard_ms_ += ms;
    emit(ScriptedAsr::partial(text));
    emit(ScriptedAsr::end_of_speech(start + ms));
    emit(ScriptedAsr::final_result(text, start, start + ms));
  }
  std::string history_text(int turn_index) {
    auto s = sessions_->get(id_);
    EXPECT_TRUE(s.ok());
    std::string out;
    for (const auto& m : s->history(turn_index).messages()) out += (out.empty() ? "" : " ") + m.text();
    return out;
  }

  actor::ManualExecutor executor_;
  actor::ManualClock clock_;
  actor::ActorSystem system_{executor_, clock_};
  dialog::testing::FakeServices services_;
  store::MemoryStore store_;
  std::shared_ptr<const Bot> bot_;
  std::unique_ptr<SessionManager> sessions_;
  std::string id_;
  testing::ScriptedAsr asr_;
  testing::ScriptedTts tts_;
  bool with_asr_ = true, with_tts_ = true;
  VoiceOptions options_;
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  actor::ActorRef<VoiceMsg> voice_;
  std::int64_t heard_ms_ = 0;
};

TEST_F(VoiceSessionTest, SpokenQuestionIsAnsweredWithPacedSpeech) {
  open();
  ASSERT_EQ(sink_->of("ready").size(), 1u);
  EXPECT_TRUE(sink_->of("ready")[0].asr());
  EXPECT_TRUE(sink_->of("ready")[0].tts());
  EXPECT_EQ(sink_->of("ready")[0].sample_rate_hz(), 16000);
  ASSERT_EQ(asr_.streams.size(), 1u);
  EXPECT_EQ(stream().config.format().sample_rate_hz(), 16000);
  EXPECT_TRUE(stream().config.interim_results());

  say("reserve a table for 4");
  EXPECT_EQ(stream().audio.size(), 800u * 16 * 2) << "the audio reached the recognizer";
  ASSERT_EQ(sink_->of("turn").size(), 1u);
  const auto turn = sink_->of("turn")[0];
  EXPECT_EQ(turn.text(), "reserve a table for 4");
  EXPECT_EQ(turn.turn().messages(0).text(), "What time would you like the table?");
  EXPECT_EQ(turn.turn().requested_slot(), "time");
  ASSERT_EQ(tts_.calls.size(), 1u);
  EXPECT_EQ(tts_.calls[0]->request.text(), "What time would you like the table?");

  // Only the lead (150 ms) went out at once; the rest is paced.
  ASSERT_EQ(sink_->of("bot_speech_started").size(), 1u);
  EXPECT_EQ(sink_->of("bot_speech_started")[0].sample_rate_hz(), 16000);
  const std::size_t total = 35u * 50 * 16 * 2;  // 35 characters at 50 ms each, 16 kHz PCM16
  EXPECT_LE(sink_->audio.size(), 160u * 16 * 2);
  advance(1000);
  EXPECT_LT(sink_->audio.size(), total);
  EXPECT_TRUE(sink_->of("bot_speech_ended").empty());
  advance(1000);
  EXPECT_EQ(sink_->audio.size(), total);
  ASSERT_EQ(sink_->of("bot_speech_ended").size(), 1u);
  EXPECT_EQ(sink_->of("bot_speech_ended")[0].audio_ms(), 1750);

  // The order a client sees.
  EXPECT_LT(sink_->first("speech_started"), sink_->first("partial"));
  EXPECT_LT(sink_->first("partial"), sink_->first("final"));
  EXPECT_LT(sink_->first("final"), sink_->first("turn"));
  EXPECT_LT(sink_->first("bot_speech_started"), sink_->first("audio"));
  EXPECT_LT(sink_->last("audio"), sink_->first("bot_speech_ended"));
  // Stage timings: the first-audio latency and its parts.
  std::set<std::string> stages;
  const auto started = sink_->of("bot_speech_started")[0];
  for (const auto& t : started.timings()) stages.insert(t.stage());
  EXPECT_TRUE(stages.count("voice.first_audio") && stages.count("voice.endpoint") && stages.count("voice.tts_first_audio"));
}

TEST_F(VoiceSessionTest, AnLmReplyStartsSpeakingWithItsFirstClause) {
  services_.hold_generate = true;  // the LM has streamed its tokens but not finished
  open();
  tell(ClientText{"tell me a joke about penguins"});
  ASSERT_TRUE(sink_->of("turn").empty()) << "the turn is still generating";
  ASSERT_GE(tts_.calls.size(), 1u);
  EXPECT_EQ(tts_.calls[0]->request.text(), "I am a small language model,");
  EXPECT_EQ(sink_->of("bot_speech_started").size(), 1u) << "speech started before the reply was complete";
  EXPECT_FALSE(sink_->of("token").empty());

  ASSERT_EQ(services_.release_generate(), 1);
  run();
  ASSERT_EQ(sink_->of("turn").size(), 1u);
  std::string spoken;
  for (const auto& c : tts_.calls) spoken += (spoken.empty() ? "" : " ") + c->request.text();
  EXPECT_EQ(spoken, "I am a small language model, and you said: tell me a joke about penguins");
  advance(5000);
  EXPECT_EQ(sink_->of("bot_speech_ended").size(), 1u);
}

TEST_F(VoiceSessionTest, BargeInStopsTheBotCancelsTheLmAndCutsTheHistory) {
  services_.hold_generate = true;
  tts_.auto_reply = true;
  open();
  tell(ClientText{"tell me a joke about penguins"});
  advance(400);  // the bot has spoken "I am a small language model," (28 chars = 1.4 s) for 400 ms
  const std::size_t before = sink_->audio.size();
  ASSERT_GT(before, 0u);

  // The user speaks over it: 500 ms of speech with real words.
  emit(ScriptedAsr::start_of_speech(0));
  audio(300);
  emit(ScriptedAsr::partial("wait"));
  EXPECT_TRUE(sink_->of("interrupted").empty()) << "300 ms is not enough";
  audio(200);
  ASSERT_EQ(sink_->of("interrupted").size(), 1u);
  const auto interrupted = sink_->of("interrupted")[0];
  EXPECT_EQ(interrupted.source(), "barge_in");
  EXPECT_GT(interrupted.audio_ms(), 0);
  EXPECT_FALSE(interrupted.text().empty());
  EXPECT_EQ(std::string("I am a small language model,").rfind(interrupted.text(), 0), 0u) << interrupted.text();
  const std::size_t at_interrupt = sink_->audio.size();
  EXPECT_EQ(services_.generate_cancelled.load(), 1) << "the LM generation was cancelled";
  advance(1000);
  EXPECT_EQ(sink_->audio.size(), at_interrupt) << "no bot audio after the interruption";
  EXPECT_LT(sink_->last("audio"), sink_->first("interrupted"));

  // The interrupted turn answers with what was played; the history keeps only that.
  ASSERT_EQ(sink_->of("turn").size(), 1u);
  EXPECT_EQ(sink_->of("turn")[0].turn().messages(0).text(), interrupted.text());
  EXPECT_EQ(history_text(0), interrupted.text());

  // The utterance that interrupted becomes the next turn.
  services_.hold_generate = false;
  emit(ScriptedAsr::end_of_speech(500));
  emit(ScriptedAsr::final_result("wait, what time is breakfast", 0, 500));
  ASSERT_EQ(sink_->of("turn").size(), 2u);
  EXPECT_EQ(sink_->of("turn")[1].turn().messages(0).kind(), "answer");
  EXPECT_EQ(sessions_->get(id_)->turns(), 2);
}

TEST_F(VoiceSessionTest, BackchannelsAndShortNoisesDoNotInterrupt) {
  open();
  tell(ClientText{"reserve a table for 4"});  // "What time would you like the table?": 1.75 s of speech
  advance(100);
  ASSERT_EQ(sink_->of("bot_speech_started").size(), 1u);

  emit(ScriptedAsr::start_of_speech(0));
  audio(600);
  emit(ScriptedAsr::partial("mhm"));
  emit(ScriptedAsr::end_of_speech(600));
  emit(ScriptedAsr::final_result("mhm", 0, 600));
  emit(ScriptedAsr::start_of_speech(700));
  audio(200);
  emit(ScriptedAsr::partial("the"));
  emit(ScriptedAsr::final_result("the", 700, 900));
  emit(ScriptedAsr::start_of_speech(1000));
  audio(500);
  emit(ScriptedAsr::final_result("", 1000, 1500));

  EXPECT_TRUE(sink_->of("interrupted").empty());
  const auto finals = sink_->of("final");
  ASSERT_EQ(finals.size(), 3u);
  EXPECT_TRUE(finals[0].ignored());
  EXPECT_EQ(finals[0].reason(), "backchannel");
  EXPECT_EQ(finals[1].reason(), "too_short");
  EXPECT_EQ(finals[2].reason(), "no_words");
  advance(2000);
  EXPECT_EQ(sink_->of("bot_speech_ended").size(), 1u);
  EXPECT_EQ(sink_->audio.size(), 35u * 50 * 16 * 2) << "the whole reply was played";
  EXPECT_EQ(sessions_->get(id_)->turns(), 1) << "no turn was taken from them";
  EXPECT_EQ(history_text(0), "What time would you like the table?");
}

TEST_F(VoiceSessionTest, SpeechThatBeganBeforeAReplyTakesTheFloorBack) {
  open();
  emit(ScriptedAsr::start_of_speech(0));  // the user starts talking...
  audio(300);
  tell(ClientText{"reserve a table for 4"});  // ...a typed turn starts a reply meanwhile...
  ASSERT_EQ(sink_->of("turn").size(), 1u);
  emit(ScriptedAsr::final_result("what time is breakfast", 0, 900));  // ...and the utterance ends.
  ASSERT_EQ(sink_->of("interrupted").size(), 1u);
  ASSERT_EQ(sink_->of("turn").size(), 2u);
  EXPECT_EQ(sink_->of("turn")[1].text(), "what time is breakfast");
  advance(8000);
  ASSERT_EQ(sink_->of("bot_speech_ended").size(), 1u) << "only the second reply was spoken to the end";
  EXPECT_EQ(sink_->of("bot_speech_ended")[0].reply(), 2);
}

TEST_F(VoiceSessionTest, ClientInterruptCutsAStoredTurn) {
  open();
  tell(ClientText{"reserve a table for 4"});
  advance(600);
  tell(ClientInterrupt{});
  ASSERT_EQ(sink_->of("interrupted").size(), 1u);
  EXPECT_EQ(sink_->of("interrupted")[0].source(), "client");
  const std::string played = sink_->of("interrupted")[0].text();
  EXPECT_FALSE(played.empty());
  EXPECT_NE(played, "What time would you like the table?");
  EXPECT_EQ(history_text(0), played);
  EXPECT_TRUE(sessions_->get(id_)->history(0).interrupted());
}

TEST_F(VoiceSessionTest, AsrDownIsReportedAndTextStillWorks) {
  asr_.down = true;
  open();
  ASSERT_EQ(sink_->of("error").size(), 1u);
  EXPECT_EQ(sink_->of("error")[0].source(), "asr");
  EXPECT_EQ(sink_->of("error")[0].error().code(), v1::Status::UNAVAILABLE);
  audio(100);  // too soon to retry
  EXPECT_EQ(asr_.streams.size(), 1u);
  tell(ClientText{"reserve a table for 4"});
  EXPECT_EQ(sink_->of("turn").size(), 1u);
  advance(2100);
  asr_.down = false;
  audio(100);  // retried: recognition is back
  EXPECT_EQ(asr_.streams.size(), 2u);
  EXPECT_EQ(asr_.streams[1]->audio.size(), 100u * 16 * 2);
}

TEST_F(VoiceSessionTest, TtsDownFallsBackToTextEvents) {
  tts_.down = true;
  open();
  tell(ClientText{"reserve a table for 4"});
  ASSERT_EQ(sink_->of("turn").size(), 1u);
  ASSERT_EQ(sink_->of("error").size(), 1u);
  EXPECT_EQ(sink_->of("error")[0].source(), "tts");
  EXPECT_TRUE(sink_->of("bot_speech_started").empty());
  EXPECT_TRUE(sink_->audio.empty());
  tts_.down = false;
  tell(ClientText{"at 7pm"});
  ASSERT_EQ(sink_->of("turn").size(), 2u);
  EXPECT_EQ(sink_->of("bot_speech_started").size(), 1u) << "the next reply is spoken again";
}

TEST_F(VoiceSessionTest, EndOfInputEndsTheSessionAfterTheLastReply) {
  open();
  emit(ScriptedAsr::start_of_speech(0));
  audio(800);
  tell(ClientEnd{});
  EXPECT_TRUE(stream().finished) << "the recognizer was told to finish";
  emit(ScriptedAsr::final_result("reserve a table for 4", 0, 800));
  stream().end(Status::ok());
  run();
  EXPECT_FALSE(sink_->closed.has_value()) << "the reply is still being spoken";
  advance(2000);
  ASSERT_TRUE(sink_->closed.has_value());
  EXPECT_EQ(sink_->closed->first, 1000);
  EXPECT_EQ(sink_->of("bot_speech_ended").size(), 1u);
  EXPECT_FALSE(voice_.alive());
}

TEST_F(VoiceSessionTest, AVanishedClientCancelsEverything) {
  services_.hold_generate = true;
  tts_.auto_reply = false;
  open();
  tell(ClientText{"tell me a joke about penguins"});
  ASSERT_EQ(tts_.calls.size(), 1u);
  tell(ClientGone{1006, "connection reset"});
  EXPECT_TRUE(stream().cancelled) << "recognition stopped";
  EXPECT_TRUE(tts_.calls[0]->cancelled) << "synthesis stopped";
  EXPECT_EQ(services_.generate_cancelled.load(), 1) << "the LM generation stopped";
  EXPECT_FALSE(voice_.alive());
  EXPECT_EQ(history_text(0), "") << "nothing was played";
}

TEST_F(VoiceSessionTest, ConfigIsChecked) {
  v1::VoiceConfig c;
  c.set_sample_rate_hz(1000);
  EXPECT_EQ(check_voice_config(c, options_).status().code(), StatusCode::kInvalidArgument);
  c.set_sample_rate_hz(0);
  c.set_output_sample_rate_hz(96000);
  EXPECT_EQ(check_voice_config(c, options_).status().code(), StatusCode::kInvalidArgument);
  c.set_output_sample_rate_hz(22050);
  c.set_language("en US; drop");
  EXPECT_EQ(check_voice_config(c, options_).status().code(), StatusCode::kInvalidArgument);
  c.set_language("");
  auto ok = check_voice_config(c, options_);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->sample_rate_hz(), 16000);
  EXPECT_EQ(ok->language(), "en-US");
}

}  // namespace
}  // namespace parley::dialog::voice
