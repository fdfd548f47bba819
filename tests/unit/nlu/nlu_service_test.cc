// NluService in-process on the hash featurizer: limits and errors, bots isolated, a re-train
// swaps atomically under concurrent parses, an identical re-train keeps the model, batching on and
// off give identical answers, metrics.
#include "services/nlu/nlu_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shared/metrics/registry.h"

namespace parley::nlu {
namespace {

using Clock = std::chrono::steady_clock;

class FakeContext : public service::CallContext {
 public:
  const std::string& method() const override { return empty_; }
  const std::string& session_id() const override { return empty_; }
  const std::string& trace_id() const override { return empty_; }
  Clock::time_point deadline() const override { return Clock::now() + std::chrono::seconds(30); }
  bool cancelled() const override { return false; }
  void add_timing(std::string, std::chrono::microseconds) override {}

 private:
  std::string empty_;
};

v1::TrainRequest bot(const std::string& id,
                     const std::vector<std::pair<std::string, std::vector<std::string>>>& intents) {
  v1::TrainRequest r;
  r.set_bot_id(id);
  for (const auto& [name, examples] : intents) {
    auto* i = r.add_intents();
    i->set_name(name);
    for (const auto& e : examples) i->add_examples()->set_text(e);
  }
  return r;
}

v1::TrainRequest greeter(const std::string& id) {
  return bot(id, {{"greet", {"hello", "hi there", "good morning"}}, {"bye", {"goodbye", "see you later", "bye bye"}}});
}
v1::TrainRequest shop(const std::string& id) {
  return bot(id, {{"buy", {"i want to buy shoes", "purchase a hat", "order a coat"}},
                  {"refund", {"i want my money back", "refund my order", "return these shoes"}}});
}

v1::ParseRequest req(const std::string& bot_id, const std::string& text) {
  v1::ParseRequest r;
  r.set_bot_id(bot_id);
  r.set_text(text);
  return r;
}

std::unique_ptr<NluService> make(bool batching, NluMetrics* metrics = nullptr, NluLimits limits = {}) {
  NluOptions o;
  o.limits = limits;
  if (!batching) o.batch.max_batch_size = 1;
  auto s = NluService::create(o, std::make_shared<HashFeaturizer>(32), metrics);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return std::move(*s);
}

TEST(NluService, ErrorsAndLimits) {
  NluLimits limits;
  limits.max_text_bytes = 100;
  limits.max_bots = 2;
  auto svc = make(false, nullptr, limits);
  FakeContext ctx;
  ASSERT_TRUE(svc->train(greeter("a"), ctx).ok());
  ASSERT_TRUE(svc->train(shop("b"), ctx).ok());
  auto third = svc->train(greeter("c"), ctx);
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(svc->train(shop("a"), ctx).ok()) << "re-training a loaded bot is not a new bot";

  auto check = [&](const v1::ParseRequest& r, StatusCode code, const std::string& mentions) {
    auto got = svc->parse(r, ctx);
    ASSERT_FALSE(got.ok()) << mentions;
    EXPECT_EQ(got.status().code(), code) << got.status().to_string();
    EXPECT_NE(got.status().message().find(mentions), std::string::npos) << got.status().to_string();
  };
  check(req("a", ""), StatusCode::kInvalidArgument, "text is empty");
  check(req("a", std::string(101, 'x')), StatusCode::kInvalidArgument, "101 bytes; the limit is 100");
  check(req("a", "hi \xe2\x82"), StatusCode::kInvalidArgument, "not valid UTF-8 (bad byte at offset 3)");
  check(req("zz", "hello"), StatusCode::kNotFound, "bot 'zz' is not loaded (loaded: a, b)");
  check(req("", "hello"), StatusCode::kInvalidArgument, "bot_id is empty");
  auto expected = req("a", "hello");
  expected.set_expected_slot("size");
  check(expected, StatusCode::kInvalidArgument, "expected_slot 'size'");
  auto when = req("a", "hello");
  when.set_reference_time("soon");
  check(when, StatusCode::kInvalidArgument, "reference_time");
  v1::DropBotRequest drop;
  drop.set_bot_id("zz");
  EXPECT_EQ(svc->drop_bot(drop, ctx).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(svc->parse(req("a", "order a hat"), ctx).ok()) << "still serving";
}

TEST(NluService, BotsAreIsolatedAndRetrainSwapsAtomically) {
  metrics::Registry registry;
  NluMetrics metrics(registry);
  auto svc = make(true, &metrics);
  FakeContext ctx;
  ASSERT_TRUE(svc->train(greeter("g"), ctx).ok());
  ASSERT_TRUE(svc->train(shop("s"), ctx).ok());
  auto g = svc->parse(req("g", "good morning"), ctx);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->intents(0).name(), "greet");
  auto s = svc->parse(req("s", "good morning"), ctx);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->intents(0).name() == "buy" || s->intents(0).name() == "refund");

  // Parses keep succeeding while "g" is re-trained back and forth; each answer comes from one
  // whole model (all intents of the greeter or all of the shop), never a mix or an error.
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, mixed{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      FakeContext c;
      while (!stop.load()) {
        auto r = svc->parse(req("g", "hello there"), c);
        if (!r.ok()) {
          ++errors;
          continue;
        }
        std::set<std::string> names;
        for (const auto& i : r->intents()) names.insert(i.name());
        if (names != std::set<std::string>{"greet", "bye"} && names != std::set<std::string>{"buy", "refund"}) ++mixed;
        ++done;
      }
    });
  }
  for (int k = 0; k < 6; ++k) {
    auto next = k % 2 == 0 ? shop("g") : greeter("g");
    ASSERT_TRUE(svc->train(next, ctx).ok());
  }
  while (done.load() < 50 && errors.load() == 0) std::this_thread::yield();
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(svc->bots(), (std::vector<std::string>{"g", "s"}));
  v1::DropBotRequest drop;
  drop.set_bot_id("s");
  ASSERT_TRUE(svc->drop_bot(drop, ctx).ok());
  EXPECT_EQ(svc->parse(req("s", "hello"), ctx).status().code(), StatusCode::kNotFound);
  std::string text = registry.render();
  EXPECT_NE(text.find("parley_nlu_bots 1"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_nlu_trainings_total{outcome=\"ok\"} 8"), std::string::npos) << text;
}

// A Train identical to the one a bot's model came from (a dialog replaying its catalog after a
// restart, or on a replica it lost sight of) keeps the model instead of training it again; any
// change, or a bot dropped in between, trains. (With fine-tuning: tests/model/nlu.)
TEST(NluService, AnIdenticalTrainKeepsTheBotsModel) {
  metrics::Registry registry;
  NluMetrics metrics(registry);
  auto svc = make(false, &metrics);
  FakeContext ctx;
  auto first = svc->train(greeter("g"), ctx);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_FALSE(first->unchanged());
  auto again = svc->train(greeter("g"), ctx);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->unchanged());
  EXPECT_EQ(again->bot_id(), "g");
  EXPECT_EQ(again->examples(), first->examples());
  EXPECT_EQ(again->intents(), 2);
  EXPECT_EQ(again->out_of_scope_similarity(), first->out_of_scope_similarity());
  EXPECT_EQ(again->fine_tune().state(), v1::FineTuneStatus::NONE);
  EXPECT_EQ(again->fine_tune().serving(), "frozen");
  auto parsed = svc->parse(req("g", "good morning"), ctx);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->intents(0).name(), "greet");

  // Another bot with the same content is its own training.
  auto other = svc->train(greeter("h"), ctx);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->unchanged());
  // One more example, a changed threshold, another fine-tuning mode: trained.
  v1::TrainRequest more = greeter("g");
  more.mutable_intents(0)->add_examples()->set_text("hey");
  auto changed = svc->train(more, ctx);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->unchanged());
  EXPECT_EQ(changed->examples(), first->examples() + 1);
  v1::TrainRequest threshold = more;
  threshold.set_out_of_scope_threshold(0.3f);
  EXPECT_FALSE(svc->train(threshold, ctx)->unchanged());
  v1::TrainRequest off = threshold;
  off.set_fine_tune(v1::FINE_TUNE_OFF);
  EXPECT_FALSE(svc->train(off, ctx)->unchanged());
  EXPECT_TRUE(svc->train(off, ctx)->unchanged());
  // Going back to an earlier training trains it again (only the last one is remembered).
  EXPECT_FALSE(svc->train(greeter("g"), ctx)->unchanged());
  // Dropped in between: trained.
  v1::DropBotRequest drop;
  drop.set_bot_id("g");
  ASSERT_TRUE(svc->drop_bot(drop, ctx).ok());
  auto back = svc->train(greeter("g"), ctx);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->unchanged());
  // An invalid request is refused as before, whatever the bot holds.
  v1::TrainRequest bad = greeter("g");
  bad.mutable_intents(0)->set_name("");
  EXPECT_EQ(svc->train(bad, ctx).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(svc->train(greeter("g"), ctx)->unchanged()) << "a refused request leaves the model as it was";

  const std::string text = registry.render();
  EXPECT_NE(text.find("parley_nlu_trainings_total{outcome=\"unchanged\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_nlu_trainings_total{outcome=\"ok\"} 7"), std::string::npos) << text;
}

TEST(NluService, BatchingGivesTheSameAnswers) {
  auto batched = make(true);
  auto single = make(false);
  FakeContext ctx;
  ASSERT_TRUE(batched->train(shop("s"), ctx).ok());
  ASSERT_TRUE(single->train(shop("s"), ctx).ok());
  const std::vector<std::string> texts = {"buy a hat", "refund please", "i want shoes", "money back now", "order"};
  std::vector<std::thread> threads;
  std::vector<v1::ParseResponse> a(texts.size()), b(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] {
      FakeContext c;
      auto r = batched->parse(req("s", texts[i]), c);
      ASSERT_TRUE(r.ok());
      a[i] = *r;
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto r = single->parse(req("s", texts[i]), ctx);
    ASSERT_TRUE(r.ok());
    b[i] = *r;
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << texts[i];
  }
}

}  // namespace
}  // namespace parley::nlu
