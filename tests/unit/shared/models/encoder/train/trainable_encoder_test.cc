// Gradient checks of the whole trainable encoder (every parameter kind, all layers / top layers
// + LoRA / 2:4 masks) against central finite differences of its own forward pass, the exported
// weights against the inference encoder, and a tiny joint fine-tuning run that must learn.
// Why: the fine-tuning engine is only as good as its gradients. Depends on
// shared/models/encoder/train, GoogleTest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/ops/bf16_linear.h"
#include "shared/models/encoder/session.h"
#include "shared/models/encoder/train/joint_trainer.h"
#include "shared/models/encoder/train/trainable_encoder.h"
#include "tests/support/tiny_encoder.h"
#include "tests/support/toy_joint_task.h"

namespace parley::encoder::train {
namespace {

EncoderConfig tiny_config() { return testing::tiny_encoder_config(); }

EncoderWeights tiny_weights(const EncoderConfig& c, std::uint32_t seed) { return testing::random_encoder_weights(c, seed); }

TokenBatch tiny_batch() {
  TokenBatch b;
  b.add(std::vector<std::int32_t>{1, 5, 9, 2});
  b.add(std::vector<std::int32_t>{1, 7, 7, 30, 12, 2}, std::vector<std::int32_t>{0, 0, 0, 1, 1, 1});
  b.add(std::vector<std::int32_t>{1, 3, 2});
  return b;
}

// loss = sum(hidden * R): dLoss/dHidden = R.
double loss_of(TrainableEncoder& enc, const TokenBatch& b, const std::vector<float>& r) {
  enc.reseed_dropout(5);  // with dropout: the masks of the pass whose gradients are checked
  EXPECT_TRUE(enc.forward(b).is_ok());
  double s = 0;
  for (std::size_t i = 0; i < r.size(); ++i) s += static_cast<double>(enc.hidden()[i]) * r[i];
  return s;
}

// MPNet's relative position bias table (radius 128) on every layer (the tiny batch keeps its
// token types).
EncoderConfig relative_config() {
  EncoderConfig c = tiny_config();
  c.relative_buckets = 32;
  return c;
}

EncoderWeights relative_weights(const EncoderConfig& c, std::uint32_t seed) {
  EncoderWeights w = tiny_weights(c, seed);
  std::mt19937 rng(seed + 100);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  std::vector<float> buckets(static_cast<std::size_t>(c.relative_buckets * c.heads));
  for (float& x : buckets) x = nd(rng);
  w.relative_bias = *expand_relative_bias(buckets, c);
  return w;
}

void check_gradients(const TrainableOptions& opt, int expect_params_at_least, bool relative = false) {
  const EncoderConfig c = relative ? relative_config() : tiny_config();
  const EncoderWeights w = relative ? relative_weights(c, 3) : tiny_weights(c, 3);
  auto made = TrainableEncoder::create(w, c, models::ModelDevice::cpu(), opt);
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  TrainableEncoder& enc = **made;
  const TokenBatch b = tiny_batch();
  const std::int64_t n = b.total_tokens();
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> r(static_cast<std::size_t>(n * c.hidden));
  for (float& x : r) x = nd(rng);
  // Make LoRA B non-zero so the A gradients are not trivially zero.
  for (Param* p : enc.params()) {
    if (p->name.find("lora_b") != std::string::npos) {
      for (std::int64_t i = 0; i < p->size; ++i) p->data()[i] = 0.1f * nd(rng);
    }
  }
  enc.reseed_dropout(5);
  ASSERT_TRUE(enc.forward(b).is_ok());
  std::copy(r.begin(), r.end(), enc.hidden_grad());
  ASSERT_TRUE(enc.backward().is_ok());
  const std::vector<Param*> params = enc.params();
  ASSERT_GE(static_cast<int>(params.size()), expect_params_at_least);
  std::vector<std::vector<float>> grads;
  for (Param* p : params) grads.emplace_back(p->g(), p->g() + p->size);
  int checked = 0;
  for (std::size_t pi = 0; pi < params.size(); ++pi) {
    Param& p = *params[pi];
    std::uniform_int_distribution<std::int64_t> pick(0, p.size - 1);
    for (int k = 0; k < 4; ++k) {
      std::int64_t i = pick(rng);
      if (p.name == "embeddings.position" || p.name == "embeddings.token_type") {
        i = (i % 2) * c.hidden + (i % c.hidden);  // rows the batch uses
      }
      if (p.mask && p.mask.as<std::uint8_t>()[i] == 0) continue;
      const float keep = p.data()[i];
      const float e = 1e-2f;
      p.data()[i] = keep + e;
      const double lp = loss_of(enc, b, r);
      p.data()[i] = keep - e;
      const double lm = loss_of(enc, b, r);
      p.data()[i] = keep;
      const double fd = (lp - lm) / (2 * e);
      const float g = grads[pi][static_cast<std::size_t>(i)];
      EXPECT_NEAR(g, fd, 3e-2 * std::max(1.0, std::fabs(fd))) << p.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(TrainableEncoder, AllLayersGradientsMatchFiniteDifferences) {
  check_gradients({}, 2 * 12 + 4);
}

TEST(TrainableEncoder, TopLayerPlusLoraGradientsMatchFiniteDifferences) {
  TrainableOptions o;
  o.full_layers = 1;
  o.lora_layers = 1;
  o.lora_rank = 2;
  check_gradients(o, 12 + 8);
}

TEST(TrainableEncoder, DropoutGradientsMatchAndMasksDrawAfresh) {
  TrainableOptions o;
  o.dropout = 0.3f;
  check_gradients(o, 2 * 12 + 4);
  // The masks zero about `dropout` of the values and differ between passes.
  const EncoderConfig c = tiny_config();
  auto enc = TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), o);
  auto plain = TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), {});
  ASSERT_TRUE(enc.ok() && plain.ok());
  const TokenBatch b = tiny_batch();
  const std::size_t values = static_cast<std::size_t>(b.total_tokens() * c.hidden);
  ASSERT_TRUE((*enc)->forward(b).is_ok());
  const std::vector<float> first((*enc)->hidden(), (*enc)->hidden() + values);
  ASSERT_TRUE((*enc)->forward(b).is_ok());
  const std::vector<float> second((*enc)->hidden(), (*enc)->hidden() + values);
  ASSERT_TRUE((*plain)->forward(b).is_ok());
  const std::vector<float> none((*plain)->hidden(), (*plain)->hidden() + values);
  double moved = 0.0, differs = 0.0;
  for (std::size_t i = 0; i < values; ++i) {
    moved += std::fabs(first[i] - none[i]);
    differs += std::fabs(first[i] - second[i]);
  }
  EXPECT_GT(moved / static_cast<double>(values), 1e-3) << "dropout changed nothing";
  EXPECT_GT(differs / static_cast<double>(values), 1e-3) << "the same masks twice";
  TrainableOptions bad;
  bad.dropout = 1.0f;
  EXPECT_FALSE(TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), bad).ok());
}

TEST(TrainableEncoder, Sparse24MasksHoldAndGradientsMatch) {
  TrainableOptions o;
  o.sparse24 = true;
  check_gradients(o, 2 * 12);
  const EncoderConfig c = tiny_config();
  auto enc = TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), o);
  ASSERT_TRUE(enc.ok());
  for (Param* p : (*enc)->params()) {
    if (!p->mask) continue;
    const std::int64_t cols = p->name.find("ffn_out") != std::string::npos ? c.intermediate : c.hidden;
    for (std::int64_t g = 0; g < p->size; g += 4) {
      int kept = 0;
      for (int k = 0; k < 4; ++k) kept += p->mask.as<std::uint8_t>()[g + k];
      ASSERT_EQ(kept, 2) << p->name << " group at " << g << " (cols " << cols << ")";
    }
  }
}

// Mixed precision (TrainableOptions::bf16): bf16 rounding makes finite differences meaningless,
// so the bf16 pass is held to the f32 one instead: activations and every gradient within bf16's
// error, and (where the CPU runs bf16) not equal to f32, or the bf16 products never ran.
TEST(TrainableEncoder, Bf16MixedPrecisionTracksF32) {
  const EncoderConfig c = tiny_config();
  TrainableOptions mixed;
  mixed.bf16 = true;
  auto f32 = TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), {});
  auto b16 = TrainableEncoder::create(tiny_weights(c, 3), c, models::ModelDevice::cpu(), mixed);
  ASSERT_TRUE(f32.ok() && b16.ok());
  const TokenBatch b = tiny_batch();
  const std::size_t values = static_cast<std::size_t>(b.total_tokens() * c.hidden);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> r(values);
  for (float& x : r) x = nd(rng);
  for (TrainableEncoder* e : {f32->get(), b16->get()}) {
    ASSERT_TRUE(e->forward(b).is_ok());
    std::copy(r.begin(), r.end(), e->hidden_grad());
    ASSERT_TRUE(e->backward().is_ok());
  }
  auto rel_l2 = [](const float* x, const float* y, std::int64_t n) {
    double d = 0, s = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      d += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
      s += static_cast<double>(y[i]) * y[i];
    }
    return std::sqrt(d / std::max(s, 1e-30));
  };
  const double hidden_err = rel_l2((*b16)->hidden(), (*f32)->hidden(), static_cast<std::int64_t>(values));
  EXPECT_LT(hidden_err, 2e-2);
  const std::vector<Param*> pf = (*f32)->params(), pb = (*b16)->params();
  ASSERT_EQ(pf.size(), pb.size());
  double worst = 0;
  for (std::size_t i = 0; i < pf.size(); ++i) {
    const double e = rel_l2(pb[i]->g(), pf[i]->g(), pf[i]->size);
    EXPECT_LT(e, 5e-2) << pf[i]->name;
    worst = std::max(worst, e);
  }
  std::printf("bf16 against f32: hidden rel. L2 %.2e, worst gradient rel. L2 %.2e\n", hidden_err, worst);
  if (kernels::cpu::bf16_linear_fast()) {
    EXPECT_GT(hidden_err, 0.0) << "bf16 requested but every product ran in f32";
  } else {
    EXPECT_EQ(hidden_err, 0.0) << "no AVX512_BF16: the products must stay f32";
  }
}

void check_forward_and_export(bool relative) {
  const EncoderConfig c = relative ? relative_config() : tiny_config();
  EncoderWeights w = relative ? relative_weights(c, 5) : tiny_weights(c, 5);
  auto enc = TrainableEncoder::create(w, c, models::ModelDevice::cpu(), {});
  ASSERT_TRUE(enc.ok());
  const TokenBatch b = tiny_batch();
  ASSERT_TRUE((*enc)->forward(b).is_ok());
  auto exported = (*enc)->export_weights();
  ASSERT_TRUE(exported.ok());
  LoadOptions lo;
  lo.precision = Precision::kFp32;
  auto model = EncoderModel::from_host_weights(std::move(*exported), c, SentenceConfig{}, lo);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EncoderSession session(*model);
  EncoderOutput out;
  ASSERT_TRUE(session.encode(b, out).is_ok());
  ASSERT_EQ(out.hidden.size(), static_cast<std::size_t>(b.total_tokens() * c.hidden));
  for (std::size_t i = 0; i < out.hidden.size(); ++i) EXPECT_NEAR(out.hidden[i], (*enc)->hidden()[i], 1e-4);
  EXPECT_EQ((*model)->weights().relative_bias, w.relative_bias) << "the bias table survives the export";
}

TEST(TrainableEncoder, ForwardEqualsTheInferenceEncoderAndExportRoundTrips) { check_forward_and_export(false); }

TEST(TrainableEncoder, RelativePositionBiasForwardExportAndGradients) {
  check_forward_and_export(true);
  check_gradients({}, 2 * 12 + 4, true);
}

TEST(JointTrainer, LearnsAToyIntentAndTagTask) {
  const EncoderConfig c = tiny_config();
  const std::vector<JointExample> data = testing::toy_joint_examples();
  JointOptions o = testing::toy_joint_options();
  int calls = 0;
  float first_loss = 0.0f;
  o.progress = [&](const JointProgress& p) {
    if (calls == 0) first_loss = p.loss;
    ++calls;
    EXPECT_LE(p.step, p.steps);
  };
  auto r = train_joint(tiny_weights(c, 9), c, data, 2, 2, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(calls, r->steps);
  EXPECT_GT(first_loss, 1.0f) << "two fresh heads start near 2 ln 2";
  EXPECT_LT(r->final_loss, 0.25f * first_loss) << "the toy task is learnable";
  // The same run in mixed precision learns it as well.
  JointOptions mixed = o;
  mixed.encoder.bf16 = true;
  calls = 0;
  auto r16 = train_joint(tiny_weights(c, 9), c, data, 2, 2, mixed);
  ASSERT_TRUE(r16.ok()) << r16.status().to_string();
  EXPECT_LT(r16->final_loss, 0.25f * first_loss) << "bf16 mixed precision did not learn the toy task";
  o.cancelled = [] { return true; };
  auto cancelled_run = train_joint(tiny_weights(c, 9), c, data, 2, 2, o);
  EXPECT_EQ(cancelled_run.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace parley::encoder::train
