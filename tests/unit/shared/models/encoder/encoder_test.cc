// Unit tests of shared/models/encoder on tiny generated models (BERT and DistilBERT names, random
// weights written to a temp dir as config.json + model.safetensors) against a scalar float64
// reference of the BERT block written here; INT8 vs FP32; pooling; errors naming their cause.
// Depends on shared/models/encoder, shared/engine/safetensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "shared/models/encoder/encoder.h"
#include "shared/models/encoder/session.h"
#include "shared/engine/safetensors/safetensors.h"

namespace parley::encoder {
namespace {

constexpr int kVocab = 50, kHidden = 16, kLayers = 2, kHeads = 4, kInter = 32, kMaxPos = 24, kTypes = 2;

using Mat = std::vector<double>;

struct TinyModel {
  std::map<std::string, std::vector<float>> t;  // HF BERT names
  std::map<std::string, std::vector<std::int64_t>> shapes;
};

TinyModel make_weights(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  TinyModel m;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float scale, float offset = 0.0f) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = offset + scale * u(rng);
    m.t[name] = v;
    m.shapes[name] = shape;
  };
  add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 1.0f);
  add("embeddings.position_embeddings.weight", {kMaxPos, kHidden}, 0.5f);
  add("embeddings.token_type_embeddings.weight", {kTypes, kHidden}, 0.5f);
  add("embeddings.LayerNorm.weight", {kHidden}, 0.2f, 1.0f);
  add("embeddings.LayerNorm.bias", {kHidden}, 0.1f);
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + n + ".weight", {kHidden, kHidden}, 0.4f);
      add(p + n + ".bias", {kHidden}, 0.1f);
    }
    add(p + "attention.output.LayerNorm.weight", {kHidden}, 0.2f, 1.0f);
    add(p + "attention.output.LayerNorm.bias", {kHidden}, 0.1f);
    add(p + "intermediate.dense.weight", {kInter, kHidden}, 0.4f);
    add(p + "intermediate.dense.bias", {kInter}, 0.1f);
    add(p + "output.dense.weight", {kHidden, kInter}, 0.3f);
    add(p + "output.dense.bias", {kHidden}, 0.1f);
    add(p + "output.LayerNorm.weight", {kHidden}, 0.2f, 1.0f);
    add(p + "output.LayerNorm.bias", {kHidden}, 0.1f);
  }
  return m;
}

// BERT -> DistilBERT tensor names (and no token-type table).
std::string distil_name(const std::string& bert) {
  std::string s = bert;
  auto rep = [&](const std::string& a, const std::string& b) {
    if (auto i = s.find(a); i != std::string::npos) s.replace(i, a.size(), b);
  };
  rep("encoder.layer.", "transformer.layer.");
  rep("attention.self.query", "attention.q_lin");
  rep("attention.self.key", "attention.k_lin");
  rep("attention.self.value", "attention.v_lin");
  rep("attention.output.dense", "attention.out_lin");
  rep("attention.output.LayerNorm", "sa_layer_norm");
  rep("intermediate.dense", "ffn.lin1");
  rep("output.dense", "ffn.lin2");
  rep("output.LayerNorm", "output_layer_norm");
  return s;
}

std::string write_model(const TinyModel& m, bool distil, const std::string& prefix = "") {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("parley_enc_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  std::vector<safetensors::TensorData> ts;
  for (const auto& [name, v] : m.t) {
    if (distil && name.find("token_type") != std::string::npos) continue;
    ts.push_back(safetensors::f32_tensor(prefix + (distil ? distil_name(name) : name), m.shapes.at(name), v));
  }
  EXPECT_TRUE(safetensors::write_file((dir / "model.safetensors").string(), ts).is_ok());
  std::ofstream cfg(dir / "config.json");
  if (distil) {
    cfg << R"({"model_type":"distilbert","vocab_size":50,"dim":16,"n_layers":2,"n_heads":4,"hidden_dim":32,)"
        << R"("max_position_embeddings":24,"activation":"gelu"})";
  } else {
    cfg << R"({"model_type":"bert","vocab_size":50,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,)"
        << R"("intermediate_size":32,"max_position_embeddings":24,"type_vocab_size":2,"layer_norm_eps":1e-12,"hidden_act":"gelu"})";
  }
  return dir.string();
}

// ---- float64 reference of one sequence ----
void layer_norm(Mat& x, const std::vector<float>& g, const std::vector<float>& b, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int j = 0; j < cols; ++j) mean += x[r * cols + j];
    mean /= cols;
    for (int j = 0; j < cols; ++j) var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
    var /= cols;
    for (int j = 0; j < cols; ++j) x[r * cols + j] = (x[r * cols + j] - mean) / std::sqrt(var + 1e-12) * g[j] + b[j];
  }
}
Mat linear(const Mat& x, const std::vector<float>& w, const std::vector<float>& b, int rows, int in, int out) {
  Mat y(static_cast<std::size_t>(rows * out));
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double s = b[o];
      for (int k = 0; k < in; ++k) s += x[r * in + k] * w[o * in + k];
      y[r * out + o] = s;
    }
  return y;
}
// rel: MPNet's relative_attention_bias ([32 buckets, kHeads]) or nullptr.
Mat reference(const TinyModel& m, const std::vector<int>& ids, const std::vector<int>& types, bool use_types,
              const std::vector<float>* rel = nullptr) {
  const int n = static_cast<int>(ids.size()), h = kHidden, d = kHidden / kHeads;
  Mat x(static_cast<std::size_t>(n * h));
  for (int t = 0; t < n; ++t)
    for (int j = 0; j < h; ++j) {
      x[t * h + j] = m.t.at("embeddings.word_embeddings.weight")[ids[t] * h + j] +
                     m.t.at("embeddings.position_embeddings.weight")[t * h + j] +
                     (use_types ? m.t.at("embeddings.token_type_embeddings.weight")[types[t] * h + j] : 0.0);
    }
  layer_norm(x, m.t.at("embeddings.LayerNorm.weight"), m.t.at("embeddings.LayerNorm.bias"), n, h);
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    auto W = [&](const std::string& s) { return m.t.at(p + s); };
    Mat q = linear(x, W("attention.self.query.weight"), W("attention.self.query.bias"), n, h, h);
    Mat k = linear(x, W("attention.self.key.weight"), W("attention.self.key.bias"), n, h, h);
    Mat v = linear(x, W("attention.self.value.weight"), W("attention.self.value.bias"), n, h, h);
    Mat ctx(static_cast<std::size_t>(n * h), 0.0);
    for (int hd = 0; hd < kHeads; ++hd)
      for (int i = 0; i < n; ++i) {
        std::vector<double> s(static_cast<std::size_t>(n));
        double mx = -1e300, sum = 0;
        for (int j = 0; j < n; ++j) {
          double dot = 0;
          for (int c = 0; c < d; ++c) dot += q[i * h + hd * d + c] * k[j * h + hd * d + c];
          s[j] = dot / std::sqrt(static_cast<double>(d));
          if (rel != nullptr) s[j] += (*rel)[static_cast<std::size_t>(relative_position_bucket(j - i, 32, 128) * kHeads + hd)];
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j < n; ++j)
          for (int c = 0; c < d; ++c) ctx[i * h + hd * d + c] += s[j] / sum * v[j * h + hd * d + c];
      }
    Mat a = linear(ctx, W("attention.output.dense.weight"), W("attention.output.dense.bias"), n, h, h);
    for (std::size_t i = 0; i < a.size(); ++i) x[i] += a[i];
    layer_norm(x, W("attention.output.LayerNorm.weight"), W("attention.output.LayerNorm.bias"), n, h);
    Mat f = linear(x, W("intermediate.dense.weight"), W("intermediate.dense.bias"), n, h, kInter);
    for (auto& z : f) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    Mat o = linear(f, W("output.dense.weight"), W("output.dense.bias"), n, kInter, h);
    for (std::size_t i = 0; i < o.size(); ++i) x[i] += o[i];
    layer_norm(x, W("output.LayerNorm.weight"), W("output.LayerNorm.bias"), n, h);
  }
  return x;
}

class EncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = make_weights(42);
    seqs_ = {{1, 5, 7, 9, 2}, {1, 30, 2}, {1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 2}, {1}};
    types_.clear();
    for (const auto& s : seqs_) {
      std::vector<int> t(s.size(), 0);
      for (std::size_t i = s.size() / 2; i < s.size(); ++i) t[i] = 1;
      types_.push_back(t);
    }
  }
  void TearDown() override {
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
  }
  std::string dir(bool distil, const std::string& prefix = "") {
    dirs_.push_back(write_model(weights_, distil, prefix));
    return dirs_.back();
  }
  TokenBatch batch(bool with_types) const {
    TokenBatch b;
    for (std::size_t i = 0; i < seqs_.size(); ++i) {
      if (with_types) b.add(seqs_[i], types_[i]);
      else b.add(seqs_[i]);
    }
    return b;
  }
  double max_error(const EncoderOutput& out, bool use_types) const {
    double err = 0;
    for (std::size_t b = 0; b < seqs_.size(); ++b) {
      const Mat ref = reference(weights_, seqs_[b], types_[b], use_types);
      for (int t = 0; t < out.lengths[b]; ++t)
        for (int j = 0; j < kHidden; ++j) err = std::max(err, std::fabs(ref[t * kHidden + j] - out.token(b, t)[j]));
    }
    return err;
  }
  TinyModel weights_;
  std::vector<std::vector<int>> seqs_, types_;
  std::vector<std::string> dirs_;
};

TEST_F(EncoderTest, BertFp32MatchesFloat64Reference) {
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->config().family, Family::kBert);
  EXPECT_EQ((*m)->max_length(), kMaxPos);
  EncoderSession s(*m);
  EncoderOutput out;
  ASSERT_TRUE(s.encode(batch(true), out).is_ok());
  ASSERT_EQ(out.size(), seqs_.size());
  EXPECT_EQ(out.offsets.back(), 5 + 3 + 24 + 1);
  EXPECT_LT(max_error(out, true), 2e-4);
  // Padded view: zeros past each length.
  std::int64_t t_max = 0;
  auto padded = out.padded(&t_max);
  EXPECT_EQ(t_max, 24);
  EXPECT_EQ(padded[(1 * 24 + 3) * kHidden], 0.0f);
  EXPECT_EQ(padded[(1 * 24 + 2) * kHidden], out.token(1, 2)[0]);
}

// On the CPU the device weights are the host arrays themselves (no copy), and a GPU that is not
// there is a clear load error.
TEST_F(EncoderTest, PlacementOnTheCpuAndAMissingGpu) {
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE((*m)->device().is_cpu());
  const DeviceWeights& d = (*m)->device_weights();
  EXPECT_EQ(d.word.data(), (*m)->weights().word.data());
  ASSERT_EQ(d.layers.size(), (*m)->weights().layers.size());
  EXPECT_EQ(d.layers[0].qkv.w.data(), (*m)->weights().layers[0].qkv.w.data());
  EXPECT_EQ(d.layers[0].attn_norm.gamma.data(), (*m)->weights().layers[0].attn_norm.gamma.data());
  LoadOptions gpu;
  gpu.device = engine::Device::cuda(engine::cuda_device_count());
  auto missing = EncoderModel::load(dir(false), gpu);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << missing.status().to_string();
}

TEST_F(EncoderTest, DistilBertNamesAndPrefixLoad) {
  auto m = EncoderModel::load(dir(true, "distilbert."), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->config().family, Family::kDistilBert);
  EncoderSession s(*m);
  EncoderOutput out;
  ASSERT_TRUE(s.encode(batch(false), out).is_ok());
  EXPECT_LT(max_error(out, false), 2e-4);
}

// T5 / MPNet buckets, checked against transformers' MPNetEncoder.relative_position_bucket (torch).
TEST(RelativePositionTest, BucketsMatchTransformers) {
  const std::pair<int, int> want[] = {{-300, 15}, {-129, 15}, {-128, 15}, {-127, 15}, {-100, 15}, {-64, 14}, {-33, 12},
                                      {-32, 12}, {-31, 11}, {-17, 10}, {-16, 10}, {-15, 9}, {-9, 8}, {-8, 8}, {-7, 7},
                                      {-1, 1}, {0, 0}, {1, 17}, {2, 18}, {7, 23}, {8, 24}, {9, 24}, {15, 25}, {16, 26},
                                      {17, 26}, {31, 27}, {32, 28}, {33, 28}, {45, 28}, {64, 30}, {90, 30}, {127, 31},
                                      {128, 31}, {129, 31}, {1000, 31}};
  for (const auto& [d, b] : want) EXPECT_EQ(relative_position_bucket(d, 32, 128), b) << "distance " << d;
  std::int64_t sum = 0;
  for (int d = -600; d <= 600; ++d) sum += relative_position_bucket(d, 32, 128);
  EXPECT_EQ(sum, 26990) << "sum over distances -600..600 (transformers: 26990)";
}

// MPNet: its tensor names, no token types, positions from pad_token_id + 1, and a relative
// position bias on every layer's scores (the float64 reference adds the bucketed table).
TEST_F(EncoderTest, MpnetMatchesFloat64Reference) {
  TinyModel m = weights_;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  std::vector<float> rel(32 * kHeads);
  for (float& x : rel) x = u(rng);
  const auto dir = std::filesystem::temp_directory_path() / ("parley_enc_mpnet_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  dirs_.push_back(dir.string());
  std::vector<safetensors::TensorData> ts;
  for (const auto& [name, v] : m.t) {
    if (name.find("token_type") != std::string::npos) continue;
    std::string n = name;
    auto rep = [&](const std::string& a, const std::string& b) {
      if (auto i = n.find(a); i != std::string::npos) n.replace(i, a.size(), b);
    };
    rep("attention.self.query", "attention.attn.q");
    rep("attention.self.key", "attention.attn.k");
    rep("attention.self.value", "attention.attn.v");
    rep("attention.output.dense", "attention.attn.o");
    rep("attention.output.LayerNorm", "attention.LayerNorm");
    if (name == "embeddings.position_embeddings.weight") {
      // Positions start at pad_token_id + 1 = 2: two unused rows first, then the reference's rows.
      std::vector<float> pos(2 * kHidden, 9.0f);
      pos.insert(pos.end(), v.begin(), v.end());
      ts.push_back(safetensors::f32_tensor("mpnet." + n, {kMaxPos + 2, kHidden}, pos));
      continue;
    }
    ts.push_back(safetensors::f32_tensor("mpnet." + n, m.shapes.at(name), v));
  }
  ts.push_back(safetensors::f32_tensor("mpnet.encoder.relative_attention_bias.weight", {32, kHeads}, rel));
  ASSERT_TRUE(safetensors::write_file((dir / "model.safetensors").string(), ts).is_ok());
  std::ofstream(dir / "config.json")
      << R"({"model_type":"mpnet","vocab_size":50,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,)"
      << R"("intermediate_size":32,"max_position_embeddings":26,"pad_token_id":1,"relative_attention_num_buckets":32,)"
      << R"("layer_norm_eps":1e-12,"hidden_act":"gelu"})";
  auto model = EncoderModel::load(dir.string(), {.precision = Precision::kFp32});
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->config().family, Family::kMpnet);
  EXPECT_EQ((*model)->config().type_vocab, 0);
  EXPECT_EQ((*model)->config().position_offset, 2);
  EXPECT_EQ((*model)->max_length(), kMaxPos);
  EncoderSession session(*model);
  EncoderOutput out;
  ASSERT_TRUE(session.encode(batch(false), out).is_ok());
  double err = 0, without = 0;
  for (std::size_t b = 0; b < seqs_.size(); ++b) {
    const Mat ref = reference(m, seqs_[b], types_[b], false, &rel);
    const Mat plain = reference(m, seqs_[b], types_[b], false);
    for (int t = 0; t < out.lengths[b]; ++t)
      for (int j = 0; j < kHidden; ++j) {
        err = std::max(err, std::fabs(ref[t * kHidden + j] - out.token(b, t)[j]));
        without = std::max(without, std::fabs(plain[t * kHidden + j] - out.token(b, t)[j]));
      }
  }
  EXPECT_LT(err, 2e-4);
  EXPECT_GT(without, 1e-2) << "the bias must matter in this test";
  // A table of the wrong shape is named.
  ts.back() = safetensors::f32_tensor("mpnet.encoder.relative_attention_bias.weight", {16, kHeads}, std::vector<float>(16 * kHeads));
  ASSERT_TRUE(safetensors::write_file((dir / "model.safetensors").string(), ts).is_ok());
  auto bad = EncoderModel::load(dir.string(), {.precision = Precision::kFp32});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("relative_attention_bias"), std::string::npos) << bad.status().message();
}

TEST_F(EncoderTest, PackingIsExact) {
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok());
  EncoderSession s(*m);
  EncoderOutput all, one;
  ASSERT_TRUE(s.encode(batch(true), all).is_ok());
  TokenBatch b;
  b.add(seqs_[2], types_[2]);
  ASSERT_TRUE(s.encode(b, one).is_ok());
  for (int t = 0; t < one.lengths[0]; ++t)
    for (int j = 0; j < kHidden; ++j) EXPECT_FLOAT_EQ(one.token(0, t)[j], all.token(2, t)[j]);
}

// A model may read its word table from another's (EncoderWeights::shared_word: a fine-tuned
// encoder and its base): it encodes exactly as with its own copy, places the shared array itself
// on the CPU, does not count it in weight_bytes, and keeps it alive after the owner is gone.
TEST_F(EncoderTest, ASharedWordTableEncodesLikeAnOwnCopy) {
  auto owner = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(owner.ok()) << owner.status().message();
  const EncoderConfig& c = (*owner)->config();
  EncoderWeights own = (*owner)->weights();
  EncoderWeights shared = own;
  ASSERT_TRUE(share_word_table(shared, *owner));
  EXPECT_TRUE(shared.word.empty());
  EXPECT_FALSE(share_word_table(shared, *owner)) << "already shared";
  EncoderWeights other = own;
  other.word[5] += 1.0f;
  EXPECT_FALSE(share_word_table(other, *owner)) << "a table that differs (trained) is kept";
  EXPECT_EQ(other.word.size(), own.word.size());
  EXPECT_EQ(other.shared_word, nullptr);
  const LoadOptions fp32{.precision = Precision::kFp32};
  auto a = EncoderModel::from_host_weights(own, c, (*owner)->sentence(), fp32);
  auto b = EncoderModel::from_host_weights(shared, c, (*owner)->sentence(), fp32);
  ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.status().message() : a.status().message());
  EXPECT_EQ((*b)->device_weights().word.data(), (*owner)->weights().word.data()) << "no copy on the CPU";
  EXPECT_EQ((*a)->weight_bytes() - (*b)->weight_bytes(), own.word.size() * sizeof(float));
  // Sharing from a model that shares passes the array on (the intermediate model is not pinned).
  EncoderWeights third = own;
  ASSERT_TRUE(share_word_table(third, *b));
  EXPECT_EQ(third.shared_word.get(), (*b)->weights().shared_word.get());
  owner->reset();  // the shared table lives on with the model that reads it
  EncoderSession sa(*a), sb(*b);
  EncoderOutput oa, ob;
  ASSERT_TRUE(sa.encode(batch(true), oa).is_ok());
  ASSERT_TRUE(sb.encode(batch(true), ob).is_ok());
  ASSERT_EQ(oa.hidden.size(), ob.hidden.size());
  for (std::size_t i = 0; i < oa.hidden.size(); ++i) ASSERT_EQ(oa.hidden[i], ob.hidden[i]) << i;
  // A shared table of the wrong size is refused like an own one.
  EncoderWeights wrong = shared;
  wrong.shared_word = std::make_shared<const std::vector<float>>(std::vector<float>(3));
  EXPECT_FALSE(EncoderModel::from_host_weights(wrong, c, (*b)->sentence(), fp32).ok());
}

// Encoder::release keeps a session for reuse only while its scratch is within
// max_idle_scratch_bytes (per-bot encoders: a large batch's scratch is not held for the bot's life).
TEST_F(EncoderTest, IdleSessionsKeepAtMostTheirScratchLimit) {
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok()) << m.status().message();
  TokenBatch small;
  small.add(seqs_[0], types_[0]);
  const TokenBatch large = batch(true);
  EncoderOutput out;
  auto keep_all = Encoder::create(*m, nullptr);
  ASSERT_TRUE(keep_all->encode(small, out).is_ok());
  const std::size_t small_bytes = keep_all->idle_scratch_bytes();
  ASSERT_TRUE(keep_all->encode(large, out).is_ok());
  const std::size_t large_bytes = keep_all->idle_scratch_bytes();
  ASSERT_GT(small_bytes, 0u);
  ASSERT_GT(large_bytes, small_bytes) << "the large batch grew the session's scratch";

  EncoderOptions o;
  o.max_idle_scratch_bytes = small_bytes;
  auto bounded = Encoder::create(*m, nullptr, o);
  ASSERT_TRUE(bounded->encode(large, out).is_ok());
  EXPECT_EQ(bounded->idle_scratch_bytes(), 0u) << "the grown session is freed";
  ASSERT_TRUE(bounded->encode(small, out).is_ok());
  EXPECT_EQ(bounded->idle_scratch_bytes(), small_bytes) << "a session within the limit is kept";
}

TEST_F(EncoderTest, EqualLengthRunsShareOneAttentionCall) {
  // Runs of equal lengths go to attention as one batched call: mixed runs must still match the
  // f64 reference sequence by sequence (token types 0).
  std::vector<std::vector<int>> seqs = {seqs_[0], {1, 8, 6, 4, 2}, {1, 9, 9, 9, 2}, seqs_[1], seqs_[3], {1}};
  TokenBatch b;
  for (const auto& q : seqs) b.add(q);
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok());
  EncoderSession s(*m);
  EncoderOutput out;
  ASSERT_TRUE(s.encode(b, out).is_ok());
  double err = 0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const Mat ref = reference(weights_, seqs[i], std::vector<int>(seqs[i].size(), 0), true);
    for (int t = 0; t < out.lengths[i]; ++t)
      for (int j = 0; j < kHidden; ++j) err = std::max(err, std::fabs(ref[t * kHidden + j] - out.token(i, t)[j]));
  }
  EXPECT_LT(err, 2e-4);
}

TEST_F(EncoderTest, Int8PresetsStayCloseToFp32) {
  const std::string d = dir(false);
  auto f = EncoderModel::load(d, {.precision = Precision::kFp32});
  ASSERT_TRUE(f.ok());
  EncoderSession sf(*f);
  auto ef = sf.embed(batch(true));
  ASSERT_TRUE(ef.ok());
  LoadOptions both;  // every linear int8 with two-pass activations AND weights (4 products each)
  both.int8_linears = kAllLinears;
  both.int8_two_pass = kAllLinears;
  both.int8_weight_two_pass = kAllLinears;
  both.bf16_linears = 0;
  LoadOptions weights_only = LoadOptions::fast_int8();  // two-pass weights, one activation pass
  weights_only.int8_weight_two_pass = kFfnOutLinear | kQkvLinear;
  weights_only.bf16_linears = 0;
  LoadOptions no_bf16;  // the preset CPUs without AVX-512 BF16 get (two-pass int8, FFN out FP32)
  no_bf16.bf16_linears = 0;
  no_bf16.int8_linears = no_bf16.int8_linears_without_bf16;
  LoadOptions all_bf16;  // every linear BF16 (FP32 where the CPU lacks AVX-512 BF16)
  all_bf16.int8_linears = 0;
  all_bf16.int8_linears_without_bf16 = 0;
  for (const LoadOptions& o : {LoadOptions{}, LoadOptions::fast_int8(), both, weights_only, no_bf16, all_bf16}) {
    auto q = EncoderModel::load(d, o);
    ASSERT_TRUE(q.ok()) << q.status().message();
    EXPECT_LE((*q)->weight_bytes(), (*f)->weight_bytes());
    // Which linears are int8: int8_linears, or the no-BF16 preset where BF16 was asked for but
    // this CPU (or PARLEY_CPU_ISA) has no fast BF16.
    const bool bf16 = kernels::cpu::bf16_linear_fast() && o.bf16_linears != 0;
    const std::uint32_t int8 = o.bf16_linears != 0 && !bf16 ? o.int8_linears_without_bf16 : o.int8_linears;
    const LayerWeights& l0 = (*q)->weights().layers[0];
    EXPECT_EQ(l0.qkv.int8, (int8 & kQkvLinear) != 0);
    EXPECT_EQ(l0.qkv.bf16, bf16 && !l0.qkv.int8);
    EXPECT_EQ(l0.ffn_out.weight_two_pass, (int8 & o.int8_weight_two_pass & kFfnOutLinear) != 0);
    EncoderSession sq(*q);
    auto eq = sq.embed(batch(true));
    ASSERT_TRUE(eq.ok());
    for (std::size_t i = 0; i < ef->count(); ++i) {
      double dot = 0;
      for (int j = 0; j < ef->dim; ++j) dot += ef->row(i)[j] * eq->row(i)[j];
      EXPECT_GT(dot, 0.995) << "sequence " << i << " linears " << o.int8_linears << " two-pass " << o.int8_two_pass
                            << " weight two-pass " << o.int8_weight_two_pass;
    }
  }
}

// LoadOptions::sparse24: a model pruned to 2:4 runs its linears on the backend's 2:4 GEMM with
// the dense W8A8 GEMM's result on the same pruned weights (the int32 sums are exact both ways),
// holding the packed 2:4 copy instead of the dense int8 weights; a model that is not 2:4 is
// refused naming the problem.
TEST_F(EncoderTest, Sparse24RunsPrunedWeightsLikeTheDenseInt8Path) {
  auto f = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(f.ok()) << f.status().message();
  EncoderWeights pruned = (*f)->weights();
  ASSERT_TRUE(prune_linears_2to4(pruned).is_ok());
  auto dense = EncoderModel::from_host_weights(pruned, (*f)->config(), (*f)->sentence(), LoadOptions::fast_int8());
  auto sparse = EncoderModel::from_host_weights(pruned, (*f)->config(), (*f)->sentence(), LoadOptions::sparse24_int8());
  ASSERT_TRUE(dense.ok()) << dense.status().message();
  ASSERT_TRUE(sparse.ok()) << sparse.status().message();
  const DeviceLinear& d0 = (*sparse)->device_weights().layers[0].qkv;
  EXPECT_TRUE(d0.sparse24);
  EXPECT_FALSE(d0.two_pass) << "2:4 linears run one activation pass";
  EXPECT_EQ(d0.wq.size, 0u) << "the dense int8 weights are not kept on the device";
  EXPECT_LT((*sparse)->weight_bytes(), (*dense)->weight_bytes());
  EncoderSession sd(*dense), ss(*sparse);
  EncoderOutput od, os;
  ASSERT_TRUE(sd.encode(batch(true), od).is_ok());
  ASSERT_TRUE(ss.encode(batch(true), os).is_ok());
  ASSERT_EQ(od.offsets, os.offsets);
  double err = 0;
  for (std::size_t b = 0; b < seqs_.size(); ++b) {
    for (int t = 0; t < od.lengths[b]; ++t) {
      for (int j = 0; j < kHidden; ++j) err = std::max(err, static_cast<double>(std::fabs(od.token(b, t)[j] - os.token(b, t)[j])));
    }
  }
  EXPECT_LT(err, 1e-5) << "2:4 GEMM and dense W8A8 GEMM disagree on the same pruned weights";

  auto unpruned = EncoderModel::from_host_weights((*f)->weights(), (*f)->config(), (*f)->sentence(),
                                                  LoadOptions::sparse24_int8());
  ASSERT_FALSE(unpruned.ok());
  EXPECT_EQ(unpruned.status().code(), StatusCode::kInvalidArgument) << unpruned.status().to_string();
  EXPECT_NE(unpruned.status().message().find("2:4"), std::string::npos) << unpruned.status().message();
}

TEST(PoolingTest, MeanClsMaxAndNormalize) {
  EncoderOutput out;
  out.hidden_size = 2;
  out.lengths = {2, 1};
  out.offsets = {0, 2, 3};
  out.hidden = {1, 2, 3, -4, 5, 0};
  Embeddings mean = pool(out, Pooling::kMean, false);
  EXPECT_EQ(mean.data, (std::vector<float>{2, -1, 5, 0}));
  Embeddings cls = pool(out, Pooling::kCls, false);
  EXPECT_EQ(cls.data, (std::vector<float>{1, 2, 5, 0}));
  Embeddings mx = pool(out, Pooling::kMax, false);
  EXPECT_EQ(mx.data, (std::vector<float>{3, 2, 5, 0}));
  Embeddings norm = pool(out, Pooling::kMean, true);
  EXPECT_NEAR(norm.row(0)[0], 2 / std::sqrt(5.0), 1e-6);
  EXPECT_NEAR(norm.row(1)[0], 1.0, 1e-6);
}

TEST(FastErfTest, MatchesStdErf) {
  double worst = 0;
  for (float x = -6.0f; x <= 6.0f; x += 0.001f) worst = std::max(worst, std::fabs(fast_erf(x) - std::erf(static_cast<double>(x))));
  EXPECT_LT(worst, 1e-6);
}

TEST_F(EncoderTest, ErrorsNameTheirCause) {
  // Missing tensor.
  TinyModel saved = weights_;
  weights_.t.erase("encoder.layer.1.output.dense.bias");
  weights_.shapes.erase("encoder.layer.1.output.dense.bias");
  auto m1 = EncoderModel::load(dir(false));
  ASSERT_FALSE(m1.ok());
  EXPECT_NE(m1.status().message().find("encoder.layer.1.output.dense.bias"), std::string::npos) << m1.status().message();
  // Wrong shape.
  weights_ = saved;
  weights_.shapes["encoder.layer.0.intermediate.dense.weight"] = {kHidden, kInter};
  auto m2 = EncoderModel::load(dir(false));
  ASSERT_FALSE(m2.ok());
  EXPECT_NE(m2.status().message().find("intermediate.dense.weight"), std::string::npos) << m2.status().message();
  // Bad input ids / lengths.
  weights_ = saved;
  auto m = EncoderModel::load(dir(false), {.precision = Precision::kFp32});
  ASSERT_TRUE(m.ok());
  EncoderSession s(*m);
  EncoderOutput out;
  TokenBatch b;
  b.add(std::vector<int>{1, 2, kVocab});
  EXPECT_NE(s.encode(b, out).message().find("outside the vocabulary"), std::string::npos);
  TokenBatch too_long;
  too_long.add(std::vector<int>(kMaxPos + 1, 3));
  EXPECT_EQ(s.encode(too_long, out).code(), StatusCode::kInvalidArgument);
  TokenBatch empty_seq;
  empty_seq.add(std::vector<int>{});
  EXPECT_EQ(s.encode(empty_seq, out).code(), StatusCode::kInvalidArgument);
  TokenBatch bad_type;
  bad_type.add(std::vector<int>{1, 2}, std::vector<int>{0, 2});
  EXPECT_NE(s.encode(bad_type, out).message().find("token type"), std::string::npos);
  // Config problems.
  EXPECT_FALSE(parse_config_json(R"({"model_type":"gpt2","vocab_size":5})").ok());
  EXPECT_FALSE(parse_config_json(R"({"model_type":"bert","vocab_size":50,"hidden_size":16,"num_hidden_layers":1,)"
                                 R"("num_attention_heads":5,"intermediate_size":8})").ok());
  EXPECT_FALSE(parse_config_json("{not json").ok());
  // MPNet's bucket count comes from the file: bounded, and named when out of range.
  auto buckets = parse_config_json(R"({"model_type":"mpnet","vocab_size":50,"hidden_size":16,"num_hidden_layers":1,)"
                                   R"("num_attention_heads":4,"intermediate_size":32,"pad_token_id":1,)"
                                   R"("relative_attention_num_buckets":100000})");
  ASSERT_FALSE(buckets.ok());
  EXPECT_NE(buckets.status().message().find("relative_attention_num_buckets 100000 out of range"), std::string::npos)
      << buckets.status().message();
  EXPECT_EQ(EncoderModel::load("/nonexistent/dir").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace parley::encoder
