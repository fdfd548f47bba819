// Actors on a ManualExecutor/ManualClock: exhaustive handling, ordering, bounded mailboxes and
// their counters, fairness between actors, self timers, stopping.
#include "shared/actor/actor.h"

#include <gtest/gtest.h>

#include "tests/unit/shared/actor/test_actors.h"

namespace parley::actor::testing {
namespace {

// The compile-time half of "a new message without a handler fails to compile"; the ctest
// actor_match_rejects_missing_handler checks that match() itself refuses to compile.
using HandlesBoth = decltype(Overloaded{[](Inc&) {}, [](Tick&) {}});
using HandlesOne = decltype(Overloaded{[](Inc&) {}});
static_assert(handles_all_v<HandlesBoth, std::variant<Inc, Tick>>);
static_assert(!handles_all_v<HandlesOne, std::variant<Inc, Tick>>);
static_assert(!handles_all_v<HandlesBoth, std::variant<Inc, Tick, Quit>>);

using ActorTest = ManualSystemTest;

TEST_F(ActorTest, MatchCallsTheHandlerOfTheHeldType) {
  std::variant<Inc, Tick> msg = Tick{};
  int which = match(msg, [](Inc&) { return 1; }, [](Tick&) { return 2; });
  EXPECT_EQ(which, 2);
}

TEST_F(ActorTest, OnStartRunsInTheFirstTurnThenMessagesInOrder) {
  auto ref = spawn_counter();
  EXPECT_EQ(probe_->constructed, 1);  // built on the spawning thread
  EXPECT_EQ(probe_->started, 0);      // on_start waits for the executor
  EXPECT_EQ(ex_.pending(), 1u);
  for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(ref.tell(Note{s}).is_ok());
  ex_.run_all();
  EXPECT_EQ(probe_->started, 1);
  EXPECT_EQ(probe_->take_log(), (std::vector<std::string>{"counter:a", "counter:b", "counter:c"}));
}

TEST_F(ActorTest, FullMailboxIsResourceExhaustedAndCounted) {
  auto ref = spawn_counter({.name = "small", .mailbox_capacity = 2});
  ASSERT_TRUE(ref.tell(Inc{}).is_ok());
  ASSERT_TRUE(ref.tell(Inc{}).is_ok());
  Status full = ref.tell(Inc{});
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("small"), std::string::npos);

  ActorStatsSnapshot s = ref.stats();
  EXPECT_EQ(s.enqueued, 2u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.depth, 2);
  EXPECT_EQ(s.capacity, 2u);
  EXPECT_EQ(s.processed, 0u);

  ex_.run_all();
  s = ref.stats();
  EXPECT_EQ(s.processed, 2u);
  EXPECT_EQ(s.depth, 0);
  EXPECT_TRUE(ref.tell(Inc{}).is_ok());  // room again
}

TEST_F(ActorTest, RefusedAskHearsResourceExhaustedAtOnce) {
  auto ref = spawn_counter({.mailbox_capacity = 1});
  ASSERT_TRUE(ref.tell(Inc{}).is_ok());
  Answers answers;
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kResourceExhausted);
  EXPECT_EQ(clock_.pending(), 0u);  // its deadline timer is gone too
}

TEST_F(ActorTest, ATurnHandlesAtMostMessagesPerTurn) {
  auto ref = spawn_counter({.messages_per_turn = 2});
  ex_.run_all();  // on_start
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ref.tell(Inc{}).is_ok());
  EXPECT_EQ(ex_.pending(), 1u);  // one turn queued, however many messages
  ASSERT_TRUE(ex_.run_one());
  EXPECT_EQ(ref.stats().processed, 2u);
  EXPECT_EQ(ex_.pending(), 1u);  // yielded, re-queued behind other work
  ASSERT_TRUE(ex_.run_one());
  EXPECT_EQ(ref.stats().processed, 4u);
  ASSERT_TRUE(ex_.run_one());
  EXPECT_EQ(ref.stats().processed, 5u);
  EXPECT_EQ(ex_.pending(), 0u);
}

TEST_F(ActorTest, BusyActorsTakeTurns) {
  auto a = spawn_counter({.name = "a", .messages_per_turn = 1});
  auto b = spawn_counter({.name = "b", .messages_per_turn = 1});
  ex_.run_all();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a.tell(Note{std::to_string(i)}).is_ok());
    ASSERT_TRUE(b.tell(Note{std::to_string(i)}).is_ok());
  }
  ex_.run_all();
  EXPECT_EQ(probe_->take_log(),
            (std::vector<std::string>{"a:0", "b:0", "a:1", "b:1", "a:2", "b:2"}));
}

TEST_F(ActorTest, ScheduleSelfDeliversAfterTheDelay) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(StartTimer{std::chrono::milliseconds(100)}).is_ok());
  ex_.run_all();
  EXPECT_EQ(clock_.pending(), 1u);
  clock_.advance(std::chrono::milliseconds(99));
  ex_.run_all();
  EXPECT_EQ(probe_->ticks, 0);
  clock_.advance(std::chrono::milliseconds(1));
  ex_.run_all();
  EXPECT_EQ(probe_->ticks, 1);
  EXPECT_EQ(clock_.pending(), 0u);
}

TEST_F(ActorTest, ScheduleSelfCanBeCancelled) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(StartTimer{std::chrono::milliseconds(100)}).is_ok());
  ASSERT_TRUE(ref.tell(CancelTimer{}).is_ok());
  ex_.run_all();
  EXPECT_EQ(probe_->timer_cancel_result, 1);
  EXPECT_EQ(clock_.pending(), 0u);
  clock_.advance(std::chrono::seconds(1));
  ex_.run_all();
  EXPECT_EQ(probe_->ticks, 0);
  // Cancelling a timer that already fired reports false.
  ASSERT_TRUE(ref.tell(StartTimer{std::chrono::milliseconds(1)}).is_ok());
  ex_.run_all();
  clock_.advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(ref.tell(CancelTimer{}).is_ok());
  ex_.run_all();
  EXPECT_EQ(probe_->ticks, 1);
  EXPECT_EQ(probe_->timer_cancel_result, 0);
}

TEST_F(ActorTest, RequestsInsideSelfTimersAreAnsweredOrFailed) {
  auto ref = spawn_counter();
  auto later = [](ReplyTo<int> r) { return Later{std::chrono::milliseconds(100), std::move(r)}; };
  Answers answers;
  ask<int>(ref, later, std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  clock_.advance(std::chrono::milliseconds(100));
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), 0);

  ask<int>(ref, later, std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  ASSERT_TRUE(ref.tell(Boom{}).is_ok());  // the restart cancels the timer holding the request
  ex_.run_all();
  ASSERT_EQ(answers.count(), 2u);
  EXPECT_EQ(answers.code(1), StatusCode::kInternal);

  ask<int>(ref, later, std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  const auto bugs = bug_count();
  system_.shutdown(std::chrono::milliseconds(0));
  ASSERT_EQ(answers.count(), 3u);
  EXPECT_EQ(answers.code(2), StatusCode::kUnavailable);
  EXPECT_EQ(bug_count(), bugs);  // failed with a reason, not as a dropped handle
}

TEST_F(ActorTest, StopSelfFailsWhatIsQueuedAndRefusesLaterTells) {
  auto ref = spawn_counter();
  ex_.run_all();
  Answers answers;
  ASSERT_TRUE(ref.tell(Quit{}).is_ok());
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());  // queued behind Quit
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kUnavailable);
  EXPECT_FALSE(ref.alive());
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(probe_->stopped, 1);
  EXPECT_EQ(probe_->destroyed, 1);
  EXPECT_EQ(system_.live_actors(), 0u);
}

TEST_F(ActorTest, StopFromOutsideRunsOnStopOnce) {
  auto ref = spawn_counter();
  ex_.run_all();
  ASSERT_TRUE(ref.tell(Inc{}).is_ok());
  ref.stop();
  ref.stop();
  EXPECT_EQ(probe_->stopped, 1);
  EXPECT_EQ(probe_->destroyed, 1);
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  ex_.run_all();  // the turn queued for the dropped Inc finds the actor gone
  EXPECT_EQ(ref.stats().processed, 0u);
  EXPECT_EQ(ref.stats().depth, 0);
}

TEST_F(ActorTest, ActorStoppedBeforeItStartedSkipsOnStop) {
  auto ref = spawn_counter();
  ref.stop();
  EXPECT_EQ(probe_->started, 0);
  EXPECT_EQ(probe_->stopped, 0);
  EXPECT_EQ(probe_->destroyed, 1);
  ex_.run_all();
  EXPECT_EQ(probe_->started, 0);
}

TEST_F(ActorTest, SystemTotalsIncludeStoppedActors) {
  auto a = spawn_counter({.name = "a"});
  auto b = spawn_counter({.name = "b", .mailbox_capacity = 1});
  ASSERT_TRUE(a.tell(Inc{}).is_ok());
  ASSERT_TRUE(b.tell(Inc{}).is_ok());
  EXPECT_EQ(b.tell(Inc{}).code(), StatusCode::kResourceExhausted);
  ex_.run_all();
  a.stop();
  ActorStatsSnapshot total = system_.total_stats();
  EXPECT_EQ(total.enqueued, 2u);
  EXPECT_EQ(total.processed, 2u);
  EXPECT_EQ(total.rejected, 1u);
  EXPECT_EQ(total.capacity, 1u);  // live actors only
  EXPECT_EQ(system_.live_actors(), 1u);
  std::vector<std::string> names;
  system_.for_each_actor([&](const std::string& name, const ActorStatsSnapshot&) { names.push_back(name); });
  EXPECT_EQ(names, std::vector<std::string>{"b"});
}

TEST_F(ActorTest, UnnamedActorsGetAName) {
  auto ref = system_.spawn<Counter>({}, probe_);
  EXPECT_EQ(ref.name().rfind("actor-", 0), 0u) << ref.name();
}

TEST_F(ActorTest, EmptyRefRefusesTells) {
  ActorRef<CounterMsg> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_EQ(empty.tell(Inc{}).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::actor::testing
