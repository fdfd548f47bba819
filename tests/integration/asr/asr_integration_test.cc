// parley-asr end to end: a real process on loopback, called through the transport client.
// Transcribe of jfk.wav (the right text), a Recognize stream (speech events, finals), bad input
// answered with a Status naming the problem while the service keeps serving, a stream that
// never sends audio (DEADLINE_EXCEEDED after asr.idle_timeout), a client that cancels mid-stream
// (its stream ends, the active-streams gauge returns to 0), and the parley_asr_* metrics.
// Depends on tests/support (service process, HTTP GET), the fetched Whisper and VAD models.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "parley/v1/asr.pb.h"
#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/service.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
const std::string kSpeech = std::string(PARLEY_TESTDATA) + "/speech";

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AsrIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string m = testing::model_dir();
    if (!std::filesystem::exists(m + "/whisper-tiny-en/model.bin") ||
        !std::filesystem::exists(m + "/vad-silero/silero_vad_16k.safetensors")) {
      skip_ = "models absent in " + m + " (run tools/models/fetch --for tests)";
      return;
    }
    if (!std::filesystem::exists(kSpeech)) {
      skip_ = "no shared testdata at " + kSpeech;
      return;
    }
    dir_ = testing::make_temp_dir("parley-asr");
    svc_ = new testing::ServiceProcess();
    std::string log;
    if (!testing::start_service(*svc_, "services/asr/parley-asr", {"--asr.idle_timeout=1500ms", "--asr.max_streams=4"}, dir_, &log,
                                std::chrono::seconds(120))) {
      error_ = "parley-asr did not start: " + log;
    }
  }
  static void TearDownTestSuite() {
    delete svc_;
    svc_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
  }

  static Result<v1::TranscribeResponse> transcribe(const v1::TranscribeRequest& r) {
    return testing::call_unary<v1::TranscribeResponse>(*svc_->client, "parley.v1.Asr/Transcribe", r, 120s);
  }

  struct StreamResult {
    Status status;
    std::vector<v1::RecognizeResponse> replies;
  };
  // Opens a Recognize stream; `feed` sends on the handle; waits for the end.
  static StreamResult stream(const v1::RecognitionConfig& cfg, const std::function<void(transport::CallHandle&)>& feed) {
    auto done = std::make_shared<std::promise<void>>();
    auto out = std::make_shared<StreamResult>();
    v1::RecognizeRequest first;
    *first.mutable_config() = cfg;
    v1::Envelope env;
    env.set_method("parley.v1.Asr/Recognize");
    env.mutable_payload()->PackFrom(first);
    transport::CallOptions o;
    o.client_stream = true;
    o.timeout = 120s;
    auto h = svc_->client->call(env, o, [done, out](Result<v1::Envelope> r) {
      if (!r.ok()) {
        out->status = r.status();
        done->set_value();
        return;
      }
      v1::RecognizeResponse resp;
      if (r->has_payload() && r->payload().UnpackTo(&resp)) out->replies.push_back(resp);
      if (r->end_of_stream()) done->set_value();
    });
    feed(h);
    if (done->get_future().wait_for(120s) != std::future_status::ready) out->status = deadline_exceeded("test: stream did not end");
    return *out;
  }
  static v1::RecognitionConfig pcm16(int rate) {
    v1::RecognitionConfig c;
    c.mutable_format()->set_encoding(v1::AudioFormat::PCM16);
    c.mutable_format()->set_sample_rate_hz(rate);
    c.set_interim_results(true);
    return c;
  }
  static void send_audio(transport::CallHandle& h, std::span<const float> a, std::size_t chunk) {
    for (std::size_t pos = 0; pos < a.size(); pos += chunk) {
      v1::RecognizeRequest r;
      std::string b;
      audio::encode_pcm16_le(a.subspan(pos, std::min(chunk, a.size() - pos)), b);
      r.mutable_audio()->set_data(std::move(b));
      v1::Envelope e;
      e.mutable_payload()->PackFrom(r);
      h.send(std::move(e));
    }
  }
  static std::string metrics() {
    auto r = testing::http_get(svc_->http_port, "/metrics");
    return r.ok() ? r->body : "";
  }

  static inline testing::ServiceProcess* svc_ = nullptr;
  static inline std::string dir_, skip_, error_;
};

TEST_F(AsrIntegrationTest, TranscribesAWavFile) {
  v1::TranscribeRequest r;
  r.set_wav(read_file(kSpeech + "/jfk.wav"));
  auto resp = transcribe(r);
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  EXPECT_EQ(resp->text(), "And so my fellow Americans ask not what your country can do for you ask what you can do for your country.");
  EXPECT_NEAR(resp->audio_seconds(), 11.0, 0.01);
  ASSERT_EQ(resp->results_size(), 1);
  EXPECT_GT(resp->results(0).alternatives(0).words_size(), 10);
}

TEST_F(AsrIntegrationTest, BadInputGetsAClearErrorAndTheServiceKeepsServing) {
  auto expect = [](const v1::TranscribeRequest& r, StatusCode code, const std::string& needle) {
    auto resp = transcribe(r);
    ASSERT_FALSE(resp.ok()) << needle;
    EXPECT_EQ(resp.status().code(), code) << resp.status().to_string();
    EXPECT_NE(resp.status().message().find(needle), std::string::npos) << resp.status().to_string();
  };
  v1::TranscribeRequest r;
  r.set_wav("this is not audio at all");
  expect(r, StatusCode::kInvalidArgument, "not a WAV file");
  const std::string jfk = read_file(kSpeech + "/jfk.wav");
  r.set_wav(jfk.substr(0, jfk.size() / 2));
  expect(r, StatusCode::kDataLoss, "truncated");
  v1::TranscribeRequest raw;
  raw.mutable_config()->mutable_format()->set_encoding(v1::AudioFormat::PCM16);
  raw.mutable_config()->mutable_format()->set_sample_rate_hz(96000);
  raw.set_audio(std::string(1000, '\0'));
  expect(raw, StatusCode::kInvalidArgument, "96000 Hz");
  raw.mutable_config()->mutable_format()->set_encoding(v1::AudioFormat::FLOAT32);
  raw.mutable_config()->mutable_format()->set_sample_rate_hz(16000);
  std::string nan;
  audio::encode_f32_le(std::vector<float>{0.0f, std::numeric_limits<float>::quiet_NaN()}, nan);
  raw.set_audio(nan);
  expect(raw, StatusCode::kInvalidArgument, "NaN");
  // Still serving.
  v1::TranscribeRequest ok;
  ok.set_wav(read_file(kSpeech + "/goforward.wav"));
  auto resp = transcribe(ok);
  ASSERT_TRUE(resp.ok()) << resp.status().to_string();
  EXPECT_EQ(resp->text(), "Go forward 10 meters.");
}

TEST_F(AsrIntegrationTest, RecognizeStreamsEventsAndFinals) {
  auto wav = audio::read_wav_file(kSpeech + "/cards_005.wav");
  ASSERT_TRUE(wav.ok());
  std::vector<float> a = wav->mono();
  a.resize(a.size() + 16000, 0.0f);  // the speaker stops: 1 s of silence
  auto res = stream(pcm16(16000), [&](transport::CallHandle& h) {
    send_audio(h, a, 1600);
    h.close_send();
  });
  ASSERT_TRUE(res.status.is_ok()) << res.status.to_string();
  int starts = 0, ends = 0;
  std::string finals;
  for (const auto& r : res.replies) {
    starts += r.speech_event() == v1::RecognizeResponse::START_OF_SPEECH;
    ends += r.speech_event() == v1::RecognizeResponse::END_OF_SPEECH;
    for (const auto& x : r.results()) {
      if (x.is_final()) finals += (finals.empty() ? "" : " ") + x.alternatives(0).transcript();
    }
  }
  EXPECT_GE(starts, 1);
  EXPECT_EQ(starts, ends);
  EXPECT_NE(finals.find("spades"), std::string::npos) << finals;
  EXPECT_NE(finals.find("hearts"), std::string::npos) << finals;
}

TEST_F(AsrIntegrationTest, StreamErrors) {
  // No config first.
  auto bad = stream(v1::RecognitionConfig(), [](transport::CallHandle& h) { h.close_send(); });
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument) << bad.status.to_string();
  // A stream that never sends audio ends after asr.idle_timeout (1.5 s here).
  auto idle = stream(pcm16(16000), [](transport::CallHandle&) {});
  EXPECT_EQ(idle.status.code(), StatusCode::kDeadlineExceeded) << idle.status.to_string();
  EXPECT_NE(idle.status.message().find("no message from the client for 1500 ms"), std::string::npos) << idle.status.to_string();
  // An odd byte count.
  auto odd = stream(pcm16(16000), [](transport::CallHandle& h) {
    v1::RecognizeRequest r;
    r.mutable_audio()->set_data(std::string(3, '\0'));
    v1::Envelope e;
    e.mutable_payload()->PackFrom(r);
    h.send(std::move(e));
  });
  EXPECT_EQ(odd.status.code(), StatusCode::kInvalidArgument) << odd.status.to_string();
  EXPECT_NE(odd.status.message().find("3 bytes"), std::string::npos);
}

TEST_F(AsrIntegrationTest, ClientThatGoesAwayFreesItsStream) {
  auto wav = audio::read_wav_file(kSpeech + "/jfk.wav");
  ASSERT_TRUE(wav.ok());
  const std::vector<float> a = wav->mono();
  auto res = stream(pcm16(16000), [&](transport::CallHandle& h) {
    send_audio(h, std::span<const float>(a).first(32000), 1600);
    std::this_thread::sleep_for(300ms);
    h.cancel();
  });
  EXPECT_EQ(res.status.code(), StatusCode::kCancelled) << res.status.to_string();
  // The server notices and ends the stream: the gauge returns to 0.
  bool freed = false;
  for (int i = 0; i < 100 && !freed; ++i) {
    freed = metrics().find("parley_asr_active_streams 0") != std::string::npos;
    if (!freed) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(freed) << metrics();
  const std::string m = metrics();
  EXPECT_NE(m.find("parley_asr_real_time_factor_bucket"), std::string::npos);
  EXPECT_NE(m.find("parley_asr_streams_ended_total{reason=\"cancelled\"}"), std::string::npos) << m;
}

}  // namespace
}  // namespace parley
