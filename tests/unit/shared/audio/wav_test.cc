// Tests for shared/audio/wav.h: every sample format, the shared speech clips' header quirks,
// truncation at every byte, corrupt header fields, and the PCM16 writer.
// Why: WAV files come from users; a bad one must be a clear Status, never a crash or a wild read.
// Depends on shared/audio, GoogleTest, ../shared/testdata/speech (skipped when absent).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/audio/wav.h"

namespace parley::audio {
namespace {

void put16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, static_cast<std::uint16_t>(v & 0xffff));
  put16(s, static_cast<std::uint16_t>(v >> 16));
}
void set32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// A WAV image with the given fmt fields and raw data bytes, and optional extra chunks before fmt.
std::string make_wav(std::uint16_t tag, int channels, int rate, int bits, const std::string& data,
                     const std::string& extra_chunks = "", bool extensible = false) {
  std::string fmt;
  const int block = channels * bits / 8;
  put16(fmt, extensible ? 0xFFFE : tag);
  put16(fmt, static_cast<std::uint16_t>(channels));
  put32(fmt, static_cast<std::uint32_t>(rate));
  put32(fmt, static_cast<std::uint32_t>(rate * block));
  put16(fmt, static_cast<std::uint16_t>(block));
  put16(fmt, static_cast<std::uint16_t>(bits));
  if (extensible) {
    put16(fmt, 22);
    put16(fmt, static_cast<std::uint16_t>(bits));
    put32(fmt, channels == 2 ? 3 : 4);
    put16(fmt, tag);
    const unsigned char tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
    fmt.append(reinterpret_cast<const char*>(tail), 14);
  }
  std::string body = "WAVE" + extra_chunks + "fmt ";
  put32(body, static_cast<std::uint32_t>(fmt.size()));
  body += fmt;
  body += "data";
  put32(body, static_cast<std::uint32_t>(data.size()));
  body += data;
  if (data.size() % 2) body += '\0';
  std::string out = "RIFF";
  put32(out, static_cast<std::uint32_t>(body.size()));
  return out + body;
}

std::string testdata() { return PARLEY_TESTDATA; }

TEST(Wav, Pcm16MonoRoundTrip) {
  std::vector<float> x = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f, -32768.0f / 32768.0f};
  auto bytes = encode_wav_pcm16(x, 16000);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(bytes->size(), 44u + 2 * x.size());
  auto wav = parse_wav(*bytes);
  ASSERT_TRUE(wav.ok()) << wav.status().to_string();
  EXPECT_EQ(wav->sample_rate, 16000);
  EXPECT_EQ(wav->channels, 1);
  EXPECT_EQ(wav->format, SampleFormat::kPcm16);
  ASSERT_EQ(wav->samples.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(wav->samples[i], std::min(x[i], 32767.0f / 32768.0f), 1e-6) << i;
}

TEST(Wav, StereoDownmix) {
  std::vector<float> x = {0.5f, -0.5f, 0.25f, 0.75f};
  auto bytes = encode_wav_pcm16(x, 44100, 2);
  ASSERT_TRUE(bytes.ok());
  auto wav = parse_wav(*bytes);
  ASSERT_TRUE(wav.ok()) << wav.status().to_string();
  EXPECT_EQ(wav->channels, 2);
  EXPECT_EQ(wav->frames(), 2);
  auto mono = wav->mono();
  ASSERT_EQ(mono.size(), 2u);
  EXPECT_NEAR(mono[0], 0.0f, 1e-6);
  EXPECT_NEAR(mono[1], 0.5f, 1e-4);
}

TEST(Wav, Pcm24Pcm32Float32Float64U8) {
  {  // 24-bit: -2^23, 2^22, -1
    std::string d;
    for (std::int32_t v : {-8388608, 4194304, -1}) {
      d += static_cast<char>(v & 0xff);
      d += static_cast<char>((v >> 8) & 0xff);
      d += static_cast<char>((v >> 16) & 0xff);
    }
    auto wav = parse_wav(make_wav(1, 1, 48000, 24, d));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_EQ(wav->format, SampleFormat::kPcm24);
    ASSERT_EQ(wav->samples.size(), 3u);
    EXPECT_FLOAT_EQ(wav->samples[0], -1.0f);
    EXPECT_FLOAT_EQ(wav->samples[1], 0.5f);
    EXPECT_FLOAT_EQ(wav->samples[2], -1.0f / 8388608.0f);
  }
  {  // 32-bit int
    std::string d;
    put32(d, 0x40000000u);
    put32(d, 0x80000000u);
    auto wav = parse_wav(make_wav(1, 1, 8000, 32, d));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_FLOAT_EQ(wav->samples[0], 0.5f);
    EXPECT_FLOAT_EQ(wav->samples[1], -1.0f);
  }
  {  // float32, extensible header, stereo
    std::string d;
    for (float f : {0.125f, -0.75f, 1.5f, 0.0f}) d.append(reinterpret_cast<const char*>(&f), 4);
    auto wav = parse_wav(make_wav(3, 2, 22050, 32, d, "", /*extensible=*/true));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_EQ(wav->format, SampleFormat::kFloat32);
    EXPECT_EQ(wav->channels, 2);
    EXPECT_EQ(wav->samples, (std::vector<float>{0.125f, -0.75f, 1.5f, 0.0f}));
  }
  {  // float64
    std::string d;
    for (double f : {0.25, -0.5}) d.append(reinterpret_cast<const char*>(&f), 8);
    auto wav = parse_wav(make_wav(3, 1, 16000, 64, d));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_EQ(wav->samples, (std::vector<float>{0.25f, -0.5f}));
  }
  {  // unsigned 8-bit, odd data length (pad byte)
    auto wav = parse_wav(make_wav(1, 1, 11025, 8, std::string("\x80\x00\xc0", 3)));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_EQ(wav->samples, (std::vector<float>{0.0f, -1.0f, 0.5f}));
  }
  {  // PCM extensible 16-bit
    std::string d;
    put16(d, 0x4000);
    auto wav = parse_wav(make_wav(1, 1, 16000, 16, d, "", true));
    ASSERT_TRUE(wav.ok()) << wav.status().to_string();
    EXPECT_EQ(wav->samples, (std::vector<float>{0.5f}));
  }
}

TEST(Wav, SkipsUnknownChunksWithPadding) {
  std::string list = "LIST";
  put32(list, 5);
  list += std::string("INFOx", 5);
  list += '\0';  // pad byte of the odd-sized chunk
  std::string d;
  put16(d, 0x2000);
  auto wav = parse_wav(make_wav(1, 1, 16000, 16, d, list));
  ASSERT_TRUE(wav.ok()) << wav.status().to_string();
  EXPECT_EQ(wav->samples, (std::vector<float>{0.25f}));
}

TEST(Wav, SharedSpeechClips) {
  const std::string dir = testdata() + "/speech";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no shared testdata at " << dir;
  struct Clip {
    const char* name;
    std::int64_t samples;
  };
  // Sample counts from speech/MANIFEST.md; jfk has a LIST chunk, digits an 18-byte fmt + fact.
  for (Clip c : {Clip{"jfk.wav", 176000}, Clip{"digits_10001-90210-01803.wav", 132928}, Clip{"goforward.wav", 44580},
                 Clip{"cards_001.wav", 17526}}) {
    auto wav = read_wav_file(dir + "/" + c.name);
    ASSERT_TRUE(wav.ok()) << c.name << ": " << wav.status().to_string();
    EXPECT_EQ(wav->sample_rate, 16000) << c.name;
    EXPECT_EQ(wav->channels, 1) << c.name;
    EXPECT_EQ(wav->frames(), c.samples) << c.name;
    float peak = 0.0f;
    for (float s : wav->samples) peak = std::max(peak, std::abs(s));
    EXPECT_GT(peak, 0.05f) << c.name;
    EXPECT_LE(peak, 1.0f) << c.name;
  }
}

TEST(Wav, TruncatedAtEveryByteIsAnError) {
  std::string list = "LIST";
  put32(list, 4);
  list += "INFO";
  std::string d;
  for (int i = 0; i < 10; ++i) put16(d, static_cast<std::uint16_t>(i * 1000));
  const std::string full = make_wav(1, 2, 16000, 16, d, list);
  ASSERT_TRUE(parse_wav(full).ok());
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::string cut = full.substr(0, n);
    auto r = parse_wav(cut);
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_FALSE(r.status().message().empty());
    // The same prefix with its RIFF size patched to match: the chunk checks must catch it.
    if (n >= 12) {
      set32(cut, 4, static_cast<std::uint32_t>(n - 8));
      auto r2 = parse_wav(cut);
      EXPECT_FALSE(r2.ok()) << "patched prefix of " << n << " bytes parsed";
    }
  }
  auto r = parse_wav(full.substr(0, full.size() - 3));
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().to_string();
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().to_string();
}

TEST(Wav, BadFieldsNameTheProblem) {
  std::string d;
  put16(d, 1);
  const std::string good = make_wav(1, 1, 16000, 16, d);
  auto expect_error = [](const std::string& bytes, const std::string& needle) {
    auto r = parse_wav(bytes);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().to_string();
  };
  expect_error("hello world, this is text", "not a WAV file");
  expect_error("", "not a WAV file");
  std::string s = good;
  s[8] = 'X';
  expect_error(s, "not WAVE");
  s = good;
  s.replace(0, 4, "RIFX");
  expect_error(s, "RIFX");
  expect_error(make_wav(6, 1, 16000, 8, d), "format tag 6");     // A-law
  expect_error(make_wav(1, 1, 16000, 12, d), "12 bits");
  expect_error(make_wav(3, 1, 16000, 16, d), "IEEE float with 16 bits");
  expect_error(make_wav(1, 0, 16000, 16, d), "channel count 0");
  expect_error(make_wav(1, 40, 16000, 16, std::string(80, '\0')), "channel count 40");
  expect_error(make_wav(1, 1, 100, 16, d), "sample rate 100");
  s = good;
  set32(s, 28, 12345);  // byte_rate
  expect_error(s, "byte_rate");
  s = good;
  s[32] = 7;  // block_align
  expect_error(s, "block_align");
  expect_error(make_wav(1, 2, 16000, 16, std::string(6, '\0')), "whole number");
  s = good;
  set32(s, 16, 8);  // fmt chunk size < 16 (now the chunk walk is off as well)
  expect_error(s, "fmt chunk is 8 bytes");
  // No data chunk.
  std::string nodata = "RIFF";
  put32(nodata, 4);
  nodata += "WAVE";
  expect_error(nodata, "no fmt chunk");
  // A chunk size larger than the file.
  s = good;
  set32(s, 40, 0x7fffffff);
  expect_error(s, "truncated");
}

TEST(Wav, ReadFileErrors) {
  auto r = read_wav_file("/nonexistent/x.wav");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/x.wav"), std::string::npos);
  const std::string path = ::testing::TempDir() + "/parley_wav_test.wav";
  ASSERT_TRUE(write_wav_file(path, std::vector<float>{0.1f, 0.2f}, 8000).is_ok());
  auto ok = read_wav_file(path);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->sample_rate, 8000);
  WavLimits small;
  small.max_file_bytes = 10;
  EXPECT_FALSE(read_wav_file(path, small).ok());
  std::filesystem::remove(path);
}

TEST(Wav, WriterRejectsBadArguments) {
  EXPECT_FALSE(encode_wav_pcm16(std::vector<float>{0.1f, 0.2f, 0.3f}, 16000, 2).ok());
  EXPECT_FALSE(encode_wav_pcm16(std::vector<float>{0.1f}, 0, 1).ok());
  EXPECT_FALSE(encode_wav_pcm16(std::vector<float>{0.1f}, 16000, 0).ok());
}

}  // namespace
}  // namespace parley::audio
