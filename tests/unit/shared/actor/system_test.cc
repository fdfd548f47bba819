// ActorSystem: shutdown (pending asks fail UNAVAILABLE, drain with grace, destructor), spawn
// after shutdown, and real threads: per-actor serialization and cross-actor parallelism.
#include "shared/actor/actor_system.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "tests/unit/shared/actor/test_actors.h"

namespace parley::actor::testing {
namespace {

using SystemTest = ManualSystemTest;

TEST_F(SystemTest, ShutdownFailsPendingAsksWithUnavailable) {
  auto ref = spawn_counter();
  ex_.run_all();
  Answers answers;
  for (int i = 0; i < 3; ++i) ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ask<int>(ref, [](ReplyTo<int> r) { return Park{std::move(r)}; }, std::chrono::seconds(1), answers.callback());
  EXPECT_EQ(answers.count(), 0u);
  ex_.run_one();  // the three Gets and the Park are handled; the Park keeps its handle
  ASSERT_EQ(answers.count(), 3u);
  for (int i = 0; i < 3; ++i) ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());

  system_.shutdown(std::chrono::milliseconds(0));
  ASSERT_EQ(answers.count(), 7u);
  for (std::size_t i = 3; i < 7; ++i) EXPECT_EQ(answers.code(i), StatusCode::kUnavailable) << i;
  EXPECT_EQ(probe_->stopped, 1);
  EXPECT_EQ(probe_->destroyed, 1);
  EXPECT_EQ(clock_.pending(), 0u);

  EXPECT_FALSE(system_.accepting());
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  ASSERT_EQ(answers.count(), 8u);
  EXPECT_EQ(answers.code(7), StatusCode::kUnavailable);
  ex_.run_all();  // leftover turns find nothing to do
  system_.shutdown();  // idempotent
}

TEST_F(SystemTest, SpawnAfterShutdownGivesADeadRef) {
  system_.shutdown(std::chrono::milliseconds(0));
  auto ref = spawn_counter();
  EXPECT_FALSE(ref.alive());
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(ex_.pending(), 0u);
}

TEST(SystemLifetimeTest, DestructorFailsQueuedAsksAndRefsOutliveTheSystem) {
  ManualExecutor ex;
  ManualClock clock;
  auto probe = std::make_shared<Probe>();
  Answers answers;
  ActorRef<CounterMsg> ref;
  {
    ActorSystem system(ex, clock);
    ref = system.spawn<Counter>({.name = "c"}, probe);
    ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  }
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kUnavailable);
  EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  ask<int>(ref, make_get(), std::chrono::seconds(1), answers.callback());
  EXPECT_EQ(answers.code(1), StatusCode::kUnavailable);
  ex.run_all();
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(answers.count(), 2u);
}

TEST(SystemRealTest, ShutdownDrainsQueuedWorkWithinGrace) {
  auto probe = std::make_shared<Probe>();
  Answers answers;
  {
    ActorSystem system({.name = "drain", .threads = 2});
    auto ref = system.spawn<Counter>({.name = "c", .mailbox_capacity = 10000}, probe);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(ref.tell(Inc{}).is_ok());
    ask<int>(ref, make_get(), std::chrono::seconds(60), answers.callback());
    system.shutdown(std::chrono::seconds(30));  // returns as soon as the mailbox is empty
    EXPECT_EQ(ref.tell(Inc{}).code(), StatusCode::kUnavailable);
  }
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.value(0), 1000);
  EXPECT_EQ(probe->stopped, 1);
}

TEST(SystemRealTest, HandlersOfOneActorAreSerialized) {
  // 8 threads tell one actor whose counter is a plain int; the total must be exact and no two
  // handler calls may overlap.
  struct Add {};
  struct Read {
    ReplyTo<int> reply;
  };
  using Msg = std::variant<Add, Read>;
  struct Overlaps {
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
  };
  class Plain final : public Actor<Msg> {
   public:
    explicit Plain(std::shared_ptr<Overlaps> o) : o_(std::move(o)) {}
    void receive(Msg& msg) override {
      if (o_->inside.fetch_add(1) != 0) o_->overlaps++;
      match(
          msg,
          [&](Add&) {
            const int seen = count_;
            // Give the CPU away mid-update now and then: an overlapping handler would get in here.
            if (seen % 16 == 0) std::this_thread::yield();
            count_ = seen + 1;
          },
          [&](Read& r) { r.reply.reply(count_); });
      o_->inside.fetch_sub(1);
    }

   private:
    std::shared_ptr<Overlaps> o_;
    int count_ = 0;
  };

  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  auto overlaps = std::make_shared<Overlaps>();
  ActorSystem system({.name = "serial", .threads = 4});
  auto ref = system.spawn<Plain>({.name = "plain", .mailbox_capacity = 512, .messages_per_turn = 8}, overlaps);
  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        for (;;) {  // backpressure: retry what the full mailbox refused
          Status s = ref.tell(Add{});
          if (s.is_ok()) break;
          ASSERT_EQ(s.code(), StatusCode::kResourceExhausted);
          refused++;
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& p : producers) p.join();
  // The mailbox may still be full of Adds: the Read backs off like the producers did.
  Result<int> total = resource_exhausted("not asked");
  for (int attempt = 0; attempt < 100000; ++attempt) {
    total = ask_sync<int>(ref, [](ReplyTo<int> r) { return Read{std::move(r)}; }, std::chrono::seconds(30));
    if (total.ok() || total.status().code() != StatusCode::kResourceExhausted) break;
    refused++;
    std::this_thread::yield();
  }
  ASSERT_TRUE(total.ok()) << total.status().to_string();
  EXPECT_EQ(*total, kThreads * kPerThread);
  EXPECT_EQ(overlaps->overlaps, 0);
  ActorStatsSnapshot s = ref.stats();
  EXPECT_EQ(s.enqueued, static_cast<std::uint64_t>(kThreads * kPerThread + 1));
  EXPECT_EQ(s.rejected, refused.load());
}

/// Two handlers that each wait (bounded) for the other to arrive: only true parallelism lets
/// both see the other. A runtime that ran all actors on one thread fails after the timeout.
struct Rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<int> met{0};
  void arrive() {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    if (cv.wait_for(lock, std::chrono::seconds(20), [&] { return arrived >= 2; })) met++;
  }
};
struct Meet {};
using MeetMsg = std::variant<Meet>;
class Meeter final : public Actor<MeetMsg> {
 public:
  explicit Meeter(std::shared_ptr<Rendezvous> r) : r_(std::move(r)) {}
  void receive(MeetMsg& msg) override {
    match(msg, [&](Meet&) { r_->arrive(); });
  }

 private:
  std::shared_ptr<Rendezvous> r_;
};

TEST(SystemRealTest, DifferentActorsRunInParallel) {
  auto r = std::make_shared<Rendezvous>();
  ActorSystem system({.name = "parallel", .threads = 2});
  auto a = system.spawn<Meeter>({.name = "a"}, r);
  auto b = system.spawn<Meeter>({.name = "b"}, r);
  ASSERT_TRUE(a.tell(Meet{}).is_ok());
  ASSERT_TRUE(b.tell(Meet{}).is_ok());
  system.shutdown(std::chrono::seconds(60));
  EXPECT_EQ(r->met, 2);
}

TEST(SystemRealTest, PoolMembersRunInParallel) {
  auto r = std::make_shared<Rendezvous>();
  ActorSystem system({.name = "pool", .threads = 2});
  auto pool = system.spawn_pool<Meeter>({.name = "meet", .size = 2, .total_capacity = 8}, r);
  ASSERT_TRUE(pool.tell(Meet{}).is_ok());
  ASSERT_TRUE(pool.tell(Meet{}).is_ok());  // the first member is busy (depth 1): goes to the second
  system.shutdown(std::chrono::seconds(60));
  EXPECT_EQ(r->met, 2);
}

TEST(SystemRealTest, ShutdownUnderLoadAnswersEveryAsk) {
  // Producers keep asking while the system shuts down: every callback runs exactly once.
  auto probe = std::make_shared<Probe>();
  std::atomic<int> asked{0};
  std::atomic<int> answered{0};
  std::atomic<int> ok{0};
  auto system = std::make_unique<ActorSystem>(ActorSystemOptions{.name = "load", .threads = 2});
  std::vector<ActorRef<CounterMsg>> refs;
  for (int i = 0; i < 16; ++i) {
    ActorOptions options{.mailbox_capacity = 64};
    options.name = "load-" + std::to_string(i);  // not "c" + ...: GCC 12 -Wrestrict false positive
    refs.push_back(system->spawn<Counter>(std::move(options), probe));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        asked++;
        ask<int>(refs[(i + t) % refs.size()], make_get(), std::chrono::seconds(30), [&](Result<int> r) {
          if (r.ok()) ok++;
          answered++;
        });
        (void)refs[i % refs.size()].tell(Inc{});
      }
    });
  }
  while (ok.load() < 1000) std::this_thread::yield();
  system->shutdown(std::chrono::milliseconds(0));
  stop = true;
  for (auto& p : producers) p.join();
  system.reset();
  EXPECT_EQ(answered.load(), asked.load());
  EXPECT_EQ(probe->constructed.load(), probe->destroyed.load());
}

}  // namespace
}  // namespace parley::actor::testing
