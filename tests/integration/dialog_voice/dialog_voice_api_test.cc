// Live voice sessions end to end: the real parley-dialog process with the fake NLU/QA/LM and the
// fake ASR + TTS (tone-keyed recognizer, paced synthesizer) on the real transport inside this
// test, talked to over the voice WebSocket and over parley.v1.Dialog/Voice: a spoken turn and a
// typed one answered with speech, barge-in (bot audio stops, LM and TTS cancelled, history cut),
// backchannels and noise that do not interrupt, bad input and its close codes, a client that
// stops reading (1008, bounded memory), a client that vanishes (everything cancelled), ASR/TTS
// down (error events, text fallback), API keys.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/cli/talk_command.h"
#include "services/dialog/cli/voice_client.h"
#include "services/dialog/testing/fake_services.h"
#include "services/dialog/testing/fake_speech.h"
#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::VoiceClient;
using dialog::testing::FakeServiceServer;
using dialog::testing::FakeSpeechServer;
using dialog::testing::silence_pcm16;
using dialog::testing::tone_pcm16;
using testing::ChildProcess;
using Message = VoiceClient::Message;

constexpr double kBook = 440, kBreakfast = 550, kMhm = 660, kJoke = 880, kNoise = 1234;

struct Dialog {
  int api_port = 0, http_port = 0;
  std::string voice_endpoint;      // voice.transport_bind: an extra endpoint
  std::string transport_endpoint;  // transport.bind: Dialog/Voice is served there too
  std::unique_ptr<ChildProcess> process;
};

class DialogVoiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("parley-voice-it"));
    nlu_ = FakeServiceServer::start("nlu")->release();
    qa_ = FakeServiceServer::start("qa")->release();
    lm_ = FakeServiceServer::start("lm")->release();
    dialog::testing::FakeSpeechOptions so;
    so.script.tones = {{kBook, "book a table for 4 at 7pm"},
                       {kBreakfast, "what time is breakfast"},
                       {kMhm, "mhm"},
                       {kJoke, "tell me a joke about penguins"}};
    so.speed = 1.0;  // synthesis at real time: a reply's synthesis is still running while it plays
    speech_ = FakeSpeechServer::start(so)->release();
    main_ = new Dialog(start_dialog({}));
  }
  static void TearDownTestSuite() {
    delete main_;
    delete speech_;
    delete nlu_;
    delete qa_;
    delete lm_;
  }
  void SetUp() override {
    lm_->token_delay_us = 0;
    speech_->asr_failing = false;
    speech_->tts_failing = false;
  }

  static Dialog start_dialog(std::vector<std::string> extra) {
    Dialog d;
    d.api_port = testing::free_tcp_port();
    d.http_port = testing::free_tcp_port();
    d.voice_endpoint = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
    d.transport_endpoint = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
    std::vector<std::string> argv = {testing::built_binary("services/dialog/parley-dialog"),
                                     "--api.port=" + std::to_string(d.api_port),
                                     "--http.port=" + std::to_string(d.http_port),
                                     "--transport.bind=" + d.transport_endpoint,
                                     "--voice.transport_bind=" + d.voice_endpoint,
                                     "--dialog.nlu_targets=" + nlu_->endpoint(),
                                     "--dialog.qa_targets=" + qa_->endpoint(),
                                     "--dialog.lm_targets=" + lm_->endpoint(),
                                     "--dialog.asr_targets=" + speech_->endpoint(),
                                     "--dialog.tts_targets=" + speech_->endpoint(),
                                     "--dialog.sync_interval=200ms"};
    for (auto& e : extra) argv.push_back(e);
    d.process = std::make_unique<ChildProcess>(argv, *dir_ + "/dialog-" + std::to_string(d.api_port) + ".log");
    bool ready = testing::wait_until(
        [&] {
          auto r = testing::http_get(d.http_port, "/readyz");
          auto b = testing::http_request("GET", d.api_port, "/v1/bots/demo", "", 5s, {{"Authorization", "Bearer k1"}});
          if (!(r.ok() && r->status == 200 && b.ok() && b->status == 200)) return false;
          v1::Bot bot;
          (void)google::protobuf::util::JsonStringToMessage(b->body, &bot);
          return bot.nlu_trained() && bot.kb_ingested();
        },
        20s);
    EXPECT_TRUE(ready) << d.process->log();
    return d;
  }

  static std::string new_session(const Dialog& d = *main_, std::map<std::string, std::string> headers = {}) {
    auto r = testing::http_request("POST", d.api_port, "/v1/bots/demo/sessions", "", 5s, headers);
    EXPECT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().to_string());
    v1::Session s;
    if (r.ok()) (void)google::protobuf::util::JsonStringToMessage(r->body, &s);
    return s.id();
  }

  static v1::Session get_session(const std::string& id) {
    auto r = testing::http_get(main_->api_port, "/v1/sessions/" + id);
    EXPECT_TRUE(r.ok() && r->status == 200);
    v1::Session s;
    if (r.ok()) (void)google::protobuf::util::JsonStringToMessage(r->body, &s);
    return s;
  }

  static std::unique_ptr<VoiceClient> connect(const std::string& session, dialog::VoiceClientOptions o = {}) {
    o.port = o.port == 8080 ? main_->api_port : o.port;
    o.session_id = session;
    auto c = VoiceClient::connect(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    if (!c.ok()) return nullptr;
    auto ready = (*c)->next(5s);
    EXPECT_TRUE(ready && ready->event.type() == "ready") << (ready ? ready->data : "nothing");
    return std::move(*c);
  }

  /// Sends `pcm` in 20 ms frames, at real time when `realtime`.
  static void stream(VoiceClient& c, const std::string& pcm, bool realtime = false) {
    const std::size_t frame = 16000 / 50 * 2;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t off = 0, i = 0; off < pcm.size(); off += frame, ++i) {
      ASSERT_TRUE(c.send_audio(std::string_view(pcm).substr(off, frame)).is_ok());
      if (realtime) std::this_thread::sleep_until(start + i * 20ms);
    }
  }
  /// An utterance: `ms` of a tone, then enough quiet for the recognizer to end it.
  static std::string utterance(double hz, int ms) { return tone_pcm16(16000, hz, ms) + silence_pcm16(16000, 400); }

  /// Reads until `done` says so (or the connection closes / `timeout`); returns what came.
  static std::vector<Message> read_until(VoiceClient& c, const std::function<bool(const Message&)>& done,
                                         std::chrono::milliseconds timeout = 15s) {
    std::vector<Message> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto m = c.next(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()));
      if (!m) break;
      out.push_back(*m);
      if (done(out.back())) break;
    }
    return out;
  }
  static auto is(const std::string& type) {
    return [type](const Message& m) { return !m.audio && m.event.type() == type; };
  }
  static std::vector<v1::VoiceEvent> events(const std::vector<Message>& ms, const std::string& type) {
    std::vector<v1::VoiceEvent> out;
    for (const auto& m : ms) {
      if (!m.audio && m.event.type() == type) out.push_back(m.event);
    }
    return out;
  }
  static std::size_t audio_bytes(const std::vector<Message>& ms) {
    std::size_t n = 0;
    for (const auto& m : ms) n += m.audio ? m.data.size() : 0;
    return n;
  }
  static double metric(const Dialog& d, const std::string& name, const std::string& labels = "") {
    auto r = testing::http_get(d.http_port, "/metrics");
    return r.ok() ? testing::metric_value(r->body, name, labels) : -1;
  }
  /// Bytes of fake speech for `text` (60 ms a character, at least 200 ms, 16 kHz PCM16).
  static std::size_t speech_bytes(const std::string& text) {
    return static_cast<std::size_t>(std::max(200, 60 * static_cast<int>(text.size()))) * 16 * 2;
  }

  static inline std::string* dir_ = nullptr;
  static inline FakeServiceServer *nlu_ = nullptr, *qa_ = nullptr, *lm_ = nullptr;
  static inline FakeSpeechServer* speech_ = nullptr;
  static inline Dialog* main_ = nullptr;
};

TEST_F(DialogVoiceTest, SpokenAndTypedTurnsAreAnsweredWithSpeech) {
  const std::string id = new_session();
  auto c = connect(id);
  ASSERT_TRUE(c);
  stream(*c, silence_pcm16(16000, 300) + utterance(kBook, 1200));
  auto got = read_until(*c, is("bot_speech_ended"));
  ASSERT_EQ(events(got, "final").size(), 1u);
  EXPECT_EQ(events(got, "final")[0].text(), "book a table for 4 at 7pm");
  EXPECT_FALSE(events(got, "partial").empty());
  EXPECT_EQ(events(got, "speech_started").at(0).audio_ms(), 300);
  ASSERT_EQ(events(got, "turn").size(), 1u);
  const auto turn = events(got, "turn")[0];
  EXPECT_EQ(turn.text(), "book a table for 4 at 7pm");
  ASSERT_GT(turn.turn().messages_size(), 0);
  const std::string reply = turn.turn().messages(0).text();
  EXPECT_NE(reply.find("shall I book it"), std::string::npos) << reply;
  ASSERT_EQ(events(got, "bot_speech_started").size(), 1u);
  EXPECT_EQ(events(got, "bot_speech_started")[0].sample_rate_hz(), 16000);
  EXPECT_EQ(audio_bytes(got), speech_bytes(reply)) << "all of the reply's audio, once";
  std::set<std::string> stages;
  const auto started = events(got, "bot_speech_started")[0];
  for (const auto& t : started.timings()) stages.insert(t.stage());
  EXPECT_TRUE(stages.count("voice.first_audio") && stages.count("voice.endpoint")) << stages.size();

  // A typed turn in the same voice session, then the end of input: the server closes (1000)
  // once the last reply is spoken.
  ASSERT_TRUE(c->send_text("yes").is_ok());
  ASSERT_TRUE(c->send_end().is_ok());
  got = read_until(*c, [](const Message&) { return false; }, 20s);
  ASSERT_EQ(events(got, "turn").size(), 1u);
  EXPECT_NE(events(got, "turn")[0].turn().messages(0).text().find("booked"), std::string::npos);
  EXPECT_EQ(events(got, "bot_speech_ended").size(), 1u);
  EXPECT_EQ(c->close_code(), 1000) << c->close_reason();
  EXPECT_EQ(get_session(id).turns(), 2);
  EXPECT_GE(metric(*main_, "parley_voice_sessions_total", "websocket"), 1);
  EXPECT_GE(metric(*main_, "parley_voice_stage_duration_seconds_count", "first_audio"), 2);
}

TEST_F(DialogVoiceTest, BargeInStopsTheBotCancelsLmAndTtsAndCutsTheHistory) {
  lm_->token_delay_us = 200'000;  // a reply still generating (and being synthesized) when cut
  const int lm_cancelled = lm_->cancelled.load();
  const int tts_cancelled = speech_->synthesize_cancelled.load();
  const std::string id = new_session();
  auto c = connect(id);
  ASSERT_TRUE(c);
  stream(*c, utterance(kJoke, 900));
  auto got = read_until(*c, is("bot_speech_started"));
  ASSERT_EQ(events(got, "bot_speech_started").size(), 1u);
  std::this_thread::sleep_for(300ms);
  // The user speaks over the bot, in real time.
  std::thread speaker([&] { stream(*c, utterance(kBreakfast, 900), /*realtime=*/true); });
  got = read_until(*c, is("interrupted"));
  ASSERT_EQ(events(got, "interrupted").size(), 1u);
  const auto interrupted = events(got, "interrupted")[0];
  EXPECT_EQ(interrupted.source(), "barge_in");
  EXPECT_FALSE(interrupted.text().empty());
  // After `interrupted`, no more bot audio of that reply.
  got = read_until(*c, is("bot_speech_started"));
  speaker.join();
  std::size_t audio_after = 0;
  for (const auto& m : got) {
    if (!m.audio && m.event.type() == "bot_speech_started") break;
    audio_after += m.audio ? m.data.size() : 0;
  }
  EXPECT_EQ(audio_after, 0u);
  // The interrupting utterance is the next turn; the first turn answered with what was played.
  auto turns = events(got, "turn");
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].turn().messages(0).text(), interrupted.text());
  EXPECT_EQ(turns[1].text(), "what time is breakfast");
  EXPECT_TRUE(testing::wait_until([&] { return lm_->cancelled.load() > lm_cancelled; }, 5s)) << "the LM was not cancelled";
  EXPECT_TRUE(testing::wait_until([&] { return speech_->synthesize_cancelled.load() > tts_cancelled; }, 5s))
      << "the synthesis was not cancelled";
  const auto s = get_session(id);
  ASSERT_GE(s.history_size(), 2);
  EXPECT_TRUE(s.history(0).interrupted());
  EXPECT_EQ(s.history(0).messages(0).text(), interrupted.text());
  EXPECT_GE(metric(*main_, "parley_voice_barge_ins_total", "barge_in"), 1);
}

TEST_F(DialogVoiceTest, BackchannelsAndNoiseDoNotInterrupt) {
  const std::string id = new_session();
  auto c = connect(id);
  ASSERT_TRUE(c);
  stream(*c, utterance(kBook, 1000));
  auto got = read_until(*c, is("bot_speech_started"));
  ASSERT_FALSE(events(got, "turn").empty());
  const std::string reply = events(got, "turn")[0].turn().messages(0).text();
  std::size_t audio = audio_bytes(got);
  // "mhm" (600 ms), then a 200 ms noise, spoken over the bot in real time.
  std::thread speaker([&] {
    stream(*c, utterance(kMhm, 600), true);
    stream(*c, utterance(kNoise, 200), true);
  });
  got = read_until(*c, is("bot_speech_ended"));
  speaker.join();
  audio += audio_bytes(got);
  EXPECT_TRUE(events(got, "interrupted").empty());
  const auto finals = events(got, "final");
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_TRUE(finals[0].ignored());
  EXPECT_EQ(finals[0].reason(), "backchannel");
  EXPECT_TRUE(finals[1].ignored());
  EXPECT_EQ(audio, speech_bytes(reply)) << "the whole reply was played";
  EXPECT_EQ(get_session(id).turns(), 1);
}

TEST_F(DialogVoiceTest, BadInputGetsAClearCloseCode) {
  const std::string id = new_session();
  {  // audio that is not whole PCM16 samples
    auto c = connect(id);
    ASSERT_TRUE(c->send_raw(std::string(321, '\0'), true).is_ok());
    auto got = read_until(*c, [](const Message&) { return false; }, 5s);
    ASSERT_FALSE(events(got, "error").empty());
    EXPECT_EQ(events(got, "error")[0].source(), "input");
    EXPECT_NE(events(got, "error")[0].error().message().find("321"), std::string::npos);
    EXPECT_EQ(c->close_code(), 1007);
  }
  {  // text where audio is expected
    auto c = connect(id);
    ASSERT_TRUE(c->send_raw("hello there", false).is_ok());
    (void)read_until(*c, [](const Message&) { return false; }, 5s);
    EXPECT_EQ(c->close_code(), 1003);
  }
  {  // a frame over voice.max_frame_bytes (64 KiB)
    auto c = connect(id);
    ASSERT_TRUE(c->send_raw(std::string(70000, '\0'), true).is_ok());
    (void)read_until(*c, [](const Message&) { return false; }, 5s);
    EXPECT_EQ(c->close_code(), 1009);
  }
  {  // an unknown control message is reported; the session goes on
    auto c = connect(id);
    ASSERT_TRUE(c->send_raw(R"({"type":"dance"})", false).is_ok());
    auto got = read_until(*c, is("error"), 5s);
    ASSERT_EQ(events(got, "error").size(), 1u);
    EXPECT_NE(events(got, "error")[0].error().message().find("dance"), std::string::npos);
    ASSERT_TRUE(c->send_end().is_ok());
    (void)read_until(*c, [](const Message&) { return false; }, 5s);
    EXPECT_EQ(c->close_code(), 1000);
  }
  // Refused before the upgrade: plain HTTP errors.
  auto missing = VoiceClient::connect({.port = main_->api_port, .session_id = "nope"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().to_string();
  auto bad_rate = VoiceClient::connect({.port = main_->api_port, .session_id = id, .sample_rate = 4000});
  EXPECT_EQ(bad_rate.status().code(), StatusCode::kInvalidArgument) << bad_rate.status().to_string();
  auto plain = testing::http_get(main_->api_port, "/v1/sessions/" + id + "/voice");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status, 426);
  EXPECT_GE(metric(*main_, "parley_voice_session_ends_total", "bad_input"), 3);
}

TEST_F(DialogVoiceTest, AClientThatStopsReadingIsClosedWithBoundedBuffers) {
  Dialog d = start_dialog({"--voice.max_send_buffer_bytes=65536", "--voice.socket_send_buffer_bytes=8192"});
  const std::string id = new_session(d);
  dialog::VoiceClientOptions o;
  o.port = d.api_port;
  o.receive_buffer_bytes = 4096;
  auto c = connect(id, o);
  ASSERT_TRUE(c);
  c->pause_reading(true);
  lm_->token_delay_us = 0;
  ASSERT_TRUE(c->send_text("tell me a joke about penguins and about the sea and the sky").is_ok());
  // The bot's speech (about 8 s) cannot be delivered: the server gives up once 64 KiB are queued.
  EXPECT_TRUE(testing::wait_until([&] { return metric(d, "parley_voice_session_ends_total", "slow_client") >= 1; }, 15s))
      << d.process->log();
  c->pause_reading(false);
  (void)read_until(*c, [](const Message&) { return false; }, 5s);
  EXPECT_TRUE(c->close_code() == 1008 || c->close_code() == 1006) << c->close_code();
  EXPECT_EQ(metric(d, "parley_voice_active_sessions"), 0);
}

TEST_F(DialogVoiceTest, AVanishedClientCancelsEverythingItStarted) {
  lm_->token_delay_us = 200'000;
  const int lm_cancelled = lm_->cancelled.load();
  const int tts_cancelled = speech_->synthesize_cancelled.load();
  const int asr_cancelled = speech_->recognize_cancelled.load();
  const std::string id = new_session();
  auto c = connect(id);
  ASSERT_TRUE(c);
  stream(*c, utterance(kJoke, 900));
  auto got = read_until(*c, is("bot_speech_started"));
  ASSERT_FALSE(events(got, "bot_speech_started").empty());
  c->drop();
  EXPECT_TRUE(testing::wait_until([&] { return lm_->cancelled.load() > lm_cancelled; }, 5s)) << "LM still generating";
  EXPECT_TRUE(testing::wait_until([&] { return speech_->synthesize_cancelled.load() > tts_cancelled; }, 5s));
  EXPECT_TRUE(testing::wait_until([&] { return speech_->recognize_cancelled.load() > asr_cancelled; }, 5s));
  EXPECT_TRUE(testing::wait_until([&] { return metric(*main_, "parley_voice_active_sessions") == 0; }, 5s));
  EXPECT_GE(metric(*main_, "parley_voice_session_ends_total", "client_gone"), 1);
}

TEST_F(DialogVoiceTest, AsrOrTtsDownFallsBackToText) {
  speech_->asr_failing = true;
  const std::string id = new_session();
  auto c = connect(id);
  ASSERT_TRUE(c);
  auto got = read_until(*c, is("error"), 5s);
  ASSERT_EQ(events(got, "error").size(), 1u);
  EXPECT_EQ(events(got, "error")[0].source(), "asr");
  speech_->tts_failing = true;
  ASSERT_TRUE(c->send_text("what time is breakfast").is_ok());
  got = read_until(*c, is("turn"), 10s);
  ASSERT_EQ(events(got, "turn").size(), 1u);
  EXPECT_EQ(events(got, "turn")[0].turn().messages(0).kind(), "answer");
  got = read_until(*c, is("error"), 5s);
  ASSERT_EQ(events(got, "error").size(), 1u);
  EXPECT_EQ(events(got, "error")[0].source(), "tts");
  EXPECT_EQ(audio_bytes(got), 0u);
  // Both back: the next utterance is heard and spoken (recognition reopens as audio arrives).
  speech_->asr_failing = false;
  speech_->tts_failing = false;
  std::this_thread::sleep_for(2100ms);  // voice sessions retry recognition at most every 2 s
  stream(*c, utterance(kBook, 1000));
  got = read_until(*c, is("bot_speech_ended"));
  EXPECT_EQ(events(got, "final").size(), 1u);
  EXPECT_EQ(events(got, "bot_speech_started").size(), 1u);
}

TEST_F(DialogVoiceTest, ApiKeysApplyToTheVoiceRoute) {
  Dialog d = start_dialog({"--api.keys=k1"});
  const std::string id = new_session(d, {{"Authorization", "Bearer k1"}});
  auto none = VoiceClient::connect({.port = d.api_port, .session_id = id});
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated) << none.status().to_string();
  auto wrong = VoiceClient::connect({.port = d.api_port, .session_id = id, .key = "k2"});
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  auto header = VoiceClient::connect({.port = d.api_port, .session_id = id, .key = "k1"});
  EXPECT_TRUE(header.ok()) << header.status().to_string();
  auto query = VoiceClient::connect({.port = d.api_port, .session_id = id, .key = "k1", .key_in_query = true});
  EXPECT_TRUE(query.ok()) << query.status().to_string();
}

TEST_F(DialogVoiceTest, TheSameSessionOverTheTransport) {
  // On the dialog's own endpoint (a stream call holds no worker) and on voice.transport_bind.
  int calls = 0;
  for (const std::string& endpoint : {main_->transport_endpoint, main_->voice_endpoint}) {
    SCOPED_TRACE(endpoint);
    ++calls;
    const std::string id = new_session();
    transport::ClientOptions co;
    co.targets = {endpoint};
    co.name = "dialog-voice";
    auto client = transport::Client::create(co);
    ASSERT_TRUE(client.ok());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<v1::VoiceEvent> got;
    std::optional<Status> ended;
    v1::VoiceInput start;
    start.mutable_start()->set_session_id(id);
    transport::Envelope req;
    req.set_method("parley.v1.Dialog/Voice");
    req.mutable_payload()->PackFrom(start);
    auto call = (*client)->call(req, {.timeout = 30s, .client_stream = true}, [&](Result<transport::Envelope> r) {
      std::lock_guard lock(mu);
      if (!r.ok()) {
        ended = r.status();
      } else {
        v1::VoiceEvent e;
        if (r->has_payload() && r->payload().UnpackTo(&e)) got.push_back(e);
        if (r->end_of_stream()) ended = Status::ok();
      }
      cv.notify_all();
    });
    const std::string pcm = utterance(kBreakfast, 1000);
    for (std::size_t off = 0; off < pcm.size(); off += 640) {
      v1::VoiceInput in;
      in.set_audio(pcm.substr(off, 640));
      transport::Envelope e;
      e.mutable_payload()->PackFrom(in);
      ASSERT_TRUE(call.send(std::move(e)));
    }
    ASSERT_TRUE(call.close_send());  // end of input: the call ends once the reply is spoken
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return ended.has_value(); }));
    EXPECT_TRUE(ended->is_ok()) << ended->to_string();
    std::vector<std::string> types;
    std::size_t audio = 0;
    std::string reply;
    for (const auto& e : got) {
      if (e.type() == "audio") {
        audio += e.audio().size();
        continue;
      }
      types.push_back(e.type());
      if (e.type() == "turn") reply = e.turn().messages(0).text();
    }
    EXPECT_EQ(types.front(), "ready");
    EXPECT_NE(std::find(types.begin(), types.end(), "final"), types.end());
    EXPECT_EQ(types.back(), "bot_speech_ended");
    EXPECT_FALSE(reply.empty());
    EXPECT_EQ(audio, speech_bytes(reply));
    EXPECT_GE(metric(*main_, "parley_voice_sessions_total", "wire"), calls);
  }
}

TEST_F(DialogVoiceTest, TalkCommandStreamsAWavAndWritesTheBotsSpeech) {
  // Runs `parley talk` with `args`, stdin `input`; returns (exit code, what it printed).
  auto talk = [](std::vector<std::string> args, const std::string& input) {
    std::istringstream in(input);
    std::ostringstream out;
    auto* old_in = std::cin.rdbuf(in.rdbuf());
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    const int rc = dialog::run_talk_command(std::move(args));
    std::cin.rdbuf(old_in);
    std::cout.rdbuf(old_out);
    return std::pair{rc, out.str()};
  };
  const std::string url = "http://127.0.0.1:" + std::to_string(main_->api_port);
  // The question as a 16 kHz WAV file, streamed as if spoken; the reply to a WAV file.
  const std::string question = *dir_ + "/question.wav", reply = *dir_ + "/reply.wav";
  auto samples = audio::decode_pcm16_le(silence_pcm16(16000, 200) + tone_pcm16(16000, kBreakfast, 1000));
  ASSERT_TRUE(samples.ok());
  ASSERT_TRUE(audio::write_wav_file(question, *samples, 16000).is_ok());
  auto [rc, printed] = talk({"--bot", "demo", "--url", url, "--wav", question, "--out", reply}, "");
  EXPECT_EQ(rc, 0) << printed;
  EXPECT_NE(printed.find("you> what time is breakfast"), std::string::npos) << printed;
  EXPECT_NE(printed.find("bot> Breakfast"), std::string::npos) << printed;
  EXPECT_NE(printed.find("end of speech -> first audio"), std::string::npos) << printed;
  EXPECT_NE(printed.find("measured here"), std::string::npos) << printed;
  auto written = audio::read_wav_file(reply);
  ASSERT_TRUE(written.ok()) << written.status().to_string();
  EXPECT_EQ(written->sample_rate, 16000);
  EXPECT_GT(written->duration_seconds(), 1.0) << "the reply's speech";

  // Typed turns while hearing the replies.
  auto [rc2, printed2] = talk({"--url", url, "--text", "--quiet"}, "reserve a table for 4\n");
  EXPECT_EQ(rc2, 0) << printed2;
  EXPECT_NE(printed2.find("bot> What time would you like the table?"), std::string::npos) << printed2;

  EXPECT_EQ(talk({"--url", "http://127.0.0.1:1", "--text"}, "").first, 1);
  EXPECT_EQ(talk({"--wav", *dir_ + "/missing.wav"}, "").first, 1);
  EXPECT_EQ(talk({"--bogus"}, "").first, 2);
}

}  // namespace
}  // namespace parley
