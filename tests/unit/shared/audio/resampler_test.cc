// Tests for shared/audio/resampler.h: accuracy on tones, alias rejection, streaming equals
// one-shot bit for bit, output counts, and bad rates.
// Why: ASR accuracy depends on clean 16 kHz input from 8-48 kHz clients; TTS output on clean
// conversion to the client's rate. Depends on shared/audio, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shared/audio/resampler.h"

namespace parley::audio {
namespace {

std::vector<float> tone(double freq, int rate, std::int64_t n, double amp = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(amp * std::sin(2 * M_PI * freq * i / rate));
  return x;
}

double rms(const std::vector<float>& x, std::size_t from, std::size_t to) {
  double s = 0;
  for (std::size_t i = from; i < to; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s / static_cast<double>(to - from));
}

TEST(Resampler, ToneAccuracyCommonRatios) {
  struct Case {
    int in, out;
    double freq;
  };
  for (Case c : {Case{44100, 16000, 1000}, Case{16000, 22050, 1000}, Case{8000, 16000, 440}, Case{48000, 16000, 3000},
                 Case{16000, 44100, 5000}, Case{22050, 16000, 2500}, Case{11025, 16000, 1000}}) {
    const std::int64_t n = c.in;  // one second
    auto out = Resampler::resample(tone(c.freq, c.in, n), c.in, c.out);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    ASSERT_EQ(static_cast<std::int64_t>(out->size()), (n * c.out + c.in - 1) / c.in) << c.in << "->" << c.out;
    // Away from the edges (the zero padding) the output is the same tone at the new rate.
    double max_err = 0;
    for (std::size_t i = 200; i + 200 < out->size(); ++i) {
      const double want = 0.5 * std::sin(2 * M_PI * c.freq * static_cast<double>(i) / c.out);
      max_err = std::max(max_err, std::abs((*out)[i] - want));
    }
    EXPECT_LT(max_err, 1e-3) << c.in << "->" << c.out << " at " << c.freq << " Hz";
  }
}

TEST(Resampler, RejectsAliases) {
  // 10 kHz and 12 kHz at 44.1 kHz are above the 8 kHz Nyquist of 16 kHz: they must vanish.
  for (double f : {9000.0, 10000.0, 12000.0, 20000.0}) {
    auto out = Resampler::resample(tone(f, 44100, 44100), 44100, 16000);
    ASSERT_TRUE(out.ok());
    const double level = rms(*out, 500, out->size() - 500) / (0.5 / std::sqrt(2.0));
    EXPECT_LT(20 * std::log10(level + 1e-12), -70.0) << f << " Hz";
  }
  // The pass band is kept: up to 6 kHz within 0.05 dB; 7 kHz (in the transition band that ends
  // at 8 kHz) within 1.5 dB.
  for (auto [f, tol] : {std::pair{1000.0, 0.05}, std::pair{6000.0, 0.05}, std::pair{7000.0, 1.5}}) {
    auto out = Resampler::resample(tone(f, 44100, 44100), 44100, 16000);
    ASSERT_TRUE(out.ok());
    const double level = rms(*out, 500, out->size() - 500) / (0.5 / std::sqrt(2.0));
    EXPECT_NEAR(20 * std::log10(level), 0.0, tol) << f << " Hz";
  }
}

TEST(Resampler, StreamingEqualsOneShotBitForBit) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(20011);
  for (float& v : x) v = u(rng);
  for (auto [in, out_rate] : {std::pair{44100, 16000}, std::pair{16000, 22050}, std::pair{8000, 48000}, std::pair{16000, 16000}}) {
    auto whole = Resampler::resample(x, in, out_rate);
    ASSERT_TRUE(whole.ok());
    auto rs = Resampler::create(in, out_rate);
    ASSERT_TRUE(rs.ok());
    for (int round = 0; round < 2; ++round) {  // twice: flush() resets for the next stream
      std::vector<float> streamed;
      std::size_t pos = 0;
      std::uniform_int_distribution<int> chunk(0, 700);
      while (pos < x.size()) {
        const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(chunk(rng)), x.size() - pos);
        rs->process(std::span<const float>(x).subspan(pos, n), streamed);
        pos += n;
      }
      rs->flush(streamed);
      EXPECT_EQ(streamed, *whole) << in << "->" << out_rate << " round " << round;
    }
  }
}

TEST(Resampler, DcGainAndShortInputs) {
  auto rs = Resampler::resample(std::vector<float>(1000, 0.25f), 44100, 16000);
  ASSERT_TRUE(rs.ok());
  for (std::size_t i = 60; i + 60 < rs->size(); ++i) EXPECT_NEAR((*rs)[i], 0.25f, 1e-5) << i;
  auto empty = Resampler::resample({}, 44100, 16000);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto one = Resampler::resample(std::vector<float>{1.0f}, 8000, 16000);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 2u);
}

TEST(Resampler, BadRates) {
  EXPECT_FALSE(Resampler::create(0, 16000).ok());
  EXPECT_FALSE(Resampler::create(16000, -1).ok());
  auto r = Resampler::create(16000, 44101);  // 44101 phases > 16384
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("phases"), std::string::npos);
  ResamplerOptions o;
  o.rolloff = 0.0;
  EXPECT_FALSE(Resampler::create(16000, 8000, o).ok());
}

}  // namespace
}  // namespace parley::audio
