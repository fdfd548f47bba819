// Supervision: a throwing handler fails its own request with INTERNAL, the actor restarts with
// fresh state and keeps its mailbox; past the restart budget it stops for good.
#include <gtest/gtest.h>

#include "tests/unit/shared/actor/test_actors.h"

namespace parley::actor::testing {
namespace {

using SupervisionTest = ManualSystemTest;

TEST_F(SupervisionTest, ThrowingHandlerFailsItsAskerAndRestartsWithFreshState) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(Inc{5}).is_ok());
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return BoomWithReply{std::move(r)}; }, std::chrono::seconds(1),
           answers.callback());
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());  // queued behind the failure
  ex_.run_all();

  ASSERT_EQ(answers.count(), 2u);
  EXPECT_EQ(answers.code(0), StatusCode::kInternal);
  EXPECT_EQ(answers.value(1), 0);  // state re-created: the 5 is gone, the next message handled
  EXPECT_EQ(probe_->constructed, 2);
  EXPECT_EQ(probe_->destroyed, 1);
  EXPECT_EQ(probe_->started, 2);  // on_start again for the new state
  EXPECT_EQ(probe_->stopped, 0);  // a restart is not a stop
  ActorStatsSnapshot s = ref.stats();
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_EQ(s.processed, 3u);
  EXPECT_EQ(s.depth, 0);
  EXPECT_TRUE(ref.alive());
}

TEST_F(SupervisionTest, RestartKeepsTheRestOfTheMailbox) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(Inc{1}).is_ok());
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ASSERT_TRUE(ref.tell(Inc{10}).is_ok());
  ASSERT_TRUE(ref.tell(Inc{100}).is_ok());
  ex_.run_all();
  Answers answers;
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), 110);
}

TEST_F(SupervisionTest, HandlesKeptInTheOldStateFailWithInternal) {
  auto ref = spawn_counter();
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return Park{std::move(r)}; }, std::chrono::seconds(1), answers.callback());
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kInternal);
  EXPECT_EQ(clock_.pending(), 0u);
}

TEST_F(SupervisionTest, SelfTimersDoNotSurviveARestart) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(StartTimer{std::chrono::milliseconds(10)}).is_ok());
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ex_.run_all();
  EXPECT_EQ(clock_.pending(), 0u);
  clock_.advance(std::chrono::seconds(1));
  ex_.run_all();
  EXPECT_EQ(probe_->ticks, 0);
}

TEST_F(SupervisionTest, BudgetExhaustedStopsTheActor) {
  auto ref = spawn_counter({.restart = {.max_restarts = 2, .window = std::chrono::seconds(60)}});
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ex_.run_all();
  EXPECT_TRUE(ref.alive());
  EXPECT_EQ(ref.stats().restarts, 2u);

  Answers answers;
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());  // the third failure within the window
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kUnavailable);  // queued behind the fatal failure
  EXPECT_FALSE(ref.alive());
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  ActorStatsSnapshot s = ref.stats();
  EXPECT_EQ(s.failures, 3u);
  EXPECT_EQ(s.restarts, 2u);
  EXPECT_EQ(probe_->stopped, 1);
  EXPECT_EQ(probe_->constructed, probe_->destroyed.load());
  EXPECT_EQ(system_.live_actors(), 0u);
}

TEST_F(SupervisionTest, FailuresOutsideTheWindowAreForgiven) {
  auto ref = spawn_counter({.restart = {.max_restarts = 1, .window = std::chrono::seconds(10)}});
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ex_.run_all();
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());
  ex_.run_all();
  EXPECT_TRUE(ref.alive());
  EXPECT_EQ(ref.stats().restarts, 2u);
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());  // second within 10 s: over budget
  ex_.run_all();
  EXPECT_FALSE(ref.alive());
}

TEST_F(SupervisionTest, ZeroRestartsStopsAtTheFirstFailure) {
  auto ref = spawn_counter({.restart = {.max_restarts = 0}});
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return BoomWithReply{std::move(r)}; }, std::chrono::seconds(1),
           answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kInternal);  // its own request: INTERNAL, not UNAVAILABLE
  EXPECT_FALSE(ref.alive());
  EXPECT_EQ(ref.stats().restarts, 0u);
}

struct Hello {};
using FragileMsg = std::variant<Hello>;
class FailsToStart final : public Actor<FragileMsg> {
 public:
  explicit FailsToStart(std::shared_ptr<Probe> probe) : probe_(std::move(probe)) {}
  void receive(FragileMsg& msg) override {
    match(msg, [&](Hello&) { probe_->ticks++; });
  }

 protected:
  void on_start() override {
    if (probe_->started++ == 0) throw std::runtime_error("first start fails");
  }

 private:
  std::shared_ptr<Probe> probe_;
};

TEST_F(SupervisionTest, OnStartFailureIsSupervisedToo) {
  auto ref = system_.spawn<FailsToStart>({.name = "fragile"}, probe_);
  ASSERT_TRUE(ref.tell(Hello{}).is_ok());
  ex_.run_all();
  EXPECT_EQ(probe_->started, 2);
  EXPECT_EQ(probe_->ticks, 1);
  EXPECT_EQ(ref.stats().restarts, 1u);
}

}  // namespace
}  // namespace parley::actor::testing
