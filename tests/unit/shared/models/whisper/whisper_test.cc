// shared/models/whisper on a tiny random WhisperSpec written by the test (d 16, 2 heads, 2 + 2
// layers, 40-token vocabulary, 16 audio positions): the runner's logits against a float64
// reference of Whisper's forward pass written here (FP32 weights: 1e-4; INT8: close), batched
// windows equal one at a time, decoding rules (first token a timestamp <= max initial, pairs,
// end), bad input (wrong sizes, NaN, bad slots/positions/tokens, corrupt files), and the model
// on the shared runtime (weights and scratch from the device's allocator, so /metrics counts
// them; an absent device is Unavailable). WhisperTinyGpu.* (ctest entry whisper_gpu_test, label
// gpu; the unit entry leaves it out) runs the same windows on cuda:0 and compares with the CPU:
// skips with "no CUDA device", fails instead under PARLEY_GPU_TEST_STRICT=1.
// Depends on shared/models/whisper, shared/engine/ctranslate2 (writer), shared/engine (allocator).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "shared/engine/allocator.h"
#include "shared/engine/ctranslate2/ct2_file.h"
#include "shared/engine/device.h"
#include "shared/models/whisper/decoding.h"
#include "shared/models/whisper/mel.h"
#include "shared/models/whisper/whisper_runner.h"

namespace parley::whisper {
namespace {

namespace ct2 = engine::ct2;
constexpr int kD = 16, kHeads = 2, kFfn = 32, kMels = 80, kAudio = 16, kText = 24;

std::vector<std::string> vocab() {
  std::vector<std::string> v;
  for (char c = 'a'; c <= 't'; ++c) v.push_back(std::string(1, c));  // 20 text tokens
  for (const char* s : {"<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>",
                        "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"}) {
    v.push_back(s);
  }
  for (int i = 0; i <= 10; ++i) {
    char b[16];
    std::snprintf(b, sizeof b, "<|%d.%02d|>", i / 50, (i * 2) % 100);
    v.push_back(b);
  }
  return v;  // 40
}

struct Weights {
  std::map<std::string, std::vector<float>> t;
  std::map<std::string, std::vector<std::int64_t>> shape;
};

class TinyModel {
 public:
  TinyModel() {
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 0.3f);
    auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float scale = 1.0f, float offset = 0.0f) {
      std::int64_t n = 1;
      for (auto d : shape) n *= d;
      std::vector<float> x(static_cast<std::size_t>(n));
      for (float& v : x) v = offset + scale * g(rng);
      w.t[name] = x;
      w.shape[name] = shape;
    };
    auto lin = [&](const std::string& p, std::int64_t n, std::int64_t k) {
      add(p + "/weight", {n, k}, 1.0f / std::sqrt(static_cast<float>(k)) / 0.3f * 0.5f);
      add(p + "/bias", {n}, 0.2f);
    };
    auto ln = [&](const std::string& p) {
      add(p + "/gamma", {kD}, 0.3f, 1.0f);
      add(p + "/beta", {kD}, 0.3f);
    };
    add("encoder/conv1/weight", {kD, kMels, 3}, 0.2f);
    add("encoder/conv1/bias", {kD}, 0.2f);
    add("encoder/conv2/weight", {kD, kD, 3}, 0.5f);
    add("encoder/conv2/bias", {kD}, 0.2f);
    add("encoder/position_encodings/encodings", {kAudio, kD});
    for (int l = 0; l < 2; ++l) {
      const std::string p = "encoder/layer_" + std::to_string(l);
      ln(p + "/self_attention/layer_norm");
      lin(p + "/self_attention/linear_0", 3 * kD, kD);
      lin(p + "/self_attention/linear_1", kD, kD);
      ln(p + "/ffn/layer_norm");
      lin(p + "/ffn/linear_0", kFfn, kD);
      lin(p + "/ffn/linear_1", kD, kFfn);
    }
    ln("encoder/layer_norm");
    add("decoder/embeddings/weight", {40, kD});
    add("decoder/position_encodings/encodings", {kText, kD});
    for (int l = 0; l < 2; ++l) {
      const std::string p = "decoder/layer_" + std::to_string(l);
      ln(p + "/self_attention/layer_norm");
      lin(p + "/self_attention/linear_0", 3 * kD, kD);
      lin(p + "/self_attention/linear_1", kD, kD);
      ln(p + "/attention/layer_norm");
      lin(p + "/attention/linear_0", kD, kD);
      lin(p + "/attention/linear_1", 2 * kD, kD);
      lin(p + "/attention/linear_2", kD, kD);
      ln(p + "/ffn/layer_norm");
      lin(p + "/ffn/linear_0", kFfn, kD);
      lin(p + "/ffn/linear_1", kD, kFfn);
    }
    ln("decoder/layer_norm");
    // The embedding table goes through f16 in the file: round it so the reference sees the same.
    std::vector<ct2::VariableData> vars;
    for (auto& [name, x] : w.t) {
      if (name == "decoder/embeddings/weight") {
        vars.push_back(ct2::f16_variable(name, w.shape[name], x));
        auto back = ct2::File::from_bytes(*ct2::serialize("S", 1, {vars.back()}));
        x = *(*back)->to_f32((*back)->variables()[0]);
      } else {
        vars.push_back(ct2::f32_variable(name, w.shape[name], x));
      }
    }
    vars.push_back(ct2::scalar_variable("encoder/num_heads", ct2::Ct2Type::kI16, kHeads));
    vars.push_back(ct2::scalar_variable("decoder/num_heads", ct2::Ct2Type::kI16, kHeads));
    vars.push_back(ct2::scalar_variable("decoder/pre_norm", ct2::Ct2Type::kI8, 1));
    vars.push_back(ct2::scalar_variable("decoder/activation", ct2::Ct2Type::kI8, 3));
    dir = (std::filesystem::temp_directory_path() / ("parley_whisper_tiny_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir);
    auto bytes = ct2::serialize("WhisperSpec", 3, vars, {{"decoder/projection/weight", "decoder/embeddings/weight"}});
    std::ofstream(dir + "/model.bin", std::ios::binary) << *bytes;
    std::ofstream voc(dir + "/vocabulary.txt");
    for (const auto& s : vocab()) voc << s << "\n";
  }
  ~TinyModel() { std::filesystem::remove_all(dir); }
  Weights w;
  std::string dir;
};

// ---- float64 reference of Whisper's forward pass ----
using Mat = std::vector<std::vector<double>>;  // [rows][cols]

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

Mat linear(const Weights& w, const std::string& p, const Mat& x, bool bias = true) {
  const auto& W = w.t.at(p + "/weight");
  const auto n = w.shape.at(p + "/weight")[0], k = w.shape.at(p + "/weight")[1];
  Mat y(x.size(), std::vector<double>(static_cast<std::size_t>(n)));
  for (std::size_t r = 0; r < x.size(); ++r) {
    for (std::int64_t o = 0; o < n; ++o) {
      double s = bias ? w.t.at(p + "/bias")[static_cast<std::size_t>(o)] : 0.0;
      for (std::int64_t c = 0; c < k; ++c) s += W[static_cast<std::size_t>(o * k + c)] * x[r][static_cast<std::size_t>(c)];
      y[r][static_cast<std::size_t>(o)] = s;
    }
  }
  return y;
}

Mat layer_norm(const Weights& w, const std::string& p, const Mat& x) {
  Mat y = x;
  for (auto& row : y) {
    double m = 0, v = 0;
    for (double a : row) m += a;
    m /= static_cast<double>(row.size());
    for (double a : row) v += (a - m) * (a - m);
    v /= static_cast<double>(row.size());
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = (row[i] - m) / std::sqrt(v + 1e-5) * w.t.at(p + "/gamma")[i] + w.t.at(p + "/beta")[i];
  }
  return y;
}

// q rows attend over kv rows (q [Tq, D], k/v [Tk, D]); causal: query i sees keys <= i + (Tk - Tq).
Mat attention(const Mat& q, const Mat& k, const Mat& v, bool causal) {
  const std::size_t hd = kD / kHeads;
  Mat out(q.size(), std::vector<double>(kD, 0.0));
  for (std::size_t h = 0; h < kHeads; ++h) {
    for (std::size_t i = 0; i < q.size(); ++i) {
      std::vector<double> s(k.size());
      double mx = -1e300;
      const std::size_t limit = causal ? i + (k.size() - q.size()) + 1 : k.size();
      for (std::size_t j = 0; j < limit; ++j) {
        double d = 0;
        for (std::size_t e = 0; e < hd; ++e) d += q[i][h * hd + e] * k[j][h * hd + e];
        s[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, s[j]);
      }
      double z = 0;
      for (std::size_t j = 0; j < limit; ++j) z += (s[j] = std::exp(s[j] - mx));
      for (std::size_t j = 0; j < limit; ++j) {
        for (std::size_t e = 0; e < hd; ++e) out[i][h * hd + e] += s[j] / z * v[j][h * hd + e];
      }
    }
  }
  return out;
}

Mat cols(const Mat& x, std::size_t from, std::size_t n) {
  Mat y(x.size(), std::vector<double>(n));
  for (std::size_t r = 0; r < x.size(); ++r) {
    for (std::size_t c = 0; c < n; ++c) y[r][c] = x[r][from + c];
  }
  return y;
}
void add(Mat& a, const Mat& b) {
  for (std::size_t r = 0; r < a.size(); ++r) {
    for (std::size_t c = 0; c < a[r].size(); ++c) a[r][c] += b[r][c];
  }
}

Mat ref_encode(const Weights& w, const std::vector<float>& mel, int frames) {
  const int t = frames / 2;
  auto conv = [&](const std::string& p, const std::vector<std::vector<double>>& x, int in_ch, int len, int stride, int out_len) {
    const auto& W = w.t.at(p + "/weight");
    Mat y(static_cast<std::size_t>(out_len), std::vector<double>(kD));  // [time][channel]
    for (int o = 0; o < kD; ++o) {
      for (int s = 0; s < out_len; ++s) {
        double acc = w.t.at(p + "/bias")[static_cast<std::size_t>(o)];
        for (int c = 0; c < in_ch; ++c) {
          for (int k = 0; k < 3; ++k) {
            const int src = s * stride + k - 1;
            if (src >= 0 && src < len) acc += W[static_cast<std::size_t>((o * in_ch + c) * 3 + k)] * x[static_cast<std::size_t>(c)][static_cast<std::size_t>(src)];
          }
        }
        y[static_cast<std::size_t>(s)][static_cast<std::size_t>(o)] = gelu(acc);
      }
    }
    return y;
  };
  std::vector<std::vector<double>> x(kMels, std::vector<double>(static_cast<std::size_t>(frames)));
  for (int c = 0; c < kMels; ++c) {
    for (int s = 0; s < frames; ++s) x[static_cast<std::size_t>(c)][static_cast<std::size_t>(s)] = mel[static_cast<std::size_t>(c * frames + s)];
  }
  Mat h1 = conv("encoder/conv1", x, kMels, frames, 1, frames);
  std::vector<std::vector<double>> h1c(kD, std::vector<double>(static_cast<std::size_t>(frames)));
  for (int s = 0; s < frames; ++s) {
    for (int c = 0; c < kD; ++c) h1c[static_cast<std::size_t>(c)][static_cast<std::size_t>(s)] = h1[static_cast<std::size_t>(s)][static_cast<std::size_t>(c)];
  }
  Mat h = conv("encoder/conv2", h1c, kD, frames, 2, t);
  for (int s = 0; s < t; ++s) {
    for (int c = 0; c < kD; ++c) h[static_cast<std::size_t>(s)][static_cast<std::size_t>(c)] += w.t.at("encoder/position_encodings/encodings")[static_cast<std::size_t>(s * kD + c)];
  }
  for (int l = 0; l < 2; ++l) {
    const std::string p = "encoder/layer_" + std::to_string(l);
    Mat qkv = linear(w, p + "/self_attention/linear_0", layer_norm(w, p + "/self_attention/layer_norm", h));
    add(h, linear(w, p + "/self_attention/linear_1", attention(cols(qkv, 0, kD), cols(qkv, kD, kD), cols(qkv, 2 * kD, kD), false)));
    Mat f = linear(w, p + "/ffn/linear_0", layer_norm(w, p + "/ffn/layer_norm", h));
    for (auto& r : f) {
      for (double& a : r) a = gelu(a);
    }
    add(h, linear(w, p + "/ffn/linear_1", f));
  }
  return layer_norm(w, "encoder/layer_norm", h);
}

// Logits of every position of `tokens` (teacher forcing) given the encoder output.
Mat ref_decode(const Weights& w, const Mat& enc, const std::vector<int>& tokens) {
  Mat x(tokens.size(), std::vector<double>(kD));
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    for (int c = 0; c < kD; ++c) {
      x[i][static_cast<std::size_t>(c)] = w.t.at("decoder/embeddings/weight")[static_cast<std::size_t>(tokens[i] * kD + c)] +
                                          w.t.at("decoder/position_encodings/encodings")[static_cast<std::size_t>(static_cast<int>(i) * kD + c)];
    }
  }
  for (int l = 0; l < 2; ++l) {
    const std::string p = "decoder/layer_" + std::to_string(l);
    Mat qkv = linear(w, p + "/self_attention/linear_0", layer_norm(w, p + "/self_attention/layer_norm", x));
    add(x, linear(w, p + "/self_attention/linear_1", attention(cols(qkv, 0, kD), cols(qkv, kD, kD), cols(qkv, 2 * kD, kD), true)));
    Mat q = linear(w, p + "/attention/linear_0", layer_norm(w, p + "/attention/layer_norm", x));
    Mat kv = linear(w, p + "/attention/linear_1", enc);
    add(x, linear(w, p + "/attention/linear_2", attention(q, cols(kv, 0, kD), cols(kv, kD, kD), false)));
    Mat f = linear(w, p + "/ffn/linear_0", layer_norm(w, p + "/ffn/layer_norm", x));
    for (auto& r : f) {
      for (double& a : r) a = gelu(a);
    }
    add(x, linear(w, p + "/ffn/linear_1", f));
  }
  x = layer_norm(w, "decoder/layer_norm", x);
  Weights proj;
  proj.t["p/weight"] = w.t.at("decoder/embeddings/weight");
  proj.shape["p/weight"] = {40, kD};
  return linear(proj, "p", x, false);
}

std::vector<float> random_mel(int frames, int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> m(static_cast<std::size_t>(kMels * frames));
  for (float& v : m) v = u(rng);
  return m;
}

class WhisperTinyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tiny_ = new TinyModel(); }
  static void TearDownTestSuite() { delete tiny_; }
  static std::shared_ptr<const WhisperModel> load(WhisperPrecision p, engine::Device device = engine::Device::cpu()) {
    WhisperLoadOptions o;
    o.precision = p;
    o.device = device;
    auto m = WhisperModel::load(tiny_->dir, o);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? *m : nullptr;
  }
  static inline TinyModel* tiny_ = nullptr;
};

TEST_F(WhisperTinyTest, ConfigFromTheFile) {
  auto m = load(WhisperPrecision::kFp32);
  ASSERT_NE(m, nullptr);
  const WhisperConfig& c = m->config();
  EXPECT_EQ(c.d_model, kD);
  EXPECT_EQ(c.heads, kHeads);
  EXPECT_EQ(c.encoder_layers, 2);
  EXPECT_EQ(c.decoder_layers, 2);
  EXPECT_EQ(c.vocab, 40);
  EXPECT_EQ(c.audio_ctx, kAudio);
  EXPECT_EQ(m->tokenizer().special().sot, 21);
  EXPECT_EQ(m->tokenizer().special().timestamp_begin, 29);
  EXPECT_FALSE(m->multilingual());
}

TEST_F(WhisperTinyTest, LogitsMatchFloat64Reference) {
  for (WhisperPrecision p : {WhisperPrecision::kFp32, WhisperPrecision::kInt8}) {
    auto m = load(p);
    ASSERT_NE(m, nullptr);
    WhisperRunner r(m);
    const int frames = 2 * kAudio;
    const std::vector<float> mel0 = random_mel(frames, 1), mel1 = random_mel(frames, 2);
    std::vector<std::span<const float>> mels = {mel0, mel1};
    ASSERT_TRUE(r.encode(mels, frames).is_ok());
    const std::vector<int> tokens = {21, 29, 3, 7, 31};  // sot, <|0.00|>, d, h, <|0.04|>
    // Teacher forcing: all positions of both windows in one decoder call.
    std::vector<StepRow> rows;
    for (int w = 0; w < 2; ++w) {
      for (std::size_t i = 0; i < tokens.size(); ++i) rows.push_back({w, static_cast<int>(i), tokens[i]});
    }
    std::vector<float> logits;
    ASSERT_TRUE(r.decode(rows, logits).is_ok());
    double worst = 0, norm = 0;
    for (int w = 0; w < 2; ++w) {
      const Mat enc = ref_encode(tiny_->w, w == 0 ? mel0 : mel1, frames);
      std::vector<float> ours_enc;
      ASSERT_TRUE(r.encoder_output(w, ours_enc).is_ok());
      for (int t = 0; t < kAudio; ++t) {
        for (int c = 0; c < kD; ++c) {
          const double d = std::abs(ours_enc[static_cast<std::size_t>(t * kD + c)] - enc[static_cast<std::size_t>(t)][static_cast<std::size_t>(c)]);
          if (p == WhisperPrecision::kFp32) {
            EXPECT_LT(d, 1e-4) << "encoder t=" << t << " c=" << c;
          }
        }
      }
      const Mat ref = ref_decode(tiny_->w, enc, tokens);
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        for (int v = 0; v < 40; ++v) {
          const double a = logits[(static_cast<std::size_t>(w) * tokens.size() + i) * 40 + static_cast<std::size_t>(v)];
          worst = std::max(worst, std::abs(a - ref[i][static_cast<std::size_t>(v)]));
          norm = std::max(norm, std::abs(ref[i][static_cast<std::size_t>(v)]));
        }
      }
    }
    if (p == WhisperPrecision::kFp32) {
      EXPECT_LT(worst, 2e-4) << "fp32 max |logit error|";
    } else {
      EXPECT_LT(worst, 0.05 * norm) << "int8 max |logit error| " << worst << " of max |logit| " << norm;
    }
    // Step by step (decode one token at a time) gives the same logits as teacher forcing.
    std::vector<float> step_logits;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::vector<StepRow> one = {{1, static_cast<int>(i), tokens[i]}};
      ASSERT_TRUE(r.decode(one, step_logits).is_ok());
      for (int v = 0; v < 40; ++v) {
        EXPECT_NEAR(step_logits[static_cast<std::size_t>(v)], logits[(tokens.size() + i) * 40 + static_cast<std::size_t>(v)], 1e-4);
      }
    }
  }
}

TEST_F(WhisperTinyTest, GreedyDecodingFollowsTheRules) {
  auto m = load(WhisperPrecision::kFp32);
  ASSERT_NE(m, nullptr);
  WhisperRunner r(m);
  std::vector<std::vector<float>> mels;
  for (int i = 0; i < 3; ++i) mels.push_back(random_mel(2 * kAudio, 10 + i));
  std::vector<std::span<const float>> spans(mels.begin(), mels.end());
  ASSERT_TRUE(r.encode(spans, 2 * kAudio).is_ok());
  DecodeOptions o;
  o.max_new_tokens = 12;
  o.max_initial_timestamp = 0.04f;  // <|0.00|> .. <|0.04|>
  auto res = greedy_decode(r, 3, o);
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  const SpecialIds& sp = m->tokenizer().special();
  for (const auto& w : *res) {
    ASSERT_FALSE(w.tokens.empty());
    EXPECT_GE(w.tokens[0], sp.timestamp_begin) << "first token must be a timestamp";
    EXPECT_LE(w.tokens[0], sp.timestamp_begin + 2) << "first timestamp <= max_initial_timestamp";
    EXPECT_LE(static_cast<int>(w.tokens.size()), 12);
    int last_ts = -1;
    for (std::size_t i = 0; i < w.tokens.size(); ++i) {
      const int t = w.tokens[i];
      EXPECT_NE(t, sp.no_timestamps);
      EXPECT_NE(t, sp.sot);
      EXPECT_NE(t, sp.no_speech);
      if (t >= sp.timestamp_begin) {
        EXPECT_GE(t, last_ts) << "timestamps never decrease";
        // Three timestamps in a row are impossible (pairs only).
        if (i >= 2) {
          EXPECT_FALSE(w.tokens[i - 1] >= sp.timestamp_begin && w.tokens[i - 2] >= sp.timestamp_begin);
        }
        last_ts = t;
      }
    }
    EXPECT_GE(w.no_speech_prob, 0.0f);
    EXPECT_LE(w.no_speech_prob, 1.0f);
  }
  // Batched decoding equals decoding each window alone.
  for (int i = 0; i < 3; ++i) {
    WhisperRunner single(m);
    std::span<const float> one = mels[static_cast<std::size_t>(i)];
    ASSERT_TRUE(single.encode(std::span<const std::span<const float>>(&one, 1), 2 * kAudio).is_ok());
    auto alone = greedy_decode(single, 1, o);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0].tokens, (*res)[static_cast<std::size_t>(i)].tokens) << "window " << i;
  }
}

TEST_F(WhisperTinyTest, BadInput) {
  auto m = load(WhisperPrecision::kInt8);
  ASSERT_NE(m, nullptr);
  WhisperRunner r(m);
  std::vector<float> small(10);
  std::span<const float> s = small;
  EXPECT_EQ(r.encode(std::span<const std::span<const float>>(&s, 1), 2 * kAudio).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.encode(std::span<const std::span<const float>>(&s, 1), 7).code(), StatusCode::kInvalidArgument);
  std::vector<float> nan = random_mel(2 * kAudio, 1);
  nan[5] = std::numeric_limits<float>::quiet_NaN();
  std::span<const float> sn = nan;
  EXPECT_NE(r.encode(std::span<const std::span<const float>>(&sn, 1), 2 * kAudio).message().find("NaN"), std::string::npos);
  std::vector<float> logits;
  EXPECT_EQ(r.decode(std::vector<StepRow>{{0, 0, 21}}, logits).code(), StatusCode::kInvalidArgument);  // nothing encoded
  std::vector<float> ok = random_mel(2 * kAudio, 1);
  std::span<const float> so = ok;
  ASSERT_TRUE(r.encode(std::span<const std::span<const float>>(&so, 1), 2 * kAudio).is_ok());
  EXPECT_EQ(r.decode(std::vector<StepRow>{{1, 0, 21}}, logits).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.decode(std::vector<StepRow>{{0, kText, 21}}, logits).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.decode(std::vector<StepRow>{{0, 0, 40}}, logits).code(), StatusCode::kInvalidArgument);
  // Files: a model.bin that is not a WhisperSpec, a missing vocabulary.
  const std::string dir = tiny_->dir + "_bad";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/model.bin", std::ios::binary) << *ct2::serialize("TransformerSpec", 1, {});
  std::filesystem::copy_file(tiny_->dir + "/vocabulary.txt", dir + "/vocabulary.txt");
  auto bad = WhisperModel::load(dir);
  EXPECT_NE(bad.status().message().find("not a WhisperSpec"), std::string::npos) << bad.status().to_string();
  std::filesystem::remove(dir + "/vocabulary.txt");
  EXPECT_EQ(WhisperModel::load(dir).status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_F(WhisperTinyTest, LivesOnTheSharedRuntime) {
  // Weights and scratch come from the device's allocator (engine::cpu_allocator() here), the one
  // parley_engine_device_memory_bytes reports; all of it goes back with the model and runner.
  const std::uint64_t before = engine::cpu_allocator().stats().in_use;
  {
    auto m = load(WhisperPrecision::kInt8);
    ASSERT_NE(m, nullptr);
    EXPECT_TRUE(m->device().is_cpu());
    EXPECT_EQ(m->device().backend().name, "cpu");
    const std::uint64_t loaded = engine::cpu_allocator().stats().in_use;
    EXPECT_GE(loaded - before, m->weight_bytes());
    {
      WhisperRunner r(m);
      const std::vector<float> mel = random_mel(2 * kAudio, 3);
      std::span<const float> one = mel;
      ASSERT_TRUE(r.encode(std::span<const std::span<const float>>(&one, 1), 2 * kAudio).is_ok());
      EXPECT_GT(engine::cpu_allocator().stats().in_use, loaded) << "runner scratch on the model's allocator";
    }
    EXPECT_EQ(engine::cpu_allocator().stats().in_use, loaded) << "runner scratch freed with the runner";
  }
  EXPECT_EQ(engine::cpu_allocator().stats().in_use, before) << "weights freed with the model";
  // A device no backend serves: Unavailable, naming the model.
  WhisperLoadOptions o;
  o.device = engine::Device::cuda(64);
  auto none = WhisperModel::load(tiny_->dir, o);
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable) << none.status().to_string();
  EXPECT_NE(none.status().message().find("whisper"), std::string::npos) << none.status().to_string();
}

// ---------------------------------------------------------------- cuda:0 vs the CPU (label gpu)

class WhisperTinyGpu : public WhisperTinyTest {
 protected:
  void SetUp() override {
    if (engine::cuda_device_count() == 0) {
      const char* s = std::getenv("PARLEY_GPU_TEST_STRICT");
      if (s != nullptr && std::string(s) == "1") FAIL() << "no CUDA device (PARLEY_GPU_TEST_STRICT=1)";
      GTEST_SKIP() << "no CUDA device";
    }
  }
};

TEST_F(WhisperTinyGpu, EncoderAndLogitsMatchTheCpu) {
  for (WhisperPrecision p : {WhisperPrecision::kFp32, WhisperPrecision::kInt8}) {
    auto cpu = load(p);
    auto gpu = load(p, engine::Device::cuda(0));
    ASSERT_NE(cpu, nullptr);
    ASSERT_NE(gpu, nullptr);
    EXPECT_TRUE(gpu->device().device().is_cuda());
    WhisperRunner rc(cpu), rg(gpu);
    const int frames = 2 * kAudio;
    const std::vector<float> mel0 = random_mel(frames, 1), mel1 = random_mel(frames, 2);
    std::vector<std::span<const float>> mels = {mel0, mel1};
    ASSERT_TRUE(rc.encode(mels, frames).is_ok());
    const Status st = rg.encode(mels, frames);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    double enc_worst = 0;
    for (int w = 0; w < 2; ++w) {
      std::vector<float> a, b;
      ASSERT_TRUE(rc.encoder_output(w, a).is_ok());
      ASSERT_TRUE(rg.encoder_output(w, b).is_ok());
      ASSERT_EQ(a.size(), b.size());
      for (std::size_t i = 0; i < a.size(); ++i) enc_worst = std::max(enc_worst, static_cast<double>(std::abs(a[i] - b[i])));
    }
    const std::vector<int> tokens = {21, 29, 3, 7, 31};
    std::vector<StepRow> rows;
    for (int w = 0; w < 2; ++w) {
      for (std::size_t i = 0; i < tokens.size(); ++i) rows.push_back({w, static_cast<int>(i), tokens[i]});
    }
    std::vector<float> lc, lg;
    ASSERT_TRUE(rc.decode(rows, lc).is_ok());
    ASSERT_TRUE(rg.decode(rows, lg).is_ok());
    ASSERT_EQ(lc.size(), lg.size());
    double worst = 0, norm = 0;
    for (std::size_t i = 0; i < lc.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(lc[i] - lg[i])));
      norm = std::max(norm, static_cast<double>(std::abs(lc[i])));
    }
    const char* name = p == WhisperPrecision::kFp32 ? "fp32" : "int8";
    std::cout << "[whisper cuda:0 vs cpu] " << name << ": max |encoder diff| " << enc_worst << ", max |logit diff| " << worst
              << " of max |logit| " << norm << "\n";
    // FP32: different summation orders only. INT8: a rounding flip of one quantized activation.
    EXPECT_LT(enc_worst, p == WhisperPrecision::kFp32 ? 1e-3 : 0.05) << name;
    EXPECT_LT(worst, p == WhisperPrecision::kFp32 ? 1e-3 : 0.05 * norm) << name;
  }
}

TEST_F(WhisperTinyGpu, GreedyTokensMatchTheCpuAcrossRunners) {
  auto cpu = load(WhisperPrecision::kFp32);
  auto gpu = load(WhisperPrecision::kFp32, engine::Device::cuda(0));
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(gpu, nullptr);
  std::vector<std::vector<float>> mels;
  for (int i = 0; i < 3; ++i) mels.push_back(random_mel(2 * kAudio, 10 + i));
  std::vector<std::span<const float>> spans(mels.begin(), mels.end());
  DecodeOptions o;
  o.max_new_tokens = 12;
  WhisperRunner rc(cpu);
  ASSERT_TRUE(rc.encode(spans, 2 * kAudio).is_ok());
  auto want = greedy_decode(rc, 3, o);
  ASSERT_TRUE(want.ok()) << want.status().to_string();
  // Two runners on one GPU model (two streams): each gives the CPU's tokens.
  WhisperRunner g1(gpu), g2(gpu);
  ASSERT_TRUE(g1.encode(spans, 2 * kAudio).is_ok());
  ASSERT_TRUE(g2.encode(std::span<const std::span<const float>>(spans.data() + 1, 2), 2 * kAudio).is_ok());
  auto a = greedy_decode(g1, 3, o);
  auto b = greedy_decode(g2, 2, o);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*a)[static_cast<std::size_t>(i)].tokens, (*want)[static_cast<std::size_t>(i)].tokens) << "window " << i;
  for (int i = 0; i < 2; ++i) EXPECT_EQ((*b)[static_cast<std::size_t>(i)].tokens, (*want)[static_cast<std::size_t>(i + 1)].tokens) << "window " << i + 1;
}

TEST(WhisperMel, FilterBankMatchesWhisperCpp) {
  // whisper.cpp's test file carries Whisper's own 80 x 201 filter bank after 12 int32 header
  // words and n_mel, n_fft (MANIFEST.md).
  const std::string path = std::string(PARLEY_TESTDATA) + "/models/whisper_ggml_for_tests/for-tests-ggml-tiny.en.bin";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no shared testdata: " << path;
  std::ifstream in(path, std::ios::binary);
  std::vector<std::int32_t> head(14);
  in.read(reinterpret_cast<char*>(head.data()), 14 * 4);
  ASSERT_EQ(head[12], 80);
  ASSERT_EQ(head[13], 201);
  std::vector<float> ref(80 * 201);
  in.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * 4));
  ASSERT_TRUE(in);
  const std::vector<float> ours = mel_filters(80);
  double worst = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(ours[i] - ref[i])));
  EXPECT_LT(worst, 1e-6) << "max |ours - whisper.cpp| over the 80 x 201 filter bank";
}

TEST(WhisperMel, WindowShapeAndLimits) {
  LogMel mel(80);
  std::vector<float> a(16000, 0.0f);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  auto w = mel.window(a);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->size(), 80u * 3000u);
  EXPECT_EQ((*w)[100], (*w)[100]);         // finite
  EXPECT_EQ((*w)[80 * 3000 - 1], 0.0f);    // padding frames are 0 (faster-whisper's pad_or_trim)
  EXPECT_FALSE(mel.window(std::vector<float>(30 * 16000 + 1, 0.0f)).ok());
  EXPECT_FALSE(mel.window({}).ok());
}

}  // namespace
}  // namespace parley::whisper
