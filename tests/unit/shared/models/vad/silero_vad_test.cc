// Silero VAD (shared/models/vad) against the reference probabilities in ../shared/testdata/vad:
// every 512-sample chunk of jfk.wav and silero_test.wav within 1e-4 of p_safetensors_16k, fed in
// odd-sized pieces through VadStream; bad weight files are a Status.
// Depends on shared/models/vad, shared/audio, ../shared/testdata (the same weights ship there).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shared/audio/wav.h"
#include "shared/models/vad/silero_vad.h"

namespace parley::vad {
namespace {

const std::string kData = PARLEY_TESTDATA;

std::vector<float> reference_column(const std::string& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  std::vector<float> p;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell;
    for (int i = 0; i < 4 && std::getline(ss, cell, ','); ++i) {
      if (i == 3) p.push_back(std::stof(cell));
    }
  }
  return p;
}

void check_clip(const std::string& wav_path, const std::string& csv) {
  if (!std::filesystem::exists(wav_path)) GTEST_SKIP() << "no shared testdata: " << wav_path;
  auto vad = SileroVad::load(kData + "/models/silero_vad/silero_vad_16k.safetensors");
  ASSERT_TRUE(vad.ok()) << vad.status().to_string();
  auto wav = audio::read_wav_file(wav_path);
  ASSERT_TRUE(wav.ok()) << wav.status().to_string();
  const std::vector<float> want = reference_column(csv);
  ASSERT_EQ(static_cast<std::int64_t>(want.size()), wav->frames() / kChunk);
  VadStream stream(*vad);
  std::vector<float> got;
  const auto mono = wav->mono();
  std::size_t pos = 0, piece = 1;
  while (pos < mono.size()) {  // pieces of 1, 3, 5, ... samples up to 1001, then again
    const std::size_t n = std::min(piece, mono.size() - pos);
    stream.push(std::span<const float>(mono).subspan(pos, n), [&](std::int64_t i, float p) {
      EXPECT_EQ(i, static_cast<std::int64_t>(got.size()));
      got.push_back(p);
    });
    pos += n;
    piece = piece >= 1001 ? 1 : piece + 2;
  }
  ASSERT_EQ(got.size(), want.size());
  float worst = 0.0f;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float e = std::abs(got[i] - want[i]);
    if (e > worst) {
      worst = e;
      worst_at = i;
    }
  }
  // The CSV has 6 decimals: 1e-4 leaves room for its rounding and our float32 arithmetic.
  EXPECT_LT(worst, 1e-4f) << "chunk " << worst_at << ": " << got[worst_at] << " vs " << want[worst_at];
  ::testing::Test::RecordProperty("max_abs_error", std::to_string(worst));
  std::printf("%s: %zu chunks, max |p - reference| = %.2e\n", wav_path.c_str(), got.size(), static_cast<double>(worst));
}

TEST(SileroVad, MatchesReferenceOnJfk) {
  check_clip(kData + "/speech/jfk.wav", kData + "/vad/jfk.vad_probs.csv");
}

TEST(SileroVad, MatchesReferenceOnSileroTestRecording) {
  check_clip(kData + "/vad/silero_test.wav", kData + "/vad/silero_test.vad_probs.csv");
}

TEST(SileroVad, BadFiles) {
  EXPECT_EQ(SileroVad::load("/nonexistent.safetensors").status().code(), StatusCode::kNotFound);
  const std::string wav = kData + "/speech/jfk.wav";
  if (std::filesystem::exists(wav)) {
    auto r = SileroVad::load(wav);  // not a safetensors file
    EXPECT_FALSE(r.ok());
  }
}

}  // namespace
}  // namespace parley::vad
