// BotRegistry (engine/bot_registry.h): bots per tenant and in all, another tenant's upload
// protected, DELETE, a replaced or deleted bot freed, definitions over a limit refused whole,
// webhooks outside dialog.webhook_allow refused at load, a Train the NLU refused never re-sent
// and failed ones retried with backoff, uploads kept in the store (another replica and a
// restarted one load them; a delete on one replica reaches the others), and a bot described with
// the fine-tuning it asked for and the NLU's job.
#include "services/dialog/engine/bot_registry.h"

#include <gtest/gtest.h>

#include "services/dialog/testing/fake_services.h"
#include "shared/store/memory_store.h"

namespace parley::dialog {
namespace {

/// FakeServices with a scripted Train outcome.
class ScriptedServices final : public Services {
 public:
  void parse(const v1::ParseRequest& r, const CallMeta& m, Done<v1::ParseResponse> d) override { fake.parse(r, m, std::move(d)); }
  void answer(const v1::AnswerRequest& r, const CallMeta& m, Done<v1::AnswerResponse> d) override {
    fake.answer(r, m, std::move(d));
  }
  void generate(const v1::GenerateRequest& r, const CallMeta& m, std::function<void(const std::string&)> t,
                Done<v1::GenerateResponse> d) override {
    fake.generate(r, m, std::move(t), std::move(d));
  }
  void webhook(const WebhookDef& h, std::string b, const CallMeta& m, Done<std::string> d) override {
    fake.webhook(h, std::move(b), m, std::move(d));
  }
  void training_status(const v1::TrainingStatusRequest& r, const CallMeta& m,
                       std::function<void(std::vector<ReplicaTrainingStatus>)> d) override {
    fake.training_status(r, m, std::move(d));
  }
  Result<v1::TrainResponse> train(const v1::TrainRequest& req, std::chrono::milliseconds timeout) override {
    ++train_calls;
    if (!train_status.is_ok()) return train_status;
    return fake.train(req, timeout);
  }
  Result<v1::IngestResponse> ingest(const v1::IngestRequest& req, std::chrono::milliseconds timeout) override {
    return fake.ingest(req, timeout);
  }
  Status drop_bot(const std::string& id, std::chrono::milliseconds) override {
    dropped.push_back(id);
    return Status::ok();
  }
  testing::FakeServices fake;
  Status train_status = Status::ok();
  int train_calls = 0;
  std::vector<std::string> dropped;
};

std::string bot_yaml(const std::string& id, const std::string& extra = "") {
  return "bot: {id: " + id + "}\nintents: {greet: [hello, hi], bye: [goodbye]}\nresponses: {hi: [Hi!]}\n"
         "rules: [{intent: greet, actions: [hi]}]\n" + extra;
}

TEST(BotRegistryTest, QuotasOwnersAndDelete) {
  ScriptedServices services;
  BotRegistryOptions o;
  o.max_bots_per_tenant = 2;
  o.max_bots = 3;
  BotRegistry bots(services, nullptr, o);
  ASSERT_TRUE(bots.put_yaml("a1", bot_yaml("a1"), "acme").ok());
  ASSERT_TRUE(bots.put_yaml("a2", bot_yaml("a2"), "acme").ok());
  auto third = bots.put_yaml("a3", bot_yaml("a3"), "acme");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("api.max_bots_per_key"), std::string::npos) << third.status().to_string();
  // Replacing one's own bot is not a new one.
  auto again = bots.put_yaml("a2", bot_yaml("a2"), "acme");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->owner(), "acme");
  // Another tenant cannot replace or delete it.
  auto steal = bots.put_yaml("a1", bot_yaml("a1"), "globex");
  ASSERT_FALSE(steal.ok());
  EXPECT_EQ(steal.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(bots.remove("a1", std::string("globex")).code(), StatusCode::kPermissionDenied);
  // All bots together are capped too.
  ASSERT_TRUE(bots.put_yaml("g1", bot_yaml("g1"), "globex").ok());
  auto full = bots.put_yaml("g2", bot_yaml("g2"), "globex");
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("dialog.max_bots"), std::string::npos) << full.status().to_string();
  // DELETE: gone here and from the services; NOT_FOUND the second time.
  ASSERT_TRUE(bots.remove("a1", std::string("acme")).is_ok());
  EXPECT_EQ(bots.find("a1"), nullptr);
  EXPECT_EQ(services.dropped, std::vector<std::string>{"a1"});
  EXPECT_EQ(bots.remove("a1", std::string("acme")).code(), StatusCode::kNotFound);
  EXPECT_TRUE(bots.put_yaml("g2", bot_yaml("g2"), "globex").ok());
}

/// describe_with_training's result (the fakes answer inline, before it returns).
std::optional<Result<v1::Bot>> describe_now(const BotRegistry& bots, const std::string& id) {
  std::optional<Result<v1::Bot>> got;
  bots.describe_with_training(id, std::chrono::steady_clock::now() + std::chrono::seconds(1),
                              [&](Result<v1::Bot> b) { got.emplace(std::move(b)); });
  return got;
}

TEST(BotRegistryTest, ABotIsDescribedWithTheFineTuningItAskedForAndTheNlusJob) {
  ScriptedServices services;
  BotRegistry bots(services, nullptr, BotRegistryOptions{});
  auto put = bots.put_yaml("ft", bot_yaml("ft", "nlu: {fine_tune: lora}\n"));
  ASSERT_TRUE(put.ok()) << put.status().to_string();
  EXPECT_EQ(put->nlu_fine_tune_requested(), "lora");
  EXPECT_FALSE(put->has_nlu_fine_tune()) << "only GET /v1/bots/{bot} asks the NLU";
  EXPECT_EQ(services.fake.nlu.last_train("ft").fine_tune(), v1::FINE_TUNE_LORA) << "the bot's choice reaches the NLU";

  // What the NLU reports is passed through whole.
  services.fake.on_training_status = [](const std::string&,
                                        const v1::TrainingStatusRequest& r) -> Result<v1::TrainingStatusResponse> {
    v1::TrainingStatusResponse out;
    out.set_bot_id(r.bot_id());
    auto* ft = out.mutable_fine_tune();
    ft->set_state(v1::FineTuneStatus::RUNNING);
    ft->set_progress(0.4f);
    ft->set_step(40);
    ft->set_steps(100);
    ft->set_mode("lora");
    ft->set_serving("frozen");
    if (r.bot_id() != "ft") return not_found("asked about '" + r.bot_id() + "'");
    return out;
  };
  auto got = describe_now(bots, "ft");
  ASSERT_TRUE(got && got->ok()) << (got ? got->status().to_string() : "done never ran");
  EXPECT_EQ((*got)->nlu_fine_tune().state(), v1::FineTuneStatus::RUNNING);
  EXPECT_FLOAT_EQ((*got)->nlu_fine_tune().progress(), 0.4f);
  EXPECT_EQ((*got)->nlu_fine_tune().steps(), 100);
  EXPECT_EQ((*got)->nlu_fine_tune().serving(), "frozen");
  EXPECT_EQ((*got)->nlu_fine_tune_error(), "");
  EXPECT_EQ((*got)->nlu_fine_tune_requested(), "lora");
  EXPECT_EQ((*got)->id(), "ft");
  ASSERT_EQ((*got)->nlu_replicas_size(), 1);
  EXPECT_EQ((*got)->nlu_replicas(0).replica(), "in-process");
  EXPECT_EQ((*got)->nlu_replicas(0).fine_tune().state(), v1::FineTuneStatus::RUNNING);

  // The NLU down: the bot is still described, and why the job is missing is said.
  services.fake.nlu_down = true;
  got = describe_now(bots, "ft");
  ASSERT_TRUE(got && got->ok());
  EXPECT_FALSE((*got)->has_nlu_fine_tune());
  EXPECT_NE((*got)->nlu_fine_tune_error().find("no live NLU replica"), std::string::npos) << (*got)->nlu_fine_tune_error();
  EXPECT_EQ((*got)->nlu_replicas_size(), 0);
  services.fake.nlu_down = false;

  // Not trained yet (the NLU refused it): the NLU is not asked about a bot it does not have.
  services.train_status = unavailable("nlu is starting");
  ASSERT_TRUE(bots.put_yaml("later", bot_yaml("later")).ok());
  const int calls = services.fake.training_status_calls.load();
  got = describe_now(bots, "later");
  ASSERT_TRUE(got && got->ok());
  EXPECT_FALSE((*got)->nlu_trained());
  EXPECT_FALSE((*got)->has_nlu_fine_tune());
  EXPECT_NE((*got)->nlu_fine_tune_error().find("not been trained"), std::string::npos) << (*got)->nlu_fine_tune_error();
  EXPECT_EQ(services.fake.training_status_calls.load(), calls);
  EXPECT_EQ((*got)->nlu_fine_tune_requested(), "") << "no nlu section: the NLU's default";

  got = describe_now(bots, "nobody");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kNotFound);
}

// Every NLU replica runs the bot's job itself: each is listed, and the summary is the one furthest
// behind, so READY / fine-tuned there holds for every replica that answered.
TEST(BotRegistryTest, SeveralNluReplicasAreEachListedAndSummarizedByTheOneFurthestBehind) {
  auto status = [](v1::FineTuneStatus::State state, float progress, const char* serving) {
    v1::TrainingStatusResponse r;
    r.mutable_fine_tune()->set_state(state);
    r.mutable_fine_tune()->set_progress(progress);
    r.mutable_fine_tune()->set_serving(serving);
    return r;
  };
  auto summary = [](std::vector<ReplicaTrainingStatus> replicas) {
    v1::Bot bot;
    summarize_training(replicas, bot);
    return bot;
  };
  using S = v1::FineTuneStatus;
  // One ready, one still running: running (the slower replica) is what the bot's turns may get.
  v1::Bot b = summary({{"tcp://a", status(S::READY, 1, "fine-tuned")}, {"tcp://b", status(S::RUNNING, 0.5f, "frozen")}});
  EXPECT_EQ(b.nlu_fine_tune().state(), S::RUNNING);
  ASSERT_EQ(b.nlu_replicas_size(), 2);
  EXPECT_EQ(b.nlu_replicas(0).replica(), "tcp://a");
  EXPECT_EQ(b.nlu_replicas(0).fine_tune().state(), S::READY);
  EXPECT_EQ(b.nlu_fine_tune_error(), "");
  // Running at 80 % and queued: queued.
  b = summary({{"tcp://a", status(S::RUNNING, 0.8f, "frozen")}, {"tcp://b", status(S::QUEUED, 0, "frozen")}});
  EXPECT_EQ(b.nlu_fine_tune().state(), S::QUEUED);
  // Two running: the lower progress.
  b = summary({{"tcp://a", status(S::RUNNING, 0.8f, "frozen")}, {"tcp://b", status(S::RUNNING, 0.3f, "frozen")}});
  EXPECT_FLOAT_EQ(b.nlu_fine_tune().progress(), 0.3f);
  // Ended on both, one refused the fine-tuned model: not fine-tuned everywhere.
  b = summary({{"tcp://a", status(S::READY, 1, "fine-tuned")}, {"tcp://b", status(S::FAILED, 1, "frozen")}});
  EXPECT_EQ(b.nlu_fine_tune().state(), S::FAILED);
  EXPECT_EQ(b.nlu_fine_tune().serving(), "frozen");
  // All ready.
  b = summary({{"tcp://a", status(S::READY, 1, "fine-tuned")}, {"tcp://b", status(S::READY, 1, "fine-tuned")}});
  EXPECT_EQ(b.nlu_fine_tune().serving(), "fine-tuned");
  // A replica that did not answer is listed with why, and named in the error.
  b = summary({{"tcp://a", status(S::READY, 1, "fine-tuned")}, {"tcp://b", deadline_exceeded("no reply in 2000 ms")}});
  EXPECT_EQ(b.nlu_fine_tune().state(), S::READY);
  EXPECT_NE(b.nlu_replicas(1).error().find("no reply in 2000 ms"), std::string::npos);
  EXPECT_NE(b.nlu_fine_tune_error().find("replicas not covered: tcp://b: "), std::string::npos) << b.nlu_fine_tune_error();
  // None answered.
  b = summary({{"tcp://a", unavailable("gone")}});
  EXPECT_FALSE(b.has_nlu_fine_tune());
  EXPECT_NE(b.nlu_fine_tune_error().find("the NLU's training status: tcp://a: "), std::string::npos) << b.nlu_fine_tune_error();
}

TEST(BotRegistryTest, FineTuningModesTheDeploymentDoesNotAllowAreRefused) {
  ScriptedServices services;
  BotRegistryOptions o;
  o.fine_tune_allow = {"lora"};
  BotRegistry bots(services, nullptr, o);
  auto full = bots.put_yaml("f", bot_yaml("f", "nlu: {fine_tune: full}\n"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(full.status().message().find("nlu.fine_tune: full"), std::string::npos) << full.status().to_string();
  EXPECT_NE(full.status().message().find("dialog.bot_fine_tune_allow: lora"), std::string::npos) << full.status().to_string();
  EXPECT_EQ(bots.find("f"), nullptr);
  EXPECT_EQ(services.train_calls, 0) << "a refused bot is not trained";
  EXPECT_TRUE(bots.put_yaml("l", bot_yaml("l", "nlu: {fine_tune: lora}\n")).ok());
  EXPECT_TRUE(bots.put_yaml("o", bot_yaml("o", "nlu: {fine_tune: off}\n")).ok()) << "off is always allowed";

  o.fine_tune_allow = {};
  BotRegistry none(services, nullptr, o);
  auto lora = none.put_yaml("l", bot_yaml("l", "nlu: {fine_tune: lora}\n"));
  ASSERT_FALSE(lora.ok());
  EXPECT_NE(lora.status().message().find("dialog.bot_fine_tune_allow: none"), std::string::npos) << lora.status().to_string();
  EXPECT_TRUE(none.put_yaml("d", bot_yaml("d")).ok()) << "a bot that does not ask is not affected";
}

TEST(BotRegistryTest, AReplacedOrDeletedBotIsFreed) {
  ScriptedServices services;
  BotRegistry bots(services, nullptr, BotRegistryOptions{});
  ASSERT_TRUE(bots.put_yaml("b", bot_yaml("b")).ok());
  std::weak_ptr<const Bot> first = bots.find("b");
  ASSERT_FALSE(first.expired());
  ASSERT_TRUE(bots.put_yaml("b", bot_yaml("b")).ok());
  EXPECT_TRUE(first.expired()) << "the replaced bot is still referenced";
  std::weak_ptr<const Bot> second = bots.find("b");
  ASSERT_TRUE(bots.remove("b").is_ok());
  EXPECT_TRUE(second.expired()) << "the deleted bot is still referenced";
}

TEST(BotRegistryTest, DefinitionsOverALimitAndWebhooksNotAllowedAreRefused) {
  ScriptedServices services;
  BotRegistryOptions o;
  o.limits.max_bytes = 512;
  auto guard = WebhookGuard::create({.allow = {"actions.example.com"}});
  ASSERT_TRUE(guard.ok());
  o.webhook_guard = *guard;
  BotRegistry bots(services, nullptr, o);
  auto big = bots.put_yaml("big", bot_yaml("big", "# " + std::string(600, 'x') + "\n"));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kOutOfRange) << big.status().to_string();
  auto hook = [](const std::string& url) {
    return "actions: {lookup: {url: \"" + url + "\"}}\n";
  };
  auto internal = bots.put_yaml("h", bot_yaml("h", hook("http://10.0.0.7:9104/metrics")));
  ASSERT_FALSE(internal.ok());
  EXPECT_EQ(internal.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(internal.status().message().find("dialog.webhook_allow"), std::string::npos) << internal.status().to_string();
  auto ok = bots.put_yaml("h", bot_yaml("h", hook("http://actions.example.com/webhook")));
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(services.train_calls, 1) << "refused definitions never reach the NLU";
}

TEST(BotRegistryTest, ARefusedTrainIsNotResentAndFailuresBackOff) {
  ScriptedServices services;
  BotRegistryOptions o;
  o.retry_min = std::chrono::hours(1);  // nothing is due again within the test...
  BotRegistry bots(services, nullptr, o);
  services.train_status = invalid_argument("bot has 30000 examples; the limit is 20000 (nlu.max_examples)");
  ASSERT_TRUE(bots.put_yaml("r", bot_yaml("r")).ok());
  EXPECT_EQ(services.train_calls, 1);
  for (int i = 0; i < 5; ++i) bots.sync_pending();
  EXPECT_EQ(services.train_calls, 1) << "a Train the NLU refused was sent again";
  auto d = bots.describe("r");
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->sync_error().find("not retried"), std::string::npos) << d->sync_error();
  // The NLU restarted and lost its bots: then the bot is tried again.
  bots.mark_unsynced("r");
  services.train_status = Status::ok();
  EXPECT_EQ(bots.sync_pending(), 0u);
  EXPECT_EQ(services.train_calls, 2);
  // A transient failure waits for its backoff (retry_min, doubling) instead of every sync.
  services.train_status = unavailable("no live replica of nlu");
  ASSERT_TRUE(bots.put_yaml("t", bot_yaml("t")).ok());
  const int after_put = services.train_calls;
  for (int i = 0; i < 5; ++i) bots.sync_pending();
  EXPECT_EQ(services.train_calls, after_put) << "...so no retry happens yet";
}

TEST(BotRegistryTest, UploadsLiveInTheStoreForEveryReplicaAndARestart) {
  ScriptedServices services;
  store::MemoryStore shared;  // the Redis every replica shares
  BotRegistryOptions o;
  o.store = &shared;
  auto a = std::make_unique<BotRegistry>(services, nullptr, o);
  BotRegistry b(services, nullptr, o);
  ASSERT_TRUE(a->put_yaml("kept", bot_yaml("kept"), "acme").ok());
  EXPECT_TRUE(a->describe("kept")->persisted());
  EXPECT_EQ(b.find("kept"), nullptr);
  EXPECT_EQ(b.refresh_from_store(), 1u);
  ASSERT_NE(b.find("kept"), nullptr);
  EXPECT_EQ(*b.owner_of("kept"), "acme");
  EXPECT_EQ(b.refresh_from_store(), 0u) << "nothing changed";
  // A replica that restarts finds it.
  a.reset();
  BotRegistry restarted(services, nullptr, o);
  EXPECT_EQ(restarted.refresh_from_store(), 1u);
  ASSERT_NE(restarted.find("kept"), nullptr);
  // A new version on one replica reaches the other; a delete too.
  ASSERT_TRUE(restarted.put_yaml("kept", bot_yaml("kept", "thresholds: {nlu_fallback: 0.5}\n"), "acme").ok());
  EXPECT_EQ(b.refresh_from_store(), 1u);
  EXPECT_FLOAT_EQ(b.find("kept")->thresholds.nlu_fallback, 0.5f);
  ASSERT_TRUE(restarted.remove("kept", std::string("acme")).is_ok());
  EXPECT_EQ(b.refresh_from_store(), 1u);
  EXPECT_EQ(b.find("kept"), nullptr);
}

}  // namespace
}  // namespace parley::dialog
