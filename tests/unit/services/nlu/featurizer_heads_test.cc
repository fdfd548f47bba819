// EncoderFeaturizer with a fine-tuned bot's JointHeads (services/nlu/joint_heads.h): every word's
// contextual row is [mean hidden state | tag logits of its first sub-word], each text gets the
// intent head's logits on [CLS]; without heads the rows are the hidden states alone. On a tiny
// random encoder (no download).
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "services/nlu/featurizer.h"
#include "shared/models/encoder/encoder.h"
#include "shared/text/wordpiece.h"
#include "tests/support/tiny_encoder.h"

namespace parley::nlu {
namespace {

std::shared_ptr<const encoder::Encoder> tiny_encoder() {
  const std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "book", "a", "table",
                                          "for", "4", "un", "##aff", "##able", "at", "7", "##pm"};
  auto tok = text::WordPieceTokenizer::create(vocab, {});
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  const encoder::EncoderConfig c = encoder::testing::tiny_encoder_config(static_cast<std::int64_t>(vocab.size()), 8, 1);
  encoder::EncoderWeights w = encoder::testing::random_encoder_weights(c, 11, 0.4f);
  encoder::LoadOptions lo;
  lo.precision = encoder::Precision::kFp32;
  auto model = encoder::EncoderModel::from_host_weights(std::move(w), c, encoder::SentenceConfig{}, lo);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  return encoder::Encoder::create(std::move(*model), std::shared_ptr<const text::WordPieceTokenizer>(std::move(*tok)));
}

TEST(FeaturizerHeads, WordsGetTagLogitsAndTextsIntentLogits) {
  auto enc = tiny_encoder();
  auto heads = std::make_shared<JointHeads>();
  heads->hidden = 8;
  heads->labels = 3;
  heads->tags = 5;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto* v : {&heads->label_w, &heads->tag_w}) v->resize(static_cast<std::size_t>(8 * (v == &heads->label_w ? 3 : 5)));
  heads->label_b.resize(3);
  heads->tag_b.resize(5);
  for (auto* v : {&heads->label_w, &heads->label_b, &heads->tag_w, &heads->tag_b}) {
    for (float& x : *v) x = u(rng);
  }
  const std::vector<std::string> texts = {"book a table for 4 at 7pm", "unaffable"};
  EncoderFeaturizer plain(enc);
  EncoderFeaturizer stacked(enc, 128, false, heads);
  EXPECT_EQ(plain.context_dim(), 8);
  EXPECT_EQ(stacked.context_dim(), 8 + 5);
  std::vector<TextFeatures> a, b;
  ASSERT_TRUE(plain.featurize(texts, a).is_ok());
  ASSERT_TRUE(stacked.featurize(texts, b).is_ok());
  ASSERT_EQ(a.size(), 2u);
  for (std::size_t t = 0; t < texts.size(); ++t) {
    EXPECT_TRUE(a[t].intent_logits.empty());
    ASSERT_EQ(b[t].intent_logits.size(), 3u);
    ASSERT_EQ(b[t].size(), a[t].size());
    EXPECT_EQ(b[t].context_dim, 13);
    EXPECT_EQ(b[t].sentence, a[t].sentence) << "the sentence vector (out-of-scope similarity) is unchanged";
    for (std::size_t w = 0; w < a[t].size(); ++w) {
      // The first 8 floats are the plain row; a one-sub-word word's tag logits are the head
      // applied to exactly that row (its mean over one token is the token's hidden state).
      const float* pa = a[t].context_row(w);
      const float* pb = b[t].context_row(w);
      for (int k = 0; k < 8; ++k) EXPECT_EQ(pb[k], pa[k]);
      if (a[t].word_text[w] != "unaffable" && a[t].word_text[w] != "7pm") {
        float want[5];
        JointHeads::apply(heads->tag_w, heads->tag_b, pa, 8, want);
        for (int k = 0; k < 5; ++k) EXPECT_FLOAT_EQ(pb[8 + k], want[k]) << texts[t] << " word " << w;
      }
    }
  }
  // "unaffable" is three sub-words: its logits come from the first one, not the mean row.
  float from_mean[5];
  JointHeads::apply(heads->tag_w, heads->tag_b, a[1].context_row(0), 8, from_mean);
  EXPECT_NE(b[1].context_row(0)[8], from_mean[0]);
}

// Heads with a NaN weight (a broken fine-tuning): featurize refuses the text instead of handing
// the bot's heads features that would make every weight they learn NaN.
TEST(FeaturizerHeads, NonFiniteFeaturesAreAnErrorNamingTheText) {
  auto enc = tiny_encoder();
  auto heads = std::make_shared<JointHeads>();
  heads->hidden = 8;
  heads->labels = 2;
  heads->tags = 3;
  heads->label_w.assign(16, 0.1f);
  heads->label_b.assign(2, 0.0f);
  heads->tag_w.assign(24, 0.1f);
  heads->tag_b = {0.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f};
  EncoderFeaturizer stacked(enc, 128, false, heads);
  std::vector<TextFeatures> out;
  const std::vector<std::string> texts = {"book a table"};
  const Status s = stacked.featurize(texts, out);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("non-finite features for text 0: \"book a table\""), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace parley::nlu
