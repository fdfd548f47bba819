// Executors and timer services: manual ones step deterministically; real ones run everything
// they accepted and join cleanly (checked by counts, never by elapsed time).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/actor/executor.h"
#include "shared/actor/timer.h"
#include "shared/common/check.h"

namespace parley::actor {
namespace {

TEST(ManualExecutorTest, RunsInFifoOrderOnlyWhenAsked) {
  ManualExecutor ex;
  std::vector<int> order;
  ex.post([&] { order.push_back(1); });
  ex.post([&] {
    order.push_back(2);
    ex.post([&] { order.push_back(3); });
  });
  EXPECT_EQ(ex.pending(), 2u);
  EXPECT_TRUE(order.empty());
  EXPECT_TRUE(ex.run_one());
  EXPECT_EQ(order, std::vector<int>{1});
  EXPECT_EQ(ex.run_all(), 2u);  // includes the task posted while running
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(ex.run_one());
}

TEST(ManualExecutorTest, ThrowingTaskIsABugNotACrash) {
  ManualExecutor ex;
  const auto bugs = bug_count();
  ex.post([] { throw std::runtime_error("task"); });
  EXPECT_TRUE(ex.run_one());
  EXPECT_EQ(bug_count(), bugs + 1);
}

TEST(ThreadPoolExecutorTest, RunsEveryTaskAndJoins) {
  std::atomic<int> ran{0};
  {
    ThreadPoolExecutor pool(3, "test");
    EXPECT_EQ(pool.threads(), 3u);
    for (int i = 0; i < 1000; ++i) {
      pool.post([&] {
        ran++;
        if (ran % 100 == 0) std::this_thread::yield();
      });
    }
    pool.shutdown();  // drains what was posted
    EXPECT_EQ(ran, 1000);
    pool.shutdown();
  }
  EXPECT_EQ(ran, 1000);
}

TEST(ThreadPoolExecutorTest, UsesSeveralThreads) {
  // Two tasks that each wait (bounded) for the other: both succeed only if they run at once.
  ThreadPoolExecutor pool(2, "test");
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<int> met{0};
  for (int i = 0; i < 2; ++i) {
    pool.post([&] {
      std::unique_lock lock(mu);
      ++arrived;
      cv.notify_all();
      if (cv.wait_for(lock, std::chrono::seconds(20), [&] { return arrived == 2; })) met++;
    });
  }
  pool.shutdown();
  EXPECT_EQ(met, 2);
}

TEST(ManualClockTest, FiresDueTimersInOrderAtTheirTime) {
  ManualClock clock;
  const TimePoint t0 = clock.now();
  std::vector<std::pair<int, TimePoint>> fired;
  clock.schedule(std::chrono::milliseconds(30), [&] { fired.emplace_back(3, clock.now()); });
  clock.schedule(std::chrono::milliseconds(10), [&] {
    fired.emplace_back(1, clock.now());
    // Scheduled from a callback, due inside the window: fires in this advance().
    clock.schedule(std::chrono::milliseconds(5), [&] { fired.emplace_back(2, clock.now()); });
  });
  clock.schedule(t0 + std::chrono::milliseconds(31), [&] { fired.emplace_back(4, clock.now()); });
  EXPECT_EQ(clock.pending(), 3u);
  EXPECT_EQ(clock.next_due(), t0 + std::chrono::milliseconds(10));

  clock.advance(std::chrono::milliseconds(30));
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(1, t0 + std::chrono::milliseconds(10)));
  EXPECT_EQ(fired[1], std::make_pair(2, t0 + std::chrono::milliseconds(15)));
  EXPECT_EQ(fired[2], std::make_pair(3, t0 + std::chrono::milliseconds(30)));
  EXPECT_EQ(clock.now(), t0 + std::chrono::milliseconds(30));
  EXPECT_EQ(clock.pending(), 1u);
}

TEST(ManualClockTest, CancelledTimersNeverFire) {
  ManualClock clock;
  int fired = 0;
  TimerId a = clock.schedule(std::chrono::seconds(1), [&] { fired += 1; });
  TimerId b = clock.schedule(std::chrono::seconds(1), [&] { fired += 10; });
  EXPECT_NE(a, b);
  EXPECT_TRUE(clock.cancel(a));
  EXPECT_FALSE(clock.cancel(a));
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(fired, 10);
  EXPECT_FALSE(clock.cancel(b));  // already fired
  EXPECT_FALSE(clock.next_due().has_value());
}

TEST(ThreadTimerServiceTest, FiresAndCancels) {
  ThreadTimerService timers("test-timer");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> fired;
  auto note = [&](int v) {
    std::lock_guard lock(mu);
    fired.push_back(v);
    cv.notify_all();
  };
  TimerId never = timers.schedule(std::chrono::hours(1), [&] { note(-1); });
  timers.schedule(std::chrono::milliseconds(2), [&] { note(2); });
  timers.schedule(std::chrono::milliseconds(1), [&] { note(1); });
  EXPECT_TRUE(timers.cancel(never));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return fired.size() == 2; }));
    EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  }
  EXPECT_EQ(timers.pending(), 0u);
  timers.schedule(std::chrono::hours(1), [&] { note(-2); });
  timers.shutdown();  // pending timers are dropped, not run
  EXPECT_EQ(timers.schedule(std::chrono::milliseconds(1), [] {}), kNoTimer);
  std::lock_guard lock(mu);
  EXPECT_EQ(fired.size(), 2u);
}

}  // namespace
}  // namespace parley::actor
