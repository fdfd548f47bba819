// The fake recognizer the voice tests rely on: keyed by the pitch of what it hears, timed in
// audio milliseconds, and the same however the audio is chunked.
#include "services/dialog/testing/fake_speech.h"

#include <gtest/gtest.h>

namespace parley::dialog::testing {
namespace {

std::vector<v1::RecognizeResponse> run(ToneRecognizer& r, const std::string& audio, std::size_t chunk) {
  std::vector<v1::RecognizeResponse> out;
  for (std::size_t off = 0; off < audio.size(); off += chunk) {
    for (auto& e : r.feed(std::string_view(audio).substr(off, chunk))) out.push_back(std::move(e));
  }
  for (auto& e : r.flush()) out.push_back(std::move(e));
  return out;
}

std::string describe(const std::vector<v1::RecognizeResponse>& events) {
  std::string s;
  for (const auto& e : events) {
    if (e.speech_event() == v1::RecognizeResponse::START_OF_SPEECH) s += "[start " + std::to_string(e.results(0).audio_start_ms()) + "]";
    for (const auto& r : e.results()) {
      if (r.alternatives_size() == 0) continue;
      s += r.is_final() ? "[final '" + r.alternatives(0).transcript() + "' " + std::to_string(r.audio_start_ms()) + "-" +
                              std::to_string(r.audio_end_ms()) + "]"
                        : "[partial '" + r.alternatives(0).transcript() + "']";
    }
    if (e.speech_event() == v1::RecognizeResponse::END_OF_SPEECH) s += "[end]";
  }
  return s;
}

TEST(ToneRecognizer, PitchPicksTheTranscriptAndAudioTimesAreExact) {
  ToneScript script{{{440, "book a table"}, {660, "mhm"}}, ""};
  const std::string audio = silence_pcm16(16000, 200) + tone_pcm16(16000, 440, 1000) + silence_pcm16(16000, 500) +
                            tone_pcm16(16000, 660, 400) + silence_pcm16(16000, 400) + tone_pcm16(16000, 1234, 300);
  ToneRecognizer a(16000, script), b(16000, script);
  const auto whole = describe(run(a, audio, audio.size()));
  const auto chunked = describe(run(b, audio, 322));
  EXPECT_EQ(whole, chunked);
  EXPECT_EQ(whole,
            "[start 200][partial 'book'][partial 'book a'][partial 'book a table'][final 'book a table' 200-1200][end]"
            "[start 1700][partial 'mhm'][final 'mhm' 1700-2100][end]"
            "[start 2500][final '' 2500-2800][end]");
}

TEST(ToneRecognizer, WorksAtOtherRates) {
  ToneScript script{{{300, "hello"}}, "?"};
  ToneRecognizer r(48000, script);
  EXPECT_EQ(describe(run(r, tone_pcm16(48000, 300, 500) + silence_pcm16(48000, 400), 4800)),
            "[start 0][partial 'hello'][final 'hello' 0-500][end]");
}

}  // namespace
}  // namespace parley::dialog::testing
