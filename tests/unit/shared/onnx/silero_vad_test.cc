// Silero VAD v6.2 (../shared/testdata/models/silero_vad/silero_vad_16k_op15.onnx: Conv, LSTM,
// nested If, reflect Pad) on our ONNX runtime against the official JIT model's per-chunk speech
// probabilities (p_onnx_v6_jit in ../shared/testdata/vad/*.vad_probs.csv; same weights).
// Why: the ASR engine runs Silero (and the end-of-turn model) on this runtime; 1e-4 is the bar.
// Depends on shared/onnx, shared/audio (WAV), the test data (read in place).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shared/audio/wav.h"
#include "shared/onnx/model.h"

namespace parley::onnx {
namespace {

const std::string kData = PARLEY_TESTDATA;

std::vector<float> read_wav_16k(const std::string& path) {
  auto wav = audio::read_wav_file(path);
  if (!wav.ok() || wav->sample_rate != 16000) return {};
  return wav->mono();
}

std::vector<float> read_column(const std::string& path, const std::string& column) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  int col = -1, i = 0;
  std::stringstream hs(line);
  for (std::string h; std::getline(hs, h, ','); ++i) {
    if (h == column) col = i;
  }
  std::vector<float> out;
  while (std::getline(f, line)) {
    std::stringstream ls(line);
    std::string cell;
    for (int c = 0; std::getline(ls, cell, ','); ++c) {
      if (c == col) out.push_back(std::stof(cell));
    }
  }
  return out;
}

void check_clip(const std::string& wav, const std::string& csv, std::size_t max_chunks) {
  const std::string model_path = kData + "/models/silero_vad/silero_vad_16k_op15.onnx";
  if (!std::ifstream(model_path)) GTEST_SKIP() << "test data not present: " << model_path;
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  Session session(*model);
  const std::vector<float> audio = read_wav_16k(kData + "/" + wav);
  const std::vector<float> want = read_column(kData + "/" + csv, "p_onnx_v6_jit");
  ASSERT_FALSE(audio.empty());
  ASSERT_FALSE(want.empty());
  std::vector<float> state(2 * 128, 0.0f), context(64, 0.0f);
  double worst = 0;
  const std::size_t chunks = std::min(want.size(), max_chunks);
  for (std::size_t c = 0; c < chunks; ++c) {
    std::vector<float> window(context);
    window.insert(window.end(), audio.begin() + static_cast<std::ptrdiff_t>(c * 512),
                  audio.begin() + static_cast<std::ptrdiff_t>(c * 512 + 512));
    auto in = Tensor::from_vector<float>({1, 576}, window);
    auto st = Tensor::from_vector<float>({2, 1, 128}, state);
    auto sr = Tensor::from_vector<std::int64_t>({}, {16000});
    auto out = session.run({{"input", *in}, {"state", *st}, {"sr", *sr}});
    ASSERT_TRUE(out.ok()) << "chunk " << c << ": " << out.status().to_string();
    const float p = (*out)[0].data<float>()[0];
    worst = std::max(worst, std::fabs(static_cast<double>(p) - want[c]));
    ASSERT_NEAR(p, want[c], 1e-4) << "chunk " << c;
    state = (*out)[1].to_vector<float>();
    context.assign(window.end() - 64, window.end());
  }
  std::printf("silero %s: %zu chunks, max |dp| = %.2e\n", wav.c_str(), chunks, worst);
}

TEST(SileroVad, MatchesTheJitOnJfk) { check_clip("speech/jfk.wav", "vad/jfk.vad_probs.csv", 1000); }

TEST(SileroVad, MatchesTheJitOnTheSileroTestClip) {
  // The first 20 s (625 chunks) keep the test near a second; speech and pauses both occur there.
  check_clip("vad/silero_test.wav", "vad/silero_test.vad_probs.csv", 625);
}

}  // namespace
}  // namespace parley::onnx
