// Model test (label `model`): services/asr RecognizeSession on the real models (Whisper tiny.en
// INT8 + Silero VAD) without a transport: bad input is a clear Status; jfk.wav resampled to
// 44.1 kHz and streamed in 100 ms chunks comes out as the right text with balanced speech events
// and partials that only grow; and the endpointing figures on the shared clips (each followed by
// 1.5 s of silence, one turn per clip): false endpoints and decision latency per policy.
// Depends on services/asr (parley_asr_lib), shared/audio, the fetched models.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/asr/recognize_session.h"
#include "shared/audio/pcm.h"
#include "shared/audio/resampler.h"
#include "shared/audio/wav.h"
#include "shared/metrics/registry.h"
#include "tests/model/asr/asr_support.h"

namespace parley::asr {
namespace {

const std::string kSpeech = std::string(PARLEY_TESTDATA) + "/speech";

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = asr_testing::whisper_dir();
    const std::string vad = model_root() + "/vad-silero/silero_vad_16k.safetensors";
    if (!asr_testing::whisper_present(dir) || !std::filesystem::exists(vad)) {
      skip_ = "models absent (run tools/models/fetch --for tests)";
      return;
    }
    if (!std::filesystem::exists(kSpeech)) {
      skip_ = "no shared testdata at " + kSpeech;
      return;
    }
    EngineOptions o;
    o.model_dir = dir;
    o.vad_path = vad;
    auto e = AsrEngine::create(o, nullptr);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    engine_ = e->release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  static v1::RecognitionConfig config(int rate, bool interim = true, v1::AudioFormat::Encoding enc = v1::AudioFormat::PCM16) {
    v1::RecognitionConfig c;
    c.mutable_format()->set_encoding(enc);
    c.mutable_format()->set_sample_rate_hz(rate);
    c.mutable_format()->set_channels(1);
    c.set_interim_results(interim);
    return c;
  }
  static v1::AudioChunk pcm16(std::span<const float> s) {
    v1::AudioChunk c;
    std::string b;
    audio::encode_pcm16_le(s, b);
    c.set_data(std::move(b));
    return c;
  }
  static std::vector<float> clip(const std::string& name) {
    auto w = audio::read_wav_file(kSpeech + "/" + name + ".wav");
    EXPECT_TRUE(w.ok());
    return w.ok() ? w->mono() : std::vector<float>{};
  }
  static std::string truth(const std::string& name) {
    std::ifstream in(kSpeech + "/" + name + ".txt");
    std::string t;
    std::getline(in, t);
    return t;
  }
  static inline AsrEngine* engine_ = nullptr;
  static inline std::string skip_;
};

TEST_F(SessionTest, BadInputIsAClearStatus) {
  std::vector<v1::RecognizeResponse> out;
  {
    RecognizeSession s(*engine_, {}, nullptr, nullptr);
    auto st = s.audio(pcm16(std::vector<float>(160, 0.0f)), out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("first message must carry config"), std::string::npos) << st.to_string();
  }
  {
    RecognizeSession s(*engine_, {}, nullptr, nullptr);
    auto st = s.configure(config(4000));
    EXPECT_NE(st.message().find("4000 Hz is outside [8000, 48000]"), std::string::npos) << st.to_string();
    EXPECT_NE(s.configure(config(16000, true, v1::AudioFormat::ENCODING_UNSPECIFIED)).message().find("PCM16 or FLOAT32"), std::string::npos);
    auto stereo = config(16000);
    stereo.mutable_format()->set_channels(2);
    EXPECT_NE(s.configure(stereo).message().find("mono"), std::string::npos);
  }
  {
    RecognizeSession s(*engine_, {}, nullptr, nullptr);
    ASSERT_TRUE(s.configure(config(16000, true, v1::AudioFormat::FLOAT32)).is_ok());
    v1::AudioChunk c;
    std::vector<float> x = {0.1f, std::numeric_limits<float>::quiet_NaN()};
    std::string b;
    audio::encode_f32_le(x, b);
    c.set_data(b);
    auto st = s.audio(c, out);
    EXPECT_NE(st.message().find("sample 1 of the chunk is NaN"), std::string::npos) << st.to_string();
    c.set_data(b.substr(0, 7));
    EXPECT_NE(s.audio(c, out).message().find("7 bytes"), std::string::npos);
    v1::AudioChunk changed;
    changed.mutable_format()->set_encoding(v1::AudioFormat::PCM16);
    EXPECT_NE(s.audio(changed, out).message().find("changed mid-stream"), std::string::npos);
  }
  {
    SessionOptions o;
    o.max_chunk_bytes = 1000;
    o.max_stream_seconds = 1.0;
    RecognizeSession s(*engine_, o, nullptr, nullptr);
    ASSERT_TRUE(s.configure(config(16000)).is_ok());
    EXPECT_NE(s.audio(pcm16(std::vector<float>(600, 0.0f)), out).message().find("over the limit of 1000"), std::string::npos);
    Status st;
    for (int i = 0; i < 40 && st.is_ok(); ++i) st = s.audio(pcm16(std::vector<float>(480, 0.0f)), out);
    EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.to_string();
  }
}

TEST_F(SessionTest, StreamsJfkAt44kHz) {
  PunctuationTurnEnd punct;
  SessionOptions o;
  o.endpoint.max_silence_ms = 1500;  // one turn: JFK's ~1 s pauses stay inside it
  o.endpoint.min_silence_ms = 1500;
  RecognizeSession s(*engine_, o, nullptr, &punct);
  ASSERT_TRUE(s.configure(config(44100)).is_ok());
  auto a44 = audio::Resampler::resample(clip("jfk"), 16000, 44100);
  ASSERT_TRUE(a44.ok());
  std::vector<v1::RecognizeResponse> out;
  for (std::size_t pos = 0; pos < a44->size(); pos += 4410) {
    const std::size_t n = std::min<std::size_t>(4410, a44->size() - pos);
    ASSERT_TRUE(s.audio(pcm16(std::span<const float>(*a44).subspan(pos, n)), out).is_ok());
  }
  ASSERT_TRUE(s.finish(out).is_ok());
  int starts = 0, ends = 0;
  std::string finals, last_partial;
  for (const auto& r : out) {
    starts += r.speech_event() == v1::RecognizeResponse::START_OF_SPEECH;
    ends += r.speech_event() == v1::RecognizeResponse::END_OF_SPEECH;
    for (const auto& res : r.results()) {
      const std::string t = res.alternatives(0).transcript();
      if (res.is_final()) {
        finals += (finals.empty() ? "" : " ") + t;
        last_partial.clear();
        EXPECT_GT(res.alternatives(0).words_size(), 0);
      } else {
        // Local agreement: a partial extends the previous one, never rewrites it.
        EXPECT_EQ(t.rfind(last_partial, 0), 0u) << "'" << t << "' does not extend '" << last_partial << "'";
        last_partial = t;
      }
    }
  }
  EXPECT_EQ(starts, ends);
  EXPECT_GE(starts, 1);
  const auto [e, n] = asr_testing::word_errors(truth("jfk"), finals);
  std::printf("jfk @44.1 kHz streamed: %s (WER %.1f%%, %d utterances)\n", finals.c_str(), 100.0 * e / n, starts);
  EXPECT_LE(e, 1) << finals;
}

// Endpointing on the shared clips: each clip is one turn followed by 1.5 s of silence. A false
// endpoint is an END_OF_SPEECH before the last one; latency is audio time from the last speech
// chunk to the decision (the final's compute comes after and is measured by the benchmark).
TEST_F(SessionTest, EndpointingFigures) {
  struct Policy {
    const char* name;
    int min_ms, max_ms;
    bool punct;
  };
  const Policy policies[] = {{"silence 500 ms", 500, 500, false},
                             {"silence 800 ms", 800, 800, false},
                             {"punctuation at 224 ms, cap 800 ms (default)", 224, 800, true}};
  PunctuationTurnEnd punct;
  for (const Policy& p : policies) {
    int false_endpoints = 0, turns = 0, fast = 0;
    std::vector<int> latencies;
    for (const auto& name : asr_testing::speech_clips()) {
      SessionOptions o;
      o.endpoint.min_silence_ms = p.min_ms;
      o.endpoint.max_silence_ms = p.max_ms;
      RecognizeSession s(*engine_, o, nullptr, p.punct ? &punct : nullptr);
      ASSERT_TRUE(s.configure(config(16000, /*interim=*/false)).is_ok());
      std::vector<float> a = clip(name);
      a.resize(a.size() + 24000, 0.0f);
      std::vector<v1::RecognizeResponse> out;
      for (std::size_t pos = 0; pos < a.size(); pos += 1600) {
        ASSERT_TRUE(s.audio(pcm16(std::span<const float>(a).subspan(pos, std::min<std::size_t>(1600, a.size() - pos))), out).is_ok());
      }
      const auto& lat = s.endpoint_latencies_ms();
      ++turns;
      if (!lat.empty()) {
        false_endpoints += static_cast<int>(lat.size()) - 1;
        latencies.push_back(lat.back());
        fast += lat.back() < 300;
      }
    }
    std::sort(latencies.begin(), latencies.end());
    std::printf("endpointing [%s]: %d turns, %d false endpoints, end-of-turn latency (audio ms after speech) p50 %d max %d, "
                "%d/%d under 300 ms\n",
                p.name, turns, false_endpoints, latencies.empty() ? -1 : latencies[latencies.size() / 2],
                latencies.empty() ? -1 : latencies.back(), fast, turns);
    EXPECT_EQ(static_cast<int>(latencies.size()), turns) << p.name << ": a turn never ended";
    // Silence counts chunks under the silence threshold; chunks between the thresholds add a little.
    for (int l : latencies) EXPECT_LE(l, p.max_ms + 128) << p.name;
  }
}

}  // namespace
}  // namespace parley::asr
