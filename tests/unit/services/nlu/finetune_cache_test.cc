// services/nlu/finetune_cache.h on a tiny random encoder (no download): an entry gives back
// exactly what was stored, arrays equal to the base's are not written, a damaged or foreign
// entry is named and removed (never half-loaded), the key follows what decides the model and
// nothing else, and the directory is trimmed least recently used first.
#include "services/nlu/finetune_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "shared/common/sha256.h"
#include "tests/support/tiny_encoder.h"

namespace parley::nlu {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const encoder::EncoderModel> tiny_base(std::int64_t hidden = 16, std::uint32_t seed = 3) {
  const auto c = encoder::testing::tiny_encoder_config(40, hidden, 2);
  encoder::LoadOptions lo;
  lo.precision = encoder::Precision::kFp32;
  auto m = encoder::EncoderModel::from_host_weights(encoder::testing::random_encoder_weights(c, seed), c,
                                                    encoder::SentenceConfig{}, lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return *m;
}

// The base's weights with two arrays changed (what a fine-tuning with frozen word embeddings
// gives), and heads of 3 intents and 5 tags.
FinetunedWeights tuned_from(const encoder::EncoderModel& base, float delta = 0.25f) {
  FinetunedWeights t;
  t.weights = base.weights();
  for (float& v : t.weights.layers[0].qkv.w) v += delta;
  t.weights.layers[1].ffn_norm.gamma[2] = 7.0f;
  t.heads.hidden = static_cast<int>(base.config().hidden);
  t.heads.labels = 3;
  t.heads.tags = 5;
  std::mt19937 rng(9);
  std::normal_distribution<float> nd;
  auto fill = [&](std::vector<float>& v, std::size_t n) {
    v.resize(n);
    for (float& x : v) x = nd(rng);
  };
  const auto h = static_cast<std::size_t>(t.heads.hidden);
  fill(t.heads.label_w, 3 * h);
  fill(t.heads.label_b, 3);
  fill(t.heads.tag_w, 5 * h);
  fill(t.heads.tag_b, 5);
  return t;
}

class FinetuneCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("parley_ft_cache_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<FinetuneCache> open(std::uint64_t max_bytes = std::uint64_t{1} << 30) {
    auto c = FinetuneCache::open({.dir = dir_, .max_bytes = max_bytes});
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return std::move(*c);
  }
  static std::string key(char c) { return std::string(64, c); }
  fs::path dir_;
};

void expect_same(const FinetunedWeights& a, const FinetunedWeights& b) {
  EXPECT_EQ(a.heads.hidden, b.heads.hidden);
  EXPECT_EQ(a.heads.labels, b.heads.labels);
  EXPECT_EQ(a.heads.tags, b.heads.tags);
  EXPECT_EQ(a.heads.label_w, b.heads.label_w);
  EXPECT_EQ(a.heads.label_b, b.heads.label_b);
  EXPECT_EQ(a.heads.tag_w, b.heads.tag_w);
  EXPECT_EQ(a.heads.tag_b, b.heads.tag_b);
  EXPECT_EQ(a.weights.word, b.weights.word);
  EXPECT_EQ(a.weights.position, b.weights.position);
  EXPECT_EQ(a.weights.token_type, b.weights.token_type);
  ASSERT_EQ(a.weights.layers.size(), b.weights.layers.size());
  for (std::size_t i = 0; i < a.weights.layers.size(); ++i) {
    const auto& x = a.weights.layers[i];
    const auto& y = b.weights.layers[i];
    EXPECT_EQ(x.qkv.w, y.qkv.w) << "layer " << i;
    EXPECT_EQ(x.qkv.bias, y.qkv.bias) << "layer " << i;
    EXPECT_EQ(x.attn_out.w, y.attn_out.w) << "layer " << i;
    EXPECT_EQ(x.ffn_in.w, y.ffn_in.w) << "layer " << i;
    EXPECT_EQ(x.ffn_out.w, y.ffn_out.w) << "layer " << i;
    EXPECT_EQ(x.ffn_norm.gamma, y.ffn_norm.gamma) << "layer " << i;
    EXPECT_EQ(x.attn_norm.beta, y.attn_norm.beta) << "layer " << i;
  }
}

TEST_F(FinetuneCacheTest, AnEntryGivesBackExactlyWhatWasStored) {
  auto base = tiny_base();
  auto cache = open();
  auto none = cache->load(key('a'), *base, 3, 5);
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value()) << "nothing stored yet";

  const FinetunedWeights tuned = tuned_from(*base);
  ASSERT_TRUE(cache->store(key('a'), tuned, *base).is_ok());
  auto back = cache->load(key('a'), *base, 3, 5);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_TRUE(back->has_value());
  expect_same(**back, tuned);
  // The loaded weights serve: the converted model is built from them like from a fine-tuning.
  encoder::LoadOptions lo;
  lo.precision = encoder::Precision::kInt8;
  EXPECT_TRUE(encoder::EncoderModel::from_host_weights(std::move((*back)->weights), base->config(), base->sentence(), lo).ok());
  // No temporary file is left beside the entry.
  int files = 0;
  for (const auto& d : fs::directory_iterator(dir_)) files += d.path().extension() == ".ft" ? 1 : 100;
  EXPECT_EQ(files, 1);
}

// parley-nlu's FP32 base reads its word table from the serving encoder (share_word_table): the
// cache must see the same base through it — same base id, and an entry stored against the base
// with its own table loads against the sharing one (the table filled in from it) and back.
TEST_F(FinetuneCacheTest, ABaseSharingItsWordTableIsTheSameBase) {
  auto own = tiny_base();
  auto owner = tiny_base();  // the same weights (same seed): the serving encoder's stand-in
  encoder::EncoderWeights w = own->weights();
  ASSERT_TRUE(encoder::share_word_table(w, owner));
  encoder::LoadOptions lo;
  lo.precision = encoder::Precision::kFp32;
  auto sharing = encoder::EncoderModel::from_host_weights(std::move(w), own->config(), own->sentence(), lo);
  ASSERT_TRUE(sharing.ok()) << sharing.status().to_string();
  ASSERT_TRUE((*sharing)->weights().word.empty());
  EXPECT_EQ(FinetuneCache::base_id(**sharing), FinetuneCache::base_id(*own));
  auto cache = open();
  const FinetunedWeights tuned = tuned_from(*own);
  ASSERT_TRUE(cache->store(key('s'), tuned, *own).is_ok());
  auto back = cache->load(key('s'), **sharing, 3, 5);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_TRUE(back->has_value());
  expect_same(**back, tuned);
  ASSERT_TRUE(cache->store(key('t'), tuned, **sharing).is_ok());
  auto again = cache->load(key('t'), *own, 3, 5);
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status().to_string();
  expect_same(**again, tuned);
}

TEST_F(FinetuneCacheTest, ArraysEqualToTheBaseAreNotWritten) {
  auto base = tiny_base(32);
  auto cache = open();
  const FinetunedWeights tuned = tuned_from(*base);
  ASSERT_TRUE(cache->store(key('b'), tuned, *base).is_ok());
  std::uint64_t all = 0;
  for (const auto& l : base->weights().layers) all += l.qkv.w.size() + l.ffn_in.w.size() + l.ffn_out.w.size();
  all *= sizeof(float);
  const std::uint64_t changed = base->weights().layers[0].qkv.w.size() * sizeof(float) +
                                base->weights().layers[1].ffn_norm.gamma.size() * sizeof(float);
  const std::uint64_t size = fs::file_size(cache->path(key('b')));
  EXPECT_GT(size, changed);
  EXPECT_LT(size, changed + 4096) << "only the two changed arrays and the heads (" << all << " bytes of linears)";
}

TEST_F(FinetuneCacheTest, DamagedEntriesAreNamedAndRemoved) {
  auto base = tiny_base();
  auto cache = open();
  const FinetunedWeights tuned = tuned_from(*base);
  const fs::path p = cache->path(key('c'));
  auto write_and_damage = [&](auto damage) {
    ASSERT_TRUE(cache->store(key('c'), tuned, *base).is_ok());
    std::string bytes(fs::file_size(p), '\0');
    std::ifstream(p, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    damage(bytes);
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  struct Case {
    const char* name;
    std::function<void(std::string&)> damage;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"a flipped bit", [](std::string& b) { b[b.size() / 2] ^= 0x10; }, "checksum mismatch"},
      {"truncated", [](std::string& b) { b.resize(b.size() - 100); }, "checksum mismatch"},
      {"cut to a few bytes", [](std::string& b) { b.resize(20); }, "truncated"},
      {"empty", [](std::string& b) { b.clear(); }, "truncated"},
  };
  for (const Case& c : cases) {
    write_and_damage(c.damage);
    auto r = cache->load(key('c'), *base, 3, 5);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << c.name;
    EXPECT_NE(r.status().message().find(c.why), std::string::npos) << c.name << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find(p.string()), std::string::npos) << "the message names the file";
    EXPECT_FALSE(fs::exists(p)) << c.name << ": a damaged entry is removed";
    auto again = cache->load(key('c'), *base, 3, 5);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->has_value()) << "then it is a miss: the job fine-tunes afresh";
  }
  // A sound file under the wrong name, and an entry of another encoder's shape.
  ASSERT_TRUE(cache->store(key('d'), tuned, *base).is_ok());
  fs::rename(cache->path(key('d')), cache->path(key('e')));
  auto moved = cache->load(key('e'), *base, 3, 5);
  ASSERT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("written for another key"), std::string::npos) << moved.status().to_string();
  ASSERT_TRUE(cache->store(key('f'), tuned, *base).is_ok());
  auto wider = tiny_base(32);
  auto foreign = cache->load(key('f'), *wider, 3, 5);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(foreign.status().message().find("do not fit the encoder"), std::string::npos) << foreign.status().to_string();
  // Heads of other sizes than the bot's intents and tags.
  ASSERT_TRUE(cache->store(key('i'), tuned, *base).is_ok());
  auto other_bot = cache->load(key('i'), *base, 4, 5);
  ASSERT_FALSE(other_bot.ok());
  EXPECT_NE(other_bot.status().message().find("heads of 3 intents and 5 tags, the bot has 4 and 5"), std::string::npos)
      << other_bot.status().to_string();
  EXPECT_FALSE(fs::exists(cache->path(key('i'))));
  // Storing weights of another shape is refused, not written.
  EXPECT_FALSE(cache->store(key('g'), tuned, *wider).is_ok());
  EXPECT_FALSE(fs::exists(cache->path(key('g'))));
}

// An entry whose checksum is right but whose heads claim sizes no bot has (a file written by
// something else into the directory): refused before anything is allocated for them.
TEST_F(FinetuneCacheTest, HostileHeadSizesAreRefusedBeforeAllocating) {
  auto base = tiny_base();
  auto cache = open();
  for (auto [labels, tags] : {std::pair{INT32_MAX, INT32_MAX}, std::pair{INT32_MAX, 1}, std::pair{0, 5},
                              std::pair{3, -1}, std::pair{1 << 22, 1 << 22}}) {
    std::string body("PARLEYFT");
    auto put = [&](auto v) { body.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(std::uint32_t{1});
    body += key('h');
    put(std::int32_t{16});
    put(std::int32_t{labels});
    put(std::int32_t{tags});
    Sha256 h;
    h.update(body);
    const auto digest = h.finish();
    body.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    std::ofstream(cache->path(key('h')), std::ios::binary).write(body.data(), static_cast<std::streamsize>(body.size()));
    auto r = cache->load(key('h'), *base, 3, 5);
    ASSERT_FALSE(r.ok()) << labels << " intents, " << tags << " tags";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(r.status().message().find("do not fit the encoder"), std::string::npos) << r.status().to_string();
    EXPECT_FALSE(fs::exists(cache->path(key('h'))));
  }
}

TEST_F(FinetuneCacheTest, TheKeyFollowsWhatDecidesTheModel) {
  v1::TrainRequest r;
  r.set_bot_id("one");
  auto* i = r.add_intents();
  i->set_name("book");
  auto* ex = i->add_examples();
  ex->set_text("book a table for two");
  auto* s = ex->add_slots();
  s->set_slot("people");
  s->set_start(17);
  s->set_end(20);
  r.add_intents()->set_name("greet");
  r.mutable_intents(1)->add_examples()->set_text("hello there");
  const FinetuneOptions o;
  const std::string base = std::string(64, '0');
  const std::string k = FinetuneCache::key(r, v1::FINE_TUNE_FULL, o, base);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, FinetuneCache::key(r, v1::FINE_TUNE_FULL, o, base));

  // Not part of it: the bot's id, slot definitions, out-of-scope settings, threads, device, serving.
  v1::TrainRequest same = r;
  same.set_bot_id("two");
  same.add_slots()->set_name("people");
  same.set_out_of_scope_threshold(0.3f);
  FinetuneOptions same_o = o;
  same_o.threads = 3;
  same_o.serve.precision = encoder::Precision::kFp32;
  EXPECT_EQ(k, FinetuneCache::key(same, v1::FINE_TUNE_FULL, same_o, base));

  // Each of these changes the model, so the key.
  std::vector<std::string> keys = {k};
  auto with = [&](auto change) {
    v1::TrainRequest x = r;
    FinetuneOptions xo = o;
    v1::FineTuneMode mode = v1::FINE_TUNE_FULL;
    std::string b = base;
    change(x, xo, mode, b);
    keys.push_back(FinetuneCache::key(x, mode, xo, b));
  };
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents(0)->mutable_examples(0)->set_text("book a table for six"); });
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents(0)->mutable_examples(0)->mutable_slots(0)->set_end(19); });
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents(0)->mutable_examples(0)->mutable_slots(0)->set_slot("guests"); });
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents(1)->set_name("hello"); });
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents()->SwapElements(0, 1); });
  with([](v1::TrainRequest& x, FinetuneOptions&, v1::FineTuneMode&, std::string&) { x.mutable_intents(1)->add_examples()->set_text("hi"); });
  with([](v1::TrainRequest&, FinetuneOptions& xo, v1::FineTuneMode&, std::string&) { xo.joint.lr = 2e-4f; });
  with([](v1::TrainRequest&, FinetuneOptions& xo, v1::FineTuneMode&, std::string&) { xo.joint.seed = 18; });
  with([](v1::TrainRequest&, FinetuneOptions& xo, v1::FineTuneMode&, std::string&) { xo.joint.encoder.bf16 = !xo.joint.encoder.bf16; });
  with([](v1::TrainRequest&, FinetuneOptions& xo, v1::FineTuneMode&, std::string&) { xo.joint.encoder.sparse24 = true; });
  with([](v1::TrainRequest&, FinetuneOptions& xo, v1::FineTuneMode&, std::string&) { xo.min_epochs = 6; });
  with([](v1::TrainRequest&, FinetuneOptions&, v1::FineTuneMode& m, std::string&) { m = v1::FINE_TUNE_LORA; });
  with([](v1::TrainRequest&, FinetuneOptions&, v1::FineTuneMode&, std::string& b) { b[0] = '1'; });
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::unique(keys.begin(), keys.end()), keys.end()) << "every change gives its own key";

  // The base's id follows its weights.
  auto a = tiny_base(16, 3), b = tiny_base(16, 3), c = tiny_base(16, 4);
  EXPECT_EQ(FinetuneCache::base_id(*a), FinetuneCache::base_id(*b));
  EXPECT_NE(FinetuneCache::base_id(*a), FinetuneCache::base_id(*c));
}

TEST_F(FinetuneCacheTest, TheLeastRecentlyUsedEntriesGoFirst) {
  auto base = tiny_base();
  auto probe = open();
  ASSERT_TRUE(probe->store(key('p'), tuned_from(*base), *base).is_ok());
  const std::uint64_t entry = fs::file_size(probe->path(key('p')));
  fs::remove(probe->path(key('p')));

  auto cache = open(entry * 5 / 2);  // room for two entries
  ASSERT_TRUE(cache->store(key('a'), tuned_from(*base, 0.1f), *base).is_ok());
  ASSERT_TRUE(cache->store(key('b'), tuned_from(*base, 0.2f), *base).is_ok());
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(cache->path(key('a')), now - std::chrono::hours(2));
  fs::last_write_time(cache->path(key('b')), now - std::chrono::hours(1));
  // Using a makes b the least recently used.
  auto used = cache->load(key('a'), *base, 3, 5);
  ASSERT_TRUE(used.ok() && used->has_value());
  ASSERT_TRUE(cache->store(key('c'), tuned_from(*base, 0.3f), *base).is_ok());
  EXPECT_TRUE(fs::exists(cache->path(key('a'))));
  EXPECT_FALSE(fs::exists(cache->path(key('b'))));
  EXPECT_TRUE(fs::exists(cache->path(key('c'))));
  // An entry larger than the whole budget is still kept (the one just written).
  auto tiny = open(1);
  ASSERT_TRUE(tiny->store(key('d'), tuned_from(*base), *base).is_ok());
  EXPECT_TRUE(fs::exists(tiny->path(key('d'))));
  EXPECT_FALSE(fs::exists(tiny->path(key('c')))) << "the others are removed";
}

TEST_F(FinetuneCacheTest, ADirectoryThatCannotBeUsedIsNamed) {
  fs::create_directories(dir_);
  const fs::path file = dir_ / "a-file";
  std::ofstream(file) << "x";
  auto c = FinetuneCache::open({.dir = file / "sub"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a-file"), std::string::npos) << c.status().to_string();
  EXPECT_FALSE(FinetuneCache::open({.dir = ""}).ok());
}

}  // namespace
}  // namespace parley::nlu
