// The trainable heads on the deterministic hash featurizer: BIO mapping, the linear layer's
// optimizer, the CRF slot tagger (learns spans, never emits an invalid BIO path, deterministic)
// and the intent classifier (learns, class weights rescue a rare intent).
#include <gtest/gtest.h>

#include <random>

#include "services/nlu/bio.h"
#include "services/nlu/featurizer.h"
#include "services/nlu/intent_classifier.h"
#include "services/nlu/slot_tagger.h"

namespace parley::nlu {
namespace {

TEST(Bio, SpansToTagsAndBack) {
  std::string text = "play hey jude by the beatles";
  auto words = split_words(text);
  ASSERT_EQ(words.size(), 6u);
  // "hey jude" = slot 0, "the beatles" = slot 1; a span that cuts a word still covers it.
  auto tags = spans_to_tags(words, {{0, {5, 13}}, {1, {18, 24}}});
  EXPECT_EQ(tags, (std::vector<int>{0, 1, 2, 0, 3, 4}));
  auto spans = tags_to_spans(tags);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[1].slot, 1);
  EXPECT_EQ(spans[1].first, 4u);
  EXPECT_EQ(spans[1].last, 5u);
  // A stray I- starts a span; B after B starts a new one.
  auto odd = tags_to_spans({2, 1, 1, 0});
  ASSERT_EQ(odd.size(), 3u);
  EXPECT_FALSE(BioTags::allowed(-1, 2));
  EXPECT_FALSE(BioTags::allowed(0, 2));
  EXPECT_FALSE(BioTags::allowed(3, 2));
  EXPECT_TRUE(BioTags::allowed(1, 2));
  EXPECT_TRUE(BioTags::allowed(2, 2));
  BioTags bio({"song", "artist"});
  EXPECT_EQ(bio.size(), 5);
  EXPECT_EQ(bio.tag_name(4), "I-artist");
}

TEST(Words, SplitLikeBert) {
  std::string text = "Hi, it's 7pm!";
  auto w = split_words(text);
  ASSERT_EQ(w.size(), 7u);
  EXPECT_EQ(text.substr(w[3].begin, w[3].end - w[3].begin), "'");
  EXPECT_EQ(text.substr(w[5].begin, w[5].end - w[5].begin), "7pm");
  EXPECT_EQ(find_invalid_utf8("ok \xc3\xa9"), std::nullopt);
  EXPECT_EQ(find_invalid_utf8("bad \xc3\x28"), 4u);
  EXPECT_EQ(excerpt(std::string(100, 'x'), 10), "xxxxxxxxxx...");
}

// Synthetic "play <song> by <artist>" data: the tagger must learn the frame, not the names.
struct Music {
  std::vector<std::string> texts;
  std::vector<std::vector<std::pair<int, ByteSpan>>> spans;
};

Music music(std::uint64_t seed, int count) {
  const std::vector<std::string> songs = {"yellow", "hey jude",     "let it be",   "bad guy",        "roar",
                                          "hello",  "thunder road", "blue monday", "la vie en rose", "one love"};
  const std::vector<std::string> artists = {"coldplay",          "the beatles", "billie eilish", "katy perry", "adele",
                                            "bruce springsteen", "new order",   "edith piaf",    "bob marley", "queen"};
  const std::vector<std::pair<std::string, std::string>> frames = {
      {"play ", " by "}, {"put on ", " from "}, {"i want to hear ", " by "}, {"queue ", " of "}};
  std::mt19937_64 rng(seed);
  Music m;
  for (int i = 0; i < count; ++i) {
    const auto& f = frames[rng() % frames.size()];
    const std::string& s = songs[rng() % songs.size()];
    const std::string& a = artists[rng() % artists.size()];
    std::string text = f.first + s + f.second + a;
    auto sb = static_cast<std::uint32_t>(f.first.size());
    auto ab = static_cast<std::uint32_t>(f.first.size() + s.size() + f.second.size());
    m.texts.push_back(text);
    m.spans.push_back(
        {{0, {sb, sb + static_cast<std::uint32_t>(s.size())}}, {1, {ab, ab + static_cast<std::uint32_t>(a.size())}}});
  }
  return m;
}

std::unique_ptr<SlotTagger> train_music(const HashFeaturizer& hf, std::vector<TextFeatures>& feats,
                                        const Music& train) {
  EXPECT_TRUE(hf.featurize(train.texts, feats).is_ok());
  std::vector<const TextFeatures*> fp;
  std::vector<std::vector<int>> gold;
  for (std::size_t i = 0; i < feats.size(); ++i) {
    fp.push_back(&feats[i]);
    gold.push_back(spans_to_tags(feats[i].words, train.spans[i]));
  }
  TaggerOptions o;
  o.epochs = 15;
  auto t = SlotTagger::train(fp, gold, 5, o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(SlotTagger, LearnsSpansAndDecodesValidPaths) {
  HashFeaturizer hf(32);
  std::vector<TextFeatures> feats;
  auto tagger = train_music(hf, feats, music(1, 200));
  ASSERT_NE(tagger, nullptr);
  Music test = music(99, 50);
  std::vector<TextFeatures> tf;
  ASSERT_TRUE(hf.featurize(test.texts, tf).is_ok());
  int exact = 0;
  for (std::size_t i = 0; i < tf.size(); ++i) {
    SlotTagger::Decoded d;
    ASSERT_TRUE(tagger->decode(tf[i], d).is_ok());
    ASSERT_EQ(d.tags.size(), tf[i].size());
    for (std::size_t k = 0; k < d.tags.size(); ++k) {
      EXPECT_TRUE(BioTags::allowed(k == 0 ? -1 : d.tags[k - 1], d.tags[k])) << test.texts[i];
      EXPECT_GE(d.confidence[k], 0.0f);
      EXPECT_LE(d.confidence[k], 1.0f);
    }
    exact += d.tags == spans_to_tags(tf[i].words, test.spans[i]) ? 1 : 0;
  }
  EXPECT_GE(exact, 45) << "of 50 held-out texts tagged exactly";
  // Unknown words in a known frame still get a slot; an empty text gets no tags.
  std::vector<TextFeatures> novel;
  ASSERT_TRUE(hf.featurize(std::vector<std::string>{"play zorblax by quuxon", ""}, novel).is_ok());
  SlotTagger::Decoded d;
  ASSERT_TRUE(tagger->decode(novel[1], d).is_ok());
  EXPECT_TRUE(d.tags.empty());
}

TEST(SlotTagger, TrainingIsDeterministic) {
  HashFeaturizer hf(16);
  std::vector<TextFeatures> f1, f2;
  auto a = train_music(hf, f1, music(5, 60));
  auto b = train_music(hf, f2, music(5, 60));
  ASSERT_TRUE(a && b);
  std::vector<TextFeatures> tf;
  ASSERT_TRUE(hf.featurize(music(6, 10).texts, tf).is_ok());
  for (const auto& f : tf) {
    SlotTagger::Decoded da, db;
    ASSERT_TRUE(a->decode(f, da).is_ok());
    ASSERT_TRUE(b->decode(f, db).is_ok());
    EXPECT_EQ(da.tags, db.tags);
    EXPECT_EQ(da.confidence, db.confidence);
  }
}

}  // namespace

// Forward-backward on emissions the test chooses (private in SlotTagger).
struct SlotTaggerInternals {
  static double forward_backward(const SlotTagger& t, const std::vector<float>& emit, const std::vector<int>& gold,
                                 std::vector<float>& d_emit, std::vector<float>& d_trans) {
    std::vector<float> d_start(5, 0.0f), d_end(5, 0.0f);
    return t.forward_backward(emit.data(), gold.size(), gold, d_emit.data(), d_trans, d_start, d_end);
  }
  static const std::vector<float>& transitions(const SlotTagger& t) { return t.transitions_; }
  static const std::vector<float>& start(const SlotTagger& t) { return t.start_; }
  static const std::vector<float>& end(const SlotTagger& t) { return t.end_; }
};

namespace {

// Emissions so peaked that every BIO-allowed path scores e^-150 below a forbidden tag (the best
// tag of word 2, I-b, cannot follow word 1's B-a): in float every allowed path underflows to 0 and
// the normalizer was 0 (NaN weights: the whole tagger then tagged O). It is redone in double.
TEST(SlotTagger, PeakedEmissionsStayFinite) {
  HashFeaturizer hf(32);
  std::vector<TextFeatures> feats;
  auto tagger = train_music(hf, feats, music(1, 40));
  ASSERT_NE(tagger, nullptr);
  const float lo = -150.0f;
  const std::vector<float> emit = {lo, 0.0f, lo, lo, lo,   // word 1: B-a
                                   lo, lo, lo, lo, 0.0f};  // word 2: I-b (forbidden after B-a)
  const std::vector<int> gold = {1, 2};                    // B-a I-a
  std::vector<float> d_emit(emit.size(), 0.0f), d_trans(25, 0.0f);
  const double loss = SlotTaggerInternals::forward_backward(*tagger, emit, gold, d_emit, d_trans);
  EXPECT_TRUE(std::isfinite(loss));
  // Every allowed tag of word 2 is equally far below I-b: the gold I-a is one of ~5 alike.
  EXPECT_GT(loss, 0.5);
  EXPECT_LT(loss, 5.0);
  for (int w = 0; w < 2; ++w) {
    double sum = 0;  // marginals (sum 1) minus the gold one-hot
    for (int u = 0; u < 5; ++u) {
      ASSERT_TRUE(std::isfinite(d_emit[static_cast<std::size_t>(w * 5 + u)])) << "word " << w << " tag " << u;
      sum += d_emit[static_cast<std::size_t>(w * 5 + u)];
    }
    EXPECT_NEAR(sum, 0.0, 1e-5) << "word " << w;
  }
  for (float g : d_trans) EXPECT_TRUE(std::isfinite(g));
}

// The CRF's gradients against every path enumerated (5 tags, 4 words: 625 paths, long double
// log-sum-exp), from mild emissions to ones 300+ apart. With such peaked emissions (a fine-tuned
// 12-layer encoder's logits stacked into the features) the scaled backward pass overflowed for
// tags no path reaches, inf * 0 made the gradients NaN, and the ATIS tagger tagged everything O.
TEST(SlotTagger, GradientsMatchEnumerationAtAnyScale) {
  HashFeaturizer hf(32);
  std::vector<TextFeatures> feats;
  auto tagger = train_music(hf, feats, music(1, 40));
  ASSERT_NE(tagger, nullptr);
  const std::vector<float>& trans = SlotTaggerInternals::transitions(*tagger);
  const std::vector<float>& start = SlotTaggerInternals::start(*tagger);
  const std::vector<float>& end = SlotTaggerInternals::end(*tagger);
  constexpr int L = 5, N = 4;
  std::mt19937_64 rng(7);
  int cases = 0;
  for (float scale : {1.0f, 30.0f, 100.0f, 300.0f, 1000.0f}) {
    for (int trial = 0; trial < 40; ++trial) {
      std::normal_distribution<float> normal(0.0f, scale);
      std::vector<float> emit(L * N);
      for (float& e : emit) e = normal(rng);
      // Gold: a random BIO-valid path.
      std::vector<int> gold(N);
      for (int i = 0; i < N; ++i) {
        do {
          gold[static_cast<std::size_t>(i)] = static_cast<int>(rng() % L);
        } while (!BioTags::allowed(i == 0 ? -1 : gold[static_cast<std::size_t>(i - 1)], gold[static_cast<std::size_t>(i)]));
      }
      // Reference: enumerate the valid paths.
      std::vector<long double> scores;
      std::vector<std::vector<int>> paths;
      for (int code = 0; code < L * L * L * L; ++code) {
        std::vector<int> p(N);
        for (int i = 0, c = code; i < N; ++i, c /= L) p[static_cast<std::size_t>(i)] = c % L;
        bool valid = true;
        long double sc = start[static_cast<std::size_t>(p[0])] + end[static_cast<std::size_t>(p[N - 1])];
        for (int i = 0; i < N && valid; ++i) {
          const int prev = i == 0 ? -1 : p[static_cast<std::size_t>(i - 1)];
          valid = BioTags::allowed(prev, p[static_cast<std::size_t>(i)]);
          sc += emit[static_cast<std::size_t>(i * L + p[static_cast<std::size_t>(i)])];
          if (i > 0) sc += trans[static_cast<std::size_t>(prev * L + p[static_cast<std::size_t>(i)])];
        }
        if (!valid) continue;
        scores.push_back(sc);
        paths.push_back(p);
      }
      const long double mx = *std::max_element(scores.begin(), scores.end());
      long double z = 0;
      for (long double sc : scores) z += std::exp(sc - mx);
      const long double log_z = mx + std::log(z);
      std::vector<long double> want_emit(L * N, 0), want_trans(L * L, 0);
      long double gold_score = 0;
      for (std::size_t k = 0; k < paths.size(); ++k) {
        const long double p = std::exp(scores[k] - log_z);
        for (int i = 0; i < N; ++i) {
          want_emit[static_cast<std::size_t>(i * L + paths[k][static_cast<std::size_t>(i)])] += p;
          if (i > 0) want_trans[static_cast<std::size_t>(paths[k][static_cast<std::size_t>(i - 1)] * L + paths[k][static_cast<std::size_t>(i)])] += p;
        }
        if (paths[k] == gold) gold_score = scores[k];
      }
      for (int i = 0; i < N; ++i) {
        want_emit[static_cast<std::size_t>(i * L + gold[static_cast<std::size_t>(i)])] -= 1;
        if (i > 0) want_trans[static_cast<std::size_t>(gold[static_cast<std::size_t>(i - 1)] * L + gold[static_cast<std::size_t>(i)])] -= 1;
      }
      std::vector<float> d_emit(emit.size(), 0.0f), d_trans(L * L, 0.0f);
      const double loss = SlotTaggerInternals::forward_backward(*tagger, emit, gold, d_emit, d_trans);
      const double want_loss = static_cast<double>(log_z - gold_score);
      ASSERT_NEAR(loss, want_loss, 1e-3 + 1e-5 * std::fabs(want_loss)) << "scale " << scale << " trial " << trial;
      for (std::size_t k = 0; k < d_emit.size(); ++k)
        ASSERT_NEAR(d_emit[k], static_cast<double>(want_emit[k]), 1e-4) << "scale " << scale << " trial " << trial << " emission " << k;
      for (std::size_t k = 0; k < d_trans.size(); ++k)
        ASSERT_NEAR(d_trans[k], static_cast<double>(want_trans[k]), 1e-4) << "scale " << scale << " trial " << trial << " transition " << k;
      ++cases;
    }
  }
  EXPECT_EQ(cases, 200);
}

TEST(SlotTagger, RejectsMismatchedInput) {
  HashFeaturizer hf(8);
  std::vector<TextFeatures> f;
  ASSERT_TRUE(hf.featurize(std::vector<std::string>{"a b"}, f).is_ok());
  EXPECT_FALSE(SlotTagger::train({&f[0]}, {{0}}, 3, {}).ok());     // 1 tag for 2 words
  EXPECT_FALSE(SlotTagger::train({&f[0]}, {{0, 7}}, 3, {}).ok());  // tag out of range
}

TEST(IntentClassifier, LearnsAndWeightsRareIntents) {
  HashFeaturizer hf(32);
  std::vector<std::string> texts;
  std::vector<int> labels;
  const std::vector<std::vector<std::string>> intents = {
      {"what is the weather", "will it rain today", "is it sunny outside", "how cold is it", "weather forecast please",
       "do i need an umbrella", "what is the temperature", "is it going to snow"},
      {"play some music", "put on a song", "i want to hear jazz", "play the radio"},
      {"goodbye"}};
  for (int rep = 0; rep < 3; ++rep) {
    for (std::size_t k = 0; k < intents.size(); ++k) {
      // The big intent is 8x more frequent than the rare one.
      for (const auto& t : intents[k]) {
        texts.push_back(t);
        labels.push_back(static_cast<int>(k));
      }
    }
  }
  std::vector<TextFeatures> f;
  ASSERT_TRUE(hf.featurize(texts, f).is_ok());
  std::vector<const TextFeatures*> fp;
  for (const auto& x : f) fp.push_back(&x);
  auto c = IntentClassifier::train(fp, labels, 3, {});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  std::vector<TextFeatures> q;
  ASSERT_TRUE(hf.featurize(std::vector<std::string>{"goodbye", "is it going to rain", "play jazz music"}, q).is_ok());
  std::vector<std::vector<float>> p;
  ASSERT_TRUE((*c)->predict_batch({&q[0], &q[1], &q[2]}, p).is_ok());
  for (int i = 0; i < 3; ++i) {
    float sum = 0;
    for (float v : p[static_cast<std::size_t>(i)]) sum += v;
    EXPECT_NEAR(sum, 1.0f, 1e-4f);
    int best = static_cast<int>(
        std::max_element(p[static_cast<std::size_t>(i)].begin(), p[static_cast<std::size_t>(i)].end()) -
        p[static_cast<std::size_t>(i)].begin());
    EXPECT_EQ(best, i == 0 ? 2 : i == 1 ? 0 : 1) << i;
  }
  std::vector<float> single;
  ASSERT_TRUE((*c)->predict(q[0], single).is_ok());
  EXPECT_EQ(single, p[0]);
  EXPECT_FALSE(IntentClassifier::train(fp, {0}, 3, {}).ok());
}

}  // namespace
}  // namespace parley::nlu
