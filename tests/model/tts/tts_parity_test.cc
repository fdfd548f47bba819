// The Piper voice on Parley's ONNX runtime against ONNX Runtime (tools/reference, venv tts) on the
// same phoneme ids with noise scales 0 (deterministic): same length, max |diff| <= 1e-3 of full
// scale. Why: "checked against a reference implementation of the same model before any speed is
// claimed". Depends on services/tts, the voice, parley-phonemize, refenv-tts.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "services/tts/phonemizer_client.h"
#include "services/tts/piper_voice.h"
#include "services/tts/text_normalizer.h"
#include "tests/model/tts/tts_test_support.h"

namespace parley::tts {
namespace {

TEST(TtsParity, MatchesOnnxRuntimeWithNoiseOff) {
  if (!testing::voice_present()) GTEST_SKIP() << "voice absent: " << testing::voice_path() << " (tools/models/fetch --for tests)";
  const std::string py = testing::reference_python();
  if (py.empty()) GTEST_SKIP() << "reference venv refenv-tts absent (run tools/reference/setup tts)";
  auto voice = PiperVoice::load(testing::voice_path());
  ASSERT_TRUE(voice.ok()) << voice.status().to_string();
  PhonemizerOptions po;
  po.program = testing::phonemizer_path();
  PhonemizerClient ph(po);
  const std::vector<std::string> sentences = {
      "Your table for 4 at 19:30 on 2026-12-05 costs €20.",
      "Good evening, how can I help you?",
      "The quick brown fox jumps over the lazy dog, twice.",
  };
  std::vector<std::vector<std::int64_t>> ids;
  for (const std::string& s : sentences) {
    auto p = ph.phonemize(normalize_for_speech(s.substr(0, s.size() - 1)));
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    ids.push_back(phonemes_to_ids((*voice)->config(), *p + s.back()));
  }
  const std::string dir = ::testing::TempDir() + "/tts_parity_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/ids.json");
    f << "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      f << (i ? ",[" : "[");
      for (std::size_t j = 0; j < ids[i].size(); ++j) f << (j ? "," : "") << ids[i][j];
      f << "]";
    }
    f << "]";
  }
  auto ref = testing::run_reference(py, "ort --model '" + testing::voice_path() + "' --ids '" + dir + "/ids.json' --out '" + dir + "/ort'");
  ASSERT_TRUE(ref.ok()) << ref.status().to_string();
  Synthesizer synth(*voice);
  SynthesisParams zero{0.0f, 1.0f, 0.0f};
  double worst = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto ours = synth.synthesize(ids[i], zero);
    ASSERT_TRUE(ours.ok()) << ours.status().to_string();
    std::ifstream f(dir + "/ort." + std::to_string(i) + ".f32", std::ios::binary);
    std::vector<float> want((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<float> w(want.size() / sizeof(float) * 0);
    {
      std::ifstream g(dir + "/ort." + std::to_string(i) + ".f32", std::ios::binary | std::ios::ate);
      const auto n = static_cast<std::size_t>(g.tellg()) / sizeof(float);
      g.seekg(0);
      w.resize(n);
      g.read(reinterpret_cast<char*>(w.data()), static_cast<std::streamsize>(n * sizeof(float)));
    }
    ASSERT_EQ(ours->size(), w.size()) << "sentence " << i << ": different length (durations differ)";
    double max_diff = 0, sq = 0, sig = 0, peak = 0;
    for (std::size_t k = 0; k < w.size(); ++k) {
      const double d = std::fabs(static_cast<double>((*ours)[k]) - w[k]);
      max_diff = std::max(max_diff, d);
      sq += d * d;
      sig += static_cast<double>(w[k]) * w[k];
      peak = std::max(peak, std::fabs(static_cast<double>(w[k])));
    }
    const double snr = 10 * std::log10(sig / std::max(sq, 1e-30));
    std::printf("parity sentence %zu: %zu samples (%.2f s), max |diff| %.2e (peak %.3f), SNR %.1f dB\n", i, w.size(),
                static_cast<double>(w.size()) / 22050.0, max_diff, peak, snr);
    worst = std::max(worst, max_diff);
    EXPECT_LE(max_diff, 1e-3) << "sentence " << i;
    EXPECT_GE(snr, 60.0) << "sentence " << i;
  }
  std::printf("parity: worst max |diff| %.2e over %zu sentences\n", worst, ids.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::tts
