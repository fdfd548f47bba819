// Interrupted replies: cutting the bot's messages to the played text (pure), and the session
// actor's interruptions (deterministic: manual executor, in-process fakes) — a turn stopped while
// the LM generates (the generation is cancelled, the reply and history hold what was played, the
// next LM prompt sees only that), a stored turn cut afterwards, a queued turn dropped.
#include <gtest/gtest.h>

#include "services/dialog/bot/loader.h"
#include "services/dialog/engine/interruption.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/testing/fake_services.h"
#include "shared/actor/executor.h"
#include "shared/actor/timer.h"
#include "shared/store/memory_store.h"

namespace parley::dialog {
namespace {

google::protobuf::RepeatedPtrField<v1::BotMessage> messages(std::initializer_list<std::pair<const char*, const char*>> ms) {
  google::protobuf::RepeatedPtrField<v1::BotMessage> out;
  for (const auto& [text, kind] : ms) {
    auto* m = out.Add();
    m->set_text(text);
    m->set_kind(kind);
  }
  return out;
}

std::string joined(const std::vector<v1::BotMessage>& ms) {
  std::string s;
  for (const auto& m : ms) s += (s.empty() ? "" : "|") + m.text() + "/" + m.kind();
  return s;
}

TEST(CutToPlayed, WholeMessagesThenTheOneItStoppedIn) {
  auto ms = messages({{"Sure.", "response"}, {"What time would you like the table?", "slot_prompt"}});
  EXPECT_EQ(joined(cut_to_played(ms, "Sure. What time would", "")), "Sure./response|What time would/slot_prompt");
  EXPECT_EQ(joined(cut_to_played(ms, "Sure.  What time wou", "")), "Sure./response|What time/slot_prompt");
  EXPECT_EQ(joined(cut_to_played(ms, "Sure.", "")), "Sure./response");
  EXPECT_EQ(joined(cut_to_played(ms, "", "")), "");
  EXPECT_EQ(joined(cut_to_played(ms, "Sure. What time would you like the table?", "")),
            "Sure./response|What time would you like the table?/slot_prompt");
}

TEST(CutToPlayed, PlayedTextOfAStreamingReplyBecomesAMessage) {
  auto ms = messages({{"Let me think.", "response"}});
  EXPECT_EQ(joined(cut_to_played(ms, "Let me think.\nI am a small", "generated_fallback")),
            "Let me think./response|I am a small/generated_fallback");
  EXPECT_EQ(joined(cut_to_played(ms, "Let me think. I am", "")), "Let me think./response");
  EXPECT_EQ(normalize_spaces("  a \n b\t c  "), "a b c");
}

class InterruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = load_bot_file(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    bot_ = r.bot;
    ASSERT_TRUE(services_.train(bot_->train_request(), std::chrono::seconds(1)).ok());
    SessionDeps deps;
    deps.find_bot = [this](const std::string& id) -> std::shared_ptr<const Bot> { return id == bot_->id ? bot_ : nullptr; };
    deps.services = &services_;
    deps.store = &store_;
    sessions_ = std::make_unique<SessionManager>(system_, deps, DialogOptions{});
    auto s = sessions_->create("demo", {});
    ASSERT_TRUE(s.ok());
    id_ = s->id();
  }

  /// Starts a turn; its result lands in `out` once the executor runs it to the end.
  std::uint64_t start(const std::string& text, std::optional<Result<v1::TurnResponse>>& out,
                      std::vector<std::string>* tokens = nullptr) {
    const auto tag = SessionManager::new_turn_tag();
    TokenFn on_token;
    if (tokens) on_token = [tokens](const std::string& t) { tokens->push_back(t); };
    sessions_->turn(id_, text, on_token, tag, [&out](Result<v1::TurnResponse> r) { out = std::move(r); });
    return tag;
  }

  static bool has_event(const v1::TurnResponse& r, const std::string& type) {
    for (const auto& e : r.events()) {
      if (e.type() == type) return true;
    }
    return false;
  }

  actor::ManualExecutor executor_;
  actor::ManualClock clock_;
  actor::ActorSystem system_{executor_, clock_};
  testing::FakeServices services_;
  store::MemoryStore store_;
  std::shared_ptr<const Bot> bot_;
  std::unique_ptr<SessionManager> sessions_;
  std::string id_;
};

TEST_F(InterruptionTest, StoppedWhileTheLmGeneratesKeepsWhatWasPlayed) {
  services_.hold_generate = true;
  std::optional<Result<v1::TurnResponse>> out;
  std::vector<std::string> tokens;
  const auto tag = start("tell me a joke about penguins", out, &tokens);
  executor_.run_all();
  ASSERT_FALSE(out.has_value()) << "the turn waits for the LM";
  ASSERT_FALSE(tokens.empty());

  sessions_->interrupt(id_, tag, "I am a small language", "barge_in");
  executor_.run_all();
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->status().to_string();
  EXPECT_EQ(services_.generate_cancelled.load(), 1) << "the generation was cancelled";
  ASSERT_EQ((*out)->messages_size(), 1);
  EXPECT_EQ((*out)->messages(0).text(), "I am a small language");
  EXPECT_EQ((*out)->messages(0).kind(), "generated_fallback");
  EXPECT_TRUE(has_event(**out, "interrupted"));
  EXPECT_TRUE((*out)->errors().empty()) << "a cancelled generation is not a service error";

  auto s = sessions_->get(id_);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->history_size(), 1);
  EXPECT_TRUE(s->history(0).interrupted());
  EXPECT_EQ(s->history(0).messages(0).text(), "I am a small language");

  // The LM's next prompt holds only what the user heard.
  services_.hold_generate = false;
  std::optional<Result<v1::TurnResponse>> next;
  start("what do you think about the moon", next);
  executor_.run_all();
  ASSERT_TRUE(next.has_value() && next->ok());
  const auto& msgs = services_.last_generate.messages().messages();
  bool saw = false;
  for (const auto& m : msgs) {
    if (m.role() == "assistant") {
      EXPECT_EQ(m.content(), "I am a small language");
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
}

TEST_F(InterruptionTest, AStoredTurnIsCutAfterwards) {
  std::optional<Result<v1::TurnResponse>> out;
  const auto tag = start("reserve a table for 4", out);
  executor_.run_all();
  ASSERT_TRUE(out.has_value() && out->ok());
  EXPECT_EQ((*out)->messages(0).text(), "What time would you like the table?");

  sessions_->interrupt(id_, tag, "What time would", "client");
  executor_.run_all();
  auto s = sessions_->get(id_);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->history_size(), 1);
  EXPECT_TRUE(s->history(0).interrupted());
  ASSERT_EQ(s->history(0).messages_size(), 1);
  EXPECT_EQ(s->history(0).messages(0).text(), "What time would");
  EXPECT_EQ(s->requested_slot(), "time") << "the form's state stays";

  // A second interruption of the same turn changes nothing.
  sessions_->interrupt(id_, tag, "What", "client");
  executor_.run_all();
  EXPECT_EQ(sessions_->get(id_)->history(0).messages(0).text(), "What time would");
}

TEST_F(InterruptionTest, AQueuedTurnIsDropped) {
  services_.hold_generate = true;
  std::optional<Result<v1::TurnResponse>> first, second;
  start("tell me a joke about penguins", first);
  const auto tag2 = start("and another one", second);
  executor_.run_all();
  EXPECT_FALSE(first.has_value());
  EXPECT_FALSE(second.has_value());
  sessions_->interrupt(id_, tag2, "", "client");
  executor_.run_all();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status().code(), StatusCode::kCancelled);
  EXPECT_EQ(services_.release_generate(), 1);
  executor_.run_all();
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ(sessions_->get(id_)->turns(), 1);
}

}  // namespace
}  // namespace parley::dialog
