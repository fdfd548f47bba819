// The sentence encoder on cuda:0 against the CPU path (label gpu): embeddings of varied sentences
// (and token-level hidden states) for the INT8 default, the BF16 preset and FP32, cosine >= 0.999
// per sentence (the bar), and a batch split across two sessions (two streams) equal to
// one session's answer; the 2:4 encoder on sparse tensor cores against the CPU, timed against
// dense INT8. Skips with "no CUDA device" / a missing model (fails instead under
// PARLEY_GPU_TEST_STRICT=1, as tools/gpu-check runs it). Model: $PARLEY_ENCODER_DIR or
// $PARLEY_MODEL_DIR/encoder-minilm.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "shared/common/model_paths.h"
#include "shared/engine/device.h"
#include "shared/models/encoder/encoder.h"
#include "shared/models/encoder/session.h"
#include "tests/support/gpu_strict.h"

namespace parley::encoder {
namespace {

bool strict() { return parley::testing::gpu_test_strict(); }

std::string model_dir() {
  if (const char* d = std::getenv("PARLEY_ENCODER_DIR"); d != nullptr && *d != '\0') return d;
  return default_encoder_dir();
}

const std::vector<std::string> kSentences = {
    "book a table for four at 7pm",
    "Can I get my money back if the shoes do not fit?",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "¿Dónde está la estación de tren más cercana?",
    "東京の天気はどうですか",
    "play some jazz 🎷 in the living room",
    "a",
    "The quick brown fox jumps over the lazy dog, then it naps in the warm afternoon sun while the farmer "
    "counts his chickens twice and wonders why the dog never moved.",
};

double cosine(std::span<const float> a, std::span<const float> b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}

class EncoderGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (engine::cuda_device_count() == 0) {
      if (strict()) FAIL() << "no CUDA device (PARLEY_GPU_TEST_STRICT=1)";
      GTEST_SKIP() << "no CUDA device";
    }
    if (!std::filesystem::exists(model_dir() + "/model.safetensors")) {
      if (strict()) FAIL() << "no encoder model in " << model_dir();
      GTEST_SKIP() << "no encoder model in " << model_dir() << " (tools/models/fetch)";
    }
  }
};

TEST_F(EncoderGpu, EmbeddingsMatchTheCpuPath) {
  struct Preset {
    const char* name;
    LoadOptions options;
  };
  LoadOptions fp32;
  fp32.precision = Precision::kFp32;
  for (const Preset& p : {Preset{"default", LoadOptions{}}, Preset{"bf16", LoadOptions::bf16()}, Preset{"fp32", fp32}}) {
    EncoderOptions cpu_o, gpu_o;
    cpu_o.load = p.options;
    gpu_o.load = p.options;
    gpu_o.load.device = engine::Device::cuda(0);
    auto cpu = Encoder::open(model_dir(), cpu_o);
    ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
    auto gpu = Encoder::open(model_dir(), gpu_o);
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    auto a = (*cpu)->embed(kSentences);
    auto b = (*gpu)->embed(kSentences);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().to_string() << b.status().to_string();
    double min_cos = 1.0;
    for (std::size_t i = 0; i < kSentences.size(); ++i) {
      const double c = cosine(a->row(i), b->row(i));
      min_cos = std::min(min_cos, c);
      EXPECT_GE(c, 0.999) << p.name << ": " << kSentences[i];
    }
    // Token level (what NLU's slot tagger reads).
    std::vector<text::Encoding> enc_a, enc_b;
    EncoderOutput ha, hb;
    ASSERT_TRUE((*cpu)->encode_texts(kSentences, enc_a, ha).is_ok());
    ASSERT_TRUE((*gpu)->encode_texts(kSentences, enc_b, hb).is_ok());
    ASSERT_EQ(ha.hidden.size(), hb.hidden.size());
    double min_tok = 1.0;
    for (std::size_t s = 0; s < ha.size(); ++s)
      for (std::int64_t t = 0; t < ha.lengths[s]; ++t) min_tok = std::min(min_tok, cosine(ha.token(s, t), hb.token(s, t)));
    std::cout << "[ INFO     ] encoder " << p.name << " on cuda:0 vs cpu: min sentence cosine " << min_cos
              << ", min token cosine " << min_tok << "\n";
    EXPECT_GE(min_tok, 0.995) << p.name;
  }
}

TEST_F(EncoderGpu, SessionsOnTwoStreamsAgree) {
  LoadOptions o;
  o.device = engine::Device::cuda(0);
  auto model = EncoderModel::load(model_dir(), o);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->device().device(), engine::Device::cuda(0));
  EncoderSession one(*model), two(*model);
  TokenBatch b;
  b.add(std::vector<std::int32_t>{101, 2000, 2001, 2002, 102});
  b.add(std::vector<std::int32_t>{101, 3000, 102});
  auto x = one.embed(b);
  auto y = two.embed(b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->data, y->data);  // same kernels, same inputs: bit-identical
}

// The 2:4 encoder (LoadOptions::sparse24_int8, linears pruned to 2:4 by magnitude) on the CUDA
// backend's sparse tensor-core GEMM against the same model on the CPU, and its speed against the
// dense W8A8 model on the GPU (printed: the figure issue 17 asks for where a GPU is lent).
TEST_F(EncoderGpu, Sparse24MatchesTheCpuAndIsTimedAgainstDenseInt8) {
  auto f = EncoderModel::load(model_dir(), {.precision = Precision::kFp32});
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EncoderWeights pruned = (*f)->weights();
  ASSERT_TRUE(prune_linears_2to4(pruned).is_ok());
  auto load = [&](LoadOptions o, engine::Device d) {
    o.device = d;
    return EncoderModel::from_host_weights(pruned, (*f)->config(), (*f)->sentence(), o);
  };
  auto cpu = load(LoadOptions::sparse24_int8(), engine::Device::cpu());
  auto gpu = load(LoadOptions::sparse24_int8(), engine::Device::cuda(0));
  auto gpu_dense = load(LoadOptions::fast_int8(), engine::Device::cuda(0));
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  ASSERT_TRUE(gpu_dense.ok()) << gpu_dense.status().to_string();
  ASSERT_TRUE((*gpu)->device_weights().layers[0].qkv.sparse24);
  TokenBatch b;
  for (int i = 0; i < 32; ++i) {
    std::vector<std::int32_t> ids(128);
    for (std::size_t t = 0; t < ids.size(); ++t) ids[t] = 1000 + static_cast<std::int32_t>((i * 7919 + t * 104729) % 29000);
    ids.front() = 101;
    ids.back() = 102;
    b.add(ids);
  }
  EncoderSession sc(*cpu), sg(*gpu), sd(*gpu_dense);
  auto ec = sc.embed(b);
  auto eg = sg.embed(b);
  ASSERT_TRUE(ec.ok() && eg.ok()) << ec.status().to_string() << eg.status().to_string();
  double min_cos = 1.0;
  for (std::size_t i = 0; i < ec->count(); ++i) min_cos = std::min(min_cos, cosine(ec->row(i), eg->row(i)));
  EXPECT_GE(min_cos, 0.999);
  auto time_ms = [&](EncoderSession& s) {
    EncoderOutput out;
    (void)s.encode(b, out);  // warm-up
    std::vector<double> ms;
    for (int r = 0; r < 20; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_TRUE(s.encode(b, out).is_ok());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  const double dense_ms = time_ms(sd), sparse_ms = time_ms(sg);
  std::cout << "[ INFO     ] 2:4 encoder on cuda:0 vs cpu: min cosine " << min_cos << "; batch 32 x 128 tokens: dense W8A8 "
            << dense_ms << " ms, 2:4 W8A8 " << sparse_ms << " ms (" << dense_ms / sparse_ms << "x)\n";
}

}  // namespace
}  // namespace parley::encoder
