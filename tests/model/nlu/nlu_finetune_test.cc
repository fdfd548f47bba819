// Per-bot fine-tuning end to end in the NLU service (label model): a small SNIPS bot (15 examples
// per intent from train) is trained — the frozen-encoder model answers at once —, its fine-tuning
// job is followed through parley.v1.Nlu/TrainingStatus and the parley_nlu_finetune_* metrics, and
// the fine-tuned model must beat the frozen one on held-back examples (SNIPS dev). A second job
// whose adoption check cannot pass must end FAILED with the frozen model still serving (and the
// same request again keeps that outcome rather than run the job again). The same
// request sent again (a dialog replaying its catalog) keeps the job and then the fine-tuned model. The
// number of bots holding a fine-tuned encoder is bounded (nlu.finetune.max_models), and each one's
// encoder is counted in parley_nlu_model_bytes (its word table shared with the base's).
// Skips with a message when the data or the encoder is absent. Depends on services/nlu (+ eval
// reader), shared/metrics, GoogleTest.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <unistd.h>

#include "services/nlu/eval/jointbert.h"
#include "services/nlu/finetune_cache.h"
#include "services/nlu/nlu_service.h"
#include "shared/common/model_paths.h"
#include "shared/metrics/registry.h"

namespace parley::nlu {
namespace {

using Clock = std::chrono::steady_clock;

class Ctx : public service::CallContext {
 public:
  const std::string& method() const override { return empty_; }
  const std::string& session_id() const override { return empty_; }
  const std::string& trace_id() const override { return empty_; }
  Clock::time_point deadline() const override { return Clock::now() + std::chrono::minutes(5); }
  bool cancelled() const override { return false; }
  void add_timing(std::string, std::chrono::microseconds) override {}

 private:
  std::string empty_;
};

std::string encoder_dir() {
  if (const char* e = std::getenv("PARLEY_ENCODER_DIR"); e != nullptr && *e != '\0') return e;
  return default_encoder_dir();
}

struct Score {
  double intent = 0, slot_f1 = 0;
  std::string model;
};

// The small bot's parse of one held-back example (a failure is reported).
Result<v1::ParseResponse> parse_held(NluService& svc, const eval::Example& ex) {
  v1::ParseRequest p;
  p.set_bot_id("snips-small");
  p.set_text(ex.text);
  p.set_reference_time("2024-05-10T12:00");
  auto r = svc.parse(p, Clock::now() + std::chrono::seconds(30));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r;
}

Score evaluate(NluService& svc, const eval::Split& held_back) {
  std::size_t ok = 0;
  eval::SpanScore spans;
  Score s;
  for (const eval::Example& ex : held_back.examples) {
    auto r = parse_held(svc, ex);
    if (!r.ok()) continue;
    s.model = r->model();
    ok += r->intents_size() > 0 && r->intents(0).name() == ex.intent ? 1 : 0;
    std::vector<eval::GoldSpan> pred;
    for (const auto& v : r->slots()) pred.push_back({v.slot(), v.start(), v.end()});
    spans.add(ex.spans, pred);
  }
  s.intent = static_cast<double>(ok) / static_cast<double>(held_back.examples.size());
  s.slot_f1 = spans.f1();
  return s;
}

struct SmallBot {
  v1::TrainRequest request;
  eval::Split held;
};

// 15 examples per intent (the first ones in file order) and 30 held-back dev examples per intent.
// Empty (and the test skips) when the data or the encoder is absent.
std::optional<SmallBot> small_snips_bot(std::string* why) {
  const std::string data = std::string(PARLEY_TESTDATA) + "/nlu/snips";
  if (!std::filesystem::exists(data + "/train/seq.in")) {
    *why = "SNIPS data not found under " + data;
    return std::nullopt;
  }
  if (!std::filesystem::exists(encoder_dir() + "/model.safetensors")) {
    *why = "encoder model not found in " + encoder_dir() + " (run tools/models/fetch --for tests)";
    return std::nullopt;
  }
  auto train = eval::read_split(data + "/train");
  auto dev = eval::read_split(data + "/dev");
  if (!train.ok() || !dev.ok()) {  // present but unreadable: a failure, not a skip
    ADD_FAILURE() << "SNIPS data unreadable: " << (train.ok() ? dev.status() : train.status()).to_string();
    *why = "SNIPS data unreadable";
    return std::nullopt;
  }
  SmallBot bot;
  eval::Split small;
  std::map<std::string, int> taken, held_count;
  for (const auto& ex : train->examples) {
    if (taken[ex.intent]++ < 15) small.examples.push_back(ex);
  }
  for (const auto& ex : dev->examples) {
    if (held_count[ex.intent]++ < 30) bot.held.examples.push_back(ex);
  }
  bot.request = eval::to_train_request(small, "snips-small");
  bot.request.set_fine_tune(v1::FINE_TUNE_FULL);
  return bot;
}

Result<std::unique_ptr<NluService>> make_service(NluOptions o, NluMetrics* metrics) {
  PARLEY_ASSIGN_OR_RETURN(auto featurizer, EncoderFeaturizer::open(encoder_dir()));
  o.batch.workers = 0;
  const std::string dir = encoder_dir();
  o.base_encoder = keep_fp32_base(dir, featurizer->encoder()->shared_model());  // as parley-nlu's main
  return NluService::create(o, std::shared_ptr<const Featurizer>(std::move(featurizer)), metrics);
}

// Polls TrainingStatus until the job has ended (or 8 minutes); `saw_running`: progress was seen.
v1::FineTuneStatus wait_for_job(NluService& svc, bool* saw_running) {
  v1::TrainingStatusRequest sr;
  sr.set_bot_id("snips-small");
  v1::FineTuneStatus last;
  const auto until = Clock::now() + std::chrono::minutes(8);
  while (Clock::now() < until) {
    auto st = svc.training_status(sr);
    EXPECT_TRUE(st.ok()) << st.status().to_string();
    if (!st.ok()) break;
    last = st->fine_tune();
    if (last.state() == v1::FineTuneStatus::RUNNING && last.step() > 0) {
      *saw_running = true;
      EXPECT_GT(last.progress(), 0.0f);
      EXPECT_LE(last.progress(), 1.0f);
      EXPECT_GT(last.steps(), 0);
    }
    if (last.state() != v1::FineTuneStatus::QUEUED && last.state() != v1::FineTuneStatus::RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

TEST(NluFinetune, SmallBotBeatsItsFrozenModelAndTheJobIsVisible) {
  std::string why;
  std::optional<SmallBot> bot = small_snips_bot(&why);
  if (!bot) GTEST_SKIP() << why;
  v1::TrainRequest& request = bot->request;
  const eval::Split& held = bot->held;
  metrics::Registry registry;
  NluMetrics metrics(registry);
  auto svc = make_service(NluOptions{}, &metrics);
  ASSERT_TRUE(svc.ok()) << svc.status().to_string();
  Ctx ctx;
  auto trained = (*svc)->train(request, ctx);
  ASSERT_TRUE(trained.ok()) << trained.status().to_string();
  EXPECT_EQ(trained->fine_tune().state(), v1::FineTuneStatus::QUEUED);
  EXPECT_EQ(trained->fine_tune().serving(), "frozen");

  // The same request again (a dialog replaying its catalog) keeps the job going.
  auto replayed = (*svc)->train(request, ctx);
  ASSERT_TRUE(replayed.ok()) << replayed.status().to_string();
  EXPECT_TRUE(replayed->unchanged());
  EXPECT_TRUE(replayed->fine_tune().state() == v1::FineTuneStatus::QUEUED ||
              replayed->fine_tune().state() == v1::FineTuneStatus::RUNNING)
      << replayed->fine_tune().DebugString();

  const Score frozen = evaluate(**svc, held);
  EXPECT_EQ(frozen.model, "frozen");

  bool saw_running = false;
  const v1::FineTuneStatus last = wait_for_job(**svc, &saw_running);
  ASSERT_EQ(last.state(), v1::FineTuneStatus::READY) << last.DebugString();
  EXPECT_TRUE(saw_running) << "progress was reported while the job ran";
  EXPECT_EQ(last.serving(), "fine-tuned");
  EXPECT_GT(last.elapsed_seconds(), 0.0);

  const std::string text = registry.render();
  EXPECT_NE(text.find("parley_nlu_finetune_jobs_total{outcome=\"ok\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_nlu_finetuned_bots 1"), std::string::npos);
  EXPECT_EQ(text.find("parley_nlu_finetune_steps_total 0\n"), std::string::npos) << "steps were counted";

  const Score tuned = evaluate(**svc, held);
  EXPECT_EQ(tuned.model, "fine-tuned");
  std::printf("held-back SNIPS dev (%zu): frozen intent %.2f%% slot F1 %.2f%%; fine-tuned intent %.2f%% slot F1 %.2f%% "
              "(job %.1f s, %lld steps)\n",
              held.examples.size(), 100 * frozen.intent, 100 * frozen.slot_f1, 100 * tuned.intent, 100 * tuned.slot_f1,
              last.elapsed_seconds(), static_cast<long long>(last.steps()));
  EXPECT_GT(tuned.slot_f1, frozen.slot_f1) << "the fine-tuned encoder tags the held-back slots better";
  EXPECT_GE(tuned.intent + tuned.slot_f1, frozen.intent + frozen.slot_f1 + 0.02);

  EXPECT_NE(text.find("parley_nlu_finetune_refused_total 0"), std::string::npos) << text;
  EXPECT_EQ(text.find("parley_nlu_finetune_jobs_total{outcome=\"cancelled\"} 1"), std::string::npos)
      << "the replayed request did not cancel the job";

  // Once it is ready, the same request keeps the fine-tuned model serving (no new job: a restarted
  // dialog would otherwise send every bot back to its frozen model for minutes).
  auto kept = (*svc)->train(request, ctx);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_TRUE(kept->unchanged());
  EXPECT_EQ(kept->fine_tune().state(), v1::FineTuneStatus::READY) << kept->fine_tune().DebugString();
  EXPECT_EQ(kept->fine_tune().serving(), "fine-tuned");
  ASSERT_FALSE(bot->held.examples.empty());
  auto still = parse_held(**svc, bot->held.examples.front());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->model(), "fine-tuned");
  EXPECT_NE(registry.render().find("parley_nlu_finetune_jobs_total{outcome=\"ok\"} 1"), std::string::npos);

  // A re-train without fine-tuning ends the job state and serves the frozen model again.
  request.set_fine_tune(v1::FINE_TUNE_OFF);
  ASSERT_TRUE((*svc)->train(request, ctx).ok());
  v1::TrainingStatusRequest sr;
  sr.set_bot_id("snips-small");
  auto st = (*svc)->training_status(sr);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->fine_tune().state(), v1::FineTuneStatus::NONE);
  EXPECT_EQ(st->fine_tune().serving(), "frozen");
}

v1::FineTuneStatus status_of(NluService& svc, const std::string& bot);

// The check before a fine-tuned model is adopted (model_check.h): with a tolerance no model can
// meet (it must parse more of the bot's examples than there are), the job ends FAILED saying why,
// the frozen model keeps serving and the refusal is counted. (A real failure it catches: the CRF
// whose weights went NaN on ATIS with a fine-tuned MPNet tagged every word O, train and dev.)
TEST(NluFinetune, AModelThatParsesItsExamplesWorseIsNotAdopted) {
  std::string why;
  std::optional<SmallBot> bot = small_snips_bot(&why);
  if (!bot) GTEST_SKIP() << why;
  metrics::Registry registry;
  NluMetrics metrics(registry);
  NluOptions o;
  o.finetune.full.joint.epochs = 1;  // the outcome does not depend on how good the model is
  o.finetune.check_tolerance = -2.0;
  auto svc = make_service(o, &metrics);
  ASSERT_TRUE(svc.ok()) << svc.status().to_string();
  Ctx ctx;
  ASSERT_TRUE((*svc)->train(bot->request, ctx).ok());
  bool saw_running = false;
  const v1::FineTuneStatus last = wait_for_job(**svc, &saw_running);
  ASSERT_EQ(last.state(), v1::FineTuneStatus::FAILED) << last.DebugString();
  EXPECT_NE(last.message().find("parses the bot's own examples worse than the frozen one"), std::string::npos)
      << last.message();
  EXPECT_NE(last.message().find("of 105 exact"), std::string::npos) << last.message();
  EXPECT_EQ(last.serving(), "frozen");
  v1::ParseRequest p;
  p.set_bot_id("snips-small");
  p.set_text(bot->held.examples.front().text);
  auto r = (*svc)->parse(p, Clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->model(), "frozen");
  const std::string text = registry.render();
  EXPECT_NE(text.find("parley_nlu_finetune_refused_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_nlu_finetune_jobs_total{outcome=\"failed\"} 1"), std::string::npos) << text;

  // The same request again would train the same model and be refused again: kept as it is.
  auto again = (*svc)->train(bot->request, ctx);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->unchanged());
  EXPECT_EQ(again->fine_tune().state(), v1::FineTuneStatus::FAILED);
  EXPECT_EQ(again->fine_tune().message(), last.message());
  EXPECT_EQ(status_of(**svc, "snips-small").state(), v1::FineTuneStatus::FAILED) << "no new job";
}

double gauge(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1.0 : std::strtod(text.c_str() + at + name.size() + 2, nullptr);
}

v1::FineTuneStatus status_of(NluService& svc, const std::string& bot) {
  v1::TrainingStatusRequest sr;
  sr.set_bot_id(bot);
  auto st = svc.training_status(sr);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  return st.ok() ? st->fine_tune() : v1::FineTuneStatus{};
}

// Each fine-tuned model holds its own encoder layers while its bot is loaded: with
// nlu.finetune.max_models = 1, a second bot asking while the first holds (or trains) one serves
// the frozen model, its job FAILED saying which limit; the first bot may fine-tune again (its own
// place), and dropping it frees the place. The fine-tuned encoder is in parley_nlu_model_bytes.
TEST(NluFinetune, FineTunedModelsAreBoundedAndTheirEncodersCounted) {
  std::string why;
  std::optional<SmallBot> bot = small_snips_bot(&why);
  if (!bot) GTEST_SKIP() << why;
  metrics::Registry registry;
  NluMetrics metrics(registry);
  NluOptions o;
  o.finetune.full.joint.epochs = 1;  // the test is about the limit, not the model's quality
  o.finetune.check_examples = 0;
  o.finetune.max_models = 1;
  auto svc = make_service(o, &metrics);
  ASSERT_TRUE(svc.ok()) << svc.status().to_string();
  Ctx ctx;
  v1::TrainRequest other = bot->request;
  other.set_bot_id("snips-other");

  auto first = (*svc)->train(bot->request, ctx);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->fine_tune().state(), v1::FineTuneStatus::QUEUED);
  auto second = (*svc)->train(other, ctx);
  ASSERT_TRUE(second.ok()) << "the bot itself is trained: " << second.status().to_string();
  EXPECT_EQ(second->fine_tune().state(), v1::FineTuneStatus::FAILED);
  EXPECT_NE(second->fine_tune().message().find("1 other bots hold or are training a fine-tuned encoder, the limit "
                                              "(nlu.finetune.max_models)"),
            std::string::npos)
      << second->fine_tune().message();
  EXPECT_EQ(status_of(**svc, "snips-other").state(), v1::FineTuneStatus::FAILED) << "the API shows why";
  EXPECT_EQ(status_of(**svc, "snips-other").message(), second->fine_tune().message());
  EXPECT_NE(registry.render().find("parley_nlu_finetune_jobs_total{outcome=\"rejected\"} 1"), std::string::npos);

  const double bytes_frozen = gauge(registry.render(), "parley_nlu_model_bytes");
  bool saw_running = false;
  const v1::FineTuneStatus done = wait_for_job(**svc, &saw_running);
  ASSERT_EQ(done.state(), v1::FineTuneStatus::READY) << done.DebugString();
  const double bytes_tuned = gauge(registry.render(), "parley_nlu_model_bytes");
  std::printf("parley_nlu_model_bytes: %.1f MB with two frozen bots, %.1f MB with one of them fine-tuned\n",
              bytes_frozen / 1e6, bytes_tuned / 1e6);
  // MiniLM's layers (INT8, the FFN output in BF16 where the CPU has it) are ~15 MB; its 47 MB word
  // table is shared with the base encoder, not copied (the fine-tuning does not train it).
  EXPECT_GT(bytes_tuned - bytes_frozen, 5e6) << "the fine-tuned encoder's weights are counted";
  EXPECT_LT(bytes_tuned - bytes_frozen, 40e6) << "the word table is the base's, not a copy";

  // The holder of the one place still counts once it serves its model.
  auto again = (*svc)->train(other, ctx);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fine_tune().state(), v1::FineTuneStatus::FAILED);
  EXPECT_FALSE(again->unchanged()) << "a failed job is tried again";
  // The holder itself may fine-tune again on changed examples (its new job replaces its model).
  v1::TrainRequest changed = bot->request;
  changed.mutable_intents(0)->mutable_examples()->RemoveLast();
  auto retrain = (*svc)->train(changed, ctx);
  ASSERT_TRUE(retrain.ok());
  EXPECT_FALSE(retrain->unchanged());
  EXPECT_EQ(retrain->fine_tune().state(), v1::FineTuneStatus::QUEUED) << retrain->fine_tune().DebugString();
  // Dropping it frees the place.
  v1::DropBotRequest drop;
  drop.set_bot_id("snips-small");
  ASSERT_TRUE((*svc)->drop_bot(drop, ctx).ok());
  auto freed = (*svc)->train(other, ctx);
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->fine_tune().state(), v1::FineTuneStatus::QUEUED) << freed->fine_tune().DebugString();
}

// What a service answers for each held-back example: top intent and slot spans.
std::vector<std::string> answers(NluService& svc, const eval::Split& held) {
  std::vector<std::string> out;
  for (const eval::Example& ex : held.examples) {
    auto r = parse_held(svc, ex);
    if (!r.ok()) continue;
    std::string a = r->model() + " " + (r->intents_size() > 0 ? r->intents(0).name() : "-");
    for (const auto& v : r->slots()) a += " " + v.slot() + "@" + std::to_string(v.start()) + "-" + std::to_string(v.end());
    out.push_back(std::move(a));
  }
  return out;
}

TEST(NluFinetune, AServiceStartedLaterLoadsTheFineTunedModelFromTheCache) {
  std::string why;
  std::optional<SmallBot> bot = small_snips_bot(&why);
  if (!bot) GTEST_SKIP() << why;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("parley_nlu_ft_cache_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto cache = FinetuneCache::open({.dir = dir});
  ASSERT_TRUE(cache.ok()) << cache.status().to_string();
  NluOptions o;
  o.finetune.full.joint.epochs = 2;  // the test is about the cache, not the model's quality
  o.finetune.cache = std::move(*cache);
  Ctx ctx;

  std::vector<std::string> first;
  {
    metrics::Registry registry;
    NluMetrics metrics(registry);
    auto svc = make_service(o, &metrics);
    ASSERT_TRUE(svc.ok()) << svc.status().to_string();
    ASSERT_TRUE((*svc)->train(bot->request, ctx).ok());
    bool saw_running = false;
    const v1::FineTuneStatus last = wait_for_job(**svc, &saw_running);
    ASSERT_EQ(last.state(), v1::FineTuneStatus::READY) << last.DebugString();
    EXPECT_EQ(last.message(), "");
    const std::string text = registry.render();
    EXPECT_NE(text.find("parley_nlu_finetune_cache_total{outcome=\"miss\"} 1"), std::string::npos) << text;
    EXPECT_NE(text.find("parley_nlu_finetune_cache_total{outcome=\"stored\"} 1"), std::string::npos) << text;
    first = answers(**svc, bot->held);
  }
  int entries = 0;
  for (const auto& d : std::filesystem::directory_iterator(dir)) entries += d.path().extension() == ".ft" ? 1 : 0;
  EXPECT_EQ(entries, 1);

  // A service started later (a restart, another replica on the same volume).
  {
    metrics::Registry registry;
    NluMetrics metrics(registry);
    auto svc = make_service(o, &metrics);
    ASSERT_TRUE(svc.ok()) << svc.status().to_string();
    v1::TrainRequest same = bot->request;
    same.set_bot_id("snips-small");
    ASSERT_TRUE((*svc)->train(same, ctx).ok());
    bool saw_running = false;
    const v1::FineTuneStatus last = wait_for_job(**svc, &saw_running);
    ASSERT_EQ(last.state(), v1::FineTuneStatus::READY) << last.DebugString();
    EXPECT_EQ(last.message(), "loaded from the fine-tuning cache");
    EXPECT_EQ(last.serving(), "fine-tuned");
    const std::string text = registry.render();
    EXPECT_NE(text.find("parley_nlu_finetune_cache_total{outcome=\"hit\"} 1"), std::string::npos) << text;
    EXPECT_NE(text.find("parley_nlu_finetune_steps_total 0\n"), std::string::npos) << "nothing was trained: " << text;
    EXPECT_EQ(answers(**svc, bot->held), first) << "the same model parses the same way";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::nlu
