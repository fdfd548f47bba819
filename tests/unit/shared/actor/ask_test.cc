// ask()/ask_sync(): reply, deadline, cancel, refused and dropped requests, exactly-once delivery,
// and the blocking helper that never hangs.
#include "shared/actor/ask.h"

#include <gtest/gtest.h>

#include "shared/common/check.h"
#include "tests/unit/shared/actor/test_actors.h"

namespace parley::actor::testing {
namespace {

using AskTest = ManualSystemTest;

TEST_F(AskTest, ReplyReachesTheCallbackOnce) {
  auto ref = spawn_counter();
  ASSERT_TRUE(ref.tell(Inc{41}).is_ok());
  ASSERT_TRUE(ref.tell(Inc{1}).is_ok());
  Answers answers;
  AskHandle h = ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  EXPECT_EQ(answers.count(), 0u);
  EXPECT_FALSE(h.done());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), 42);
  EXPECT_TRUE(h.done());
  EXPECT_FALSE(h.cancel());          // too late: nothing happens
  EXPECT_EQ(clock_.pending(), 0u);   // the deadline timer was cancelled by the reply
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(answers.count(), 1u);
}

TEST_F(AskTest, DeadlineExceededWhenTheActorIsTooLate) {
  auto ref = spawn_counter();
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return LateGet{std::move(r)}; }, std::chrono::milliseconds(50),
           answers.callback());
  clock_.advance(std::chrono::milliseconds(49));
  EXPECT_EQ(answers.count(), 0u);
  clock_.advance(std::chrono::milliseconds(1));
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kDeadlineExceeded);
  ex_.run_all();  // the handler still runs; its reply goes nowhere
  EXPECT_EQ(probe_->saw_cancelled, 1);
  EXPECT_EQ(probe_->late_reply_accepted, 0);
  EXPECT_EQ(answers.count(), 1u);
}

TEST_F(AskTest, AbsoluteDeadlineOnTheSystemClock) {
  auto ref = spawn_counter();
  Answers answers;
  ask<int>(ref, make_get(), clock_.now() + std::chrono::seconds(3), answers.callback());
  clock_.advance(std::chrono::seconds(3));
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kDeadlineExceeded);
}

TEST_F(AskTest, ExpiredDeadlineFailsAtOnceWithoutSending) {
  auto ref = spawn_counter();
  ex_.run_all();
  Answers answers;
  ask<int>(ref, make_get(), clock_.now(), answers.callback());
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ref.stats().enqueued, 0u);
}

TEST_F(AskTest, CancelCompletesWithCancelledOnce) {
  auto ref = spawn_counter();
  Answers answers;
  AskHandle h = ask<int>(ref, [](ReplyTo<int> r) { return LateGet{std::move(r)}; }, std::chrono::seconds(1),
                         answers.callback());
  EXPECT_TRUE(h.cancel());
  EXPECT_FALSE(h.cancel());
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kCancelled);
  EXPECT_EQ(clock_.pending(), 0u);
  ex_.run_all();
  EXPECT_EQ(probe_->saw_cancelled, 1);  // the handler can see it and skip the work
  EXPECT_EQ(probe_->late_reply_accepted, 0);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(answers.count(), 1u);
}

TEST_F(AskTest, HandleDroppedWithoutAnswerIsInternalAndABug) {
  auto ref = spawn_counter();
  Answers answers;
  const auto bugs = bug_count();
  ask<int>(ref, [](ReplyTo<int> r) { return Drop{std::move(r)}; }, std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kInternal);
  EXPECT_EQ(bug_count(), bugs + 1);
  EXPECT_EQ(ref.stats().restarts, 0u);  // a bug in the handler, not a crash
}

TEST_F(AskTest, ParkedHandleIsAnsweredLater) {
  auto ref = spawn_counter();
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return Park{std::move(r)}; }, std::chrono::seconds(1), answers.callback());
  ASSERT_TRUE(ref.tell(Inc{7}).is_ok());
  ex_.run_all();
  EXPECT_EQ(answers.count(), 0u);
  ASSERT_TRUE(ref.tell(Release{}).is_ok());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), 7);
}

TEST_F(AskTest, StoppedOrEmptyTargetIsUnavailable) {
  auto ref = spawn_counter();
  ref.stop();
  Answers answers;
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ask<int>(ActorRef<CounterMsg>{}, make_get(), std::chrono::seconds(1), answers.callback());
  ASSERT_EQ(answers.count(), 2u);
  EXPECT_EQ(answers.code(0), StatusCode::kUnavailable);
  EXPECT_EQ(answers.code(1), StatusCode::kUnavailable);
  EXPECT_EQ(clock_.pending(), 0u);
}

TEST_F(AskTest, ThrowingCallbackDoesNotBreakTheReplier) {
  auto ref = spawn_counter();
  const auto bugs = bug_count();
  ask<int>(ref, make_get(), std::chrono::seconds(1), [](Result<int>) { throw std::runtime_error("callback"); });
  ex_.run_all();
  EXPECT_EQ(bug_count(), bugs + 1);
  EXPECT_EQ(ref.stats().failures, 0u);
  EXPECT_EQ(ref.stats().restarts, 0u);
}

TEST_F(AskTest, AskSyncNeverHangsOnAStoppedClock) {
  // Nobody runs the executor or advances the clock: ask_sync still returns, on real time.
  auto ref = spawn_counter();
  Result<int> r = ask_sync<int>(ref, make_get(), std::chrono::milliseconds(20));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(clock_.pending(), 0u);
  ref.stop();
  EXPECT_EQ(ask_sync<int>(ref, make_get(), std::chrono::seconds(30)).status().code(), StatusCode::kUnavailable);
}

struct AskSyncInside {
  ReplyTo<int> reply;
};
using NestedMsg = std::variant<AskSyncInside>;
class AsksSynchronously final : public Actor<NestedMsg> {
 public:
  void receive(NestedMsg& msg) override {
    match(msg, [&](AskSyncInside& m) {
      Result<int> r = ask_sync<int>(ActorRef<CounterMsg>{}, make_get(), std::chrono::seconds(30));
      m.reply.reply(static_cast<int>(r.status().code()));
    });
  }
};

TEST_F(AskTest, AskSyncFromAHandlerIsRefused) {
  auto ref = system_.spawn<AsksSynchronously>({.name = "nested"});
  Answers answers;
  ask<int>(ref, [](ReplyTo<int> r) { return AskSyncInside{std::move(r)}; }, std::chrono::seconds(1),
           answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), static_cast<int>(StatusCode::kFailedPrecondition));
}

TEST(AskRealTest, AskSyncGetsTheReply) {
  ActorSystem system({.name = "real", .threads = 2});
  auto probe = std::make_shared<Probe>();
  auto ref = system.spawn<Counter>({.name = "counter"}, probe);
  ASSERT_TRUE(ref.tell(Inc{5}).is_ok());
  Result<int> r = ask_sync<int>(ref, make_get(), std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, 5);
}

TEST(AskRealTest, RealDeadlineFires) {
  ActorSystem system({.name = "real", .threads = 1});
  auto probe = std::make_shared<Probe>();
  auto ref = system.spawn<Counter>({.name = "counter"}, probe);
  // Parked forever: only the deadline timer can answer.
  Result<int> r = ask_sync<int>(ref, [](ReplyTo<int> h) { return Park{std::move(h)}; }, std::chrono::milliseconds(10));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace parley::actor::testing
