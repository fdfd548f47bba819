// Tests for DynamicBatcher: batch closing by size and by delay, deadlines, bounded queue, errors,
// stop/drain, statistics and their Prometheus export. Manual mode with a ManualClock: no sleeps.
#include "shared/batching/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <optional>
#include <thread>

#include "shared/actor/timer.h"
#include "shared/common/check.h"
#include "shared/metrics/registry.h"

namespace parley::batching {
namespace {

using namespace std::chrono_literals;
using Batcher = DynamicBatcher<int, int>;

/// Doubles every request and records the batches it saw.
struct Recorder {
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  Batcher::BatchFn fn() {
    return [this](std::vector<int>& batch) {
      std::lock_guard lock(mu);
      batches.push_back(batch);
      std::vector<Result<int>> out;
      for (int v : batch) {
        if (v < 0) {
          out.emplace_back(invalid_argument("negative"));
        } else {
          out.emplace_back(v * 2);
        }
      }
      return out;
    };
  }
};

/// Captures one completion.
struct Slot {
  std::optional<Result<int>> result;
  Completion<int> done() {
    return [this](Result<int> r) { result.emplace(std::move(r)); };
  }
};

class ManualBatcherTest : public ::testing::Test {
 protected:
  std::unique_ptr<Batcher> make(std::size_t max_batch, Duration delay, std::size_t capacity = 64) {
    auto b = Batcher::create({.name = "test", .max_batch_size = max_batch, .max_queue_delay = delay,
                              .queue_capacity = capacity, .workers = 0, .clock = &clock_},
                             rec_.fn());
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return std::move(*b);
  }
  TimePoint in(Duration d) { return clock_.now() + d; }

  actor::ManualClock clock_;
  Recorder rec_;
};

TEST_F(ManualBatcherTest, BatchClosesAtMaxBatchSizeWithoutWaiting) {
  auto b = make(4, 10s);
  Slot s[4];
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b->enqueue(i, in(1min), s[i].done()).is_ok());
  EXPECT_EQ(b->next_due(), clock_.now());
  EXPECT_EQ(b->run_once(), 4u);
  ASSERT_EQ(rec_.batches.size(), 1u);
  EXPECT_EQ(rec_.batches[0], (std::vector<int>{0, 1, 2, 3}));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s[i].result.has_value());
    EXPECT_EQ(**s[i].result, i * 2);
  }
}

TEST_F(ManualBatcherTest, BatchClosesAfterMaxQueueDelaySinceFirstRequest) {
  auto b = make(4, 10ms);
  Slot a, c;
  TimePoint t0 = clock_.now();
  ASSERT_TRUE(b->enqueue(1, in(1min), a.done()).is_ok());
  clock_.advance(6ms);
  ASSERT_TRUE(b->enqueue(2, in(1min), c.done()).is_ok());
  EXPECT_EQ(b->next_due(), t0 + 10ms);  // measured from the first request, not the last
  EXPECT_EQ(b->run_once(), 0u);
  clock_.advance(4ms - 1ns);
  EXPECT_EQ(b->run_once(), 0u);
  EXPECT_FALSE(a.result.has_value());
  clock_.advance(1ns);
  EXPECT_EQ(b->run_once(), 2u);
  ASSERT_EQ(rec_.batches.size(), 1u);
  EXPECT_EQ(rec_.batches[0], (std::vector<int>{1, 2}));
  EXPECT_EQ(**c.result, 4);
  EXPECT_EQ(b->next_due(), std::nullopt);
}

TEST_F(ManualBatcherTest, OverflowSplitsIntoFullBatchesAndARemainderThatWaits) {
  auto b = make(2, 5ms);
  Slot s[5];
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b->enqueue(i, in(1min), s[i].done()).is_ok());
  EXPECT_EQ(b->run_once(), 2u);
  EXPECT_EQ(b->run_once(), 2u);
  EXPECT_EQ(b->run_once(), 0u);  // one left: waits for company up to the delay
  clock_.advance(5ms);
  EXPECT_EQ(b->run_once(), 1u);
  auto st = b->stats().snapshot();
  EXPECT_EQ(st.batches, 3u);
  EXPECT_EQ(st.batch_sizes[2], 2u);
  EXPECT_EQ(st.batch_sizes[1], 1u);
  EXPECT_EQ(st.executed, 5u);
  EXPECT_DOUBLE_EQ(st.mean_batch_size(), 5.0 / 3.0);
}

TEST_F(ManualBatcherTest, ExpiredRequestsAreAnsweredDeadlineExceededWithoutRunning) {
  auto b = make(4, 10ms);
  Slot early, late;
  ASSERT_TRUE(b->enqueue(7, in(1ms), early.done()).is_ok());
  ASSERT_TRUE(b->enqueue(8, in(1min), late.done()).is_ok());
  EXPECT_EQ(b->next_due(), clock_.now() + 1ms);  // wakes for the deadline, before the batch closes
  clock_.advance(1ms);
  EXPECT_EQ(b->run_once(), 1u);
  ASSERT_TRUE(early.result.has_value());
  EXPECT_EQ(early.result->status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(rec_.batches.empty());  // nothing ran
  clock_.advance(9ms);
  EXPECT_EQ(b->run_once(), 1u);
  ASSERT_EQ(rec_.batches.size(), 1u);
  EXPECT_EQ(rec_.batches[0], (std::vector<int>{8}));
  EXPECT_EQ(**late.result, 16);
  EXPECT_EQ(b->stats().snapshot().expired, 1u);
}

TEST_F(ManualBatcherTest, DeadlineAlreadyPassedIsRefused) {
  auto b = make(4, 10ms);
  Slot s;
  Status st = b->enqueue(1, clock_.now(), s.done());
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(s.result.has_value());  // refusal: the completion is not called
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST_F(ManualBatcherTest, FullQueueIsResourceExhaustedAndCounted) {
  auto b = make(8, 10ms, /*capacity=*/2);
  Slot s[3];
  ASSERT_TRUE(b->enqueue(1, in(1min), s[0].done()).is_ok());
  ASSERT_TRUE(b->enqueue(2, in(1min), s[1].done()).is_ok());
  Status st = b->enqueue(3, in(1min), s[2].done());
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("queue is full"), std::string::npos) << st.message();
  EXPECT_FALSE(s[2].result.has_value());
  EXPECT_EQ(b->in_flight(), 2u);
  EXPECT_EQ(b->stats().snapshot().rejected, 1u);
  clock_.advance(10ms);
  EXPECT_EQ(b->run_once(), 2u);
  EXPECT_TRUE(b->enqueue(3, in(1min), s[2].done()).is_ok());  // room again
}

TEST_F(ManualBatcherTest, PerRequestErrorsReachOnlyTheirCaller) {
  auto b = make(3, 10ms);
  Slot s[3];
  ASSERT_TRUE(b->enqueue(1, in(1min), s[0].done()).is_ok());
  ASSERT_TRUE(b->enqueue(-1, in(1min), s[1].done()).is_ok());
  ASSERT_TRUE(b->enqueue(3, in(1min), s[2].done()).is_ok());
  EXPECT_EQ(b->run_once(), 3u);
  EXPECT_EQ(**s[0].result, 2);
  EXPECT_EQ(s[1].result->status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(**s[2].result, 6);
  EXPECT_EQ(b->stats().snapshot().failed, 1u);
}

TEST_F(ManualBatcherTest, WrongResultCountOrThrowFailsTheBatchAsInternalAndCountsABug) {
  int mode = 0;
  auto b = Batcher::create({.max_batch_size = 2, .max_queue_delay = 1ms, .workers = 0, .clock = &clock_},
                           [&](std::vector<int>&) -> std::vector<Result<int>> {
                             if (mode == 0) return {Result<int>(1)};  // one short
                             throw std::runtime_error("boom");
                           });
  ASSERT_TRUE(b.ok());
  auto bugs = bug_count();
  for (int round = 0; round < 2; ++round) {
    mode = round;
    Slot s[2];
    ASSERT_TRUE((*b)->enqueue(1, in(1min), s[0].done()).is_ok());
    ASSERT_TRUE((*b)->enqueue(2, in(1min), s[1].done()).is_ok());
    EXPECT_EQ((*b)->run_once(), 2u);
    for (auto& slot : s) EXPECT_EQ(slot.result->status().code(), StatusCode::kInternal);
  }
  EXPECT_EQ(bug_count(), bugs + 2);
}

TEST_F(ManualBatcherTest, StopRunsWhatIsQueuedAtOnceThenRefuses) {
  auto b = make(8, 10s);
  Slot s[3];
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b->enqueue(i, in(1min), s[i].done()).is_ok());
  b->stop();  // no clock advance: the drain does not wait for the delay
  for (int i = 0; i < 3; ++i) EXPECT_EQ(**s[i].result, i * 2);
  Slot after;
  EXPECT_EQ(b->enqueue(1, in(1min), after.done()).code(), StatusCode::kUnavailable);
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST_F(ManualBatcherTest, QueueDelayIsMeasuredOnTheInjectedClock) {
  auto b = make(4, 3ms);
  Slot a, c;
  ASSERT_TRUE(b->enqueue(1, in(1min), a.done()).is_ok());
  clock_.advance(1ms);
  ASSERT_TRUE(b->enqueue(2, in(1min), c.done()).is_ok());
  clock_.advance(2ms);
  ASSERT_EQ(b->run_once(), 2u);
  auto st = b->stats().snapshot();
  EXPECT_NEAR(st.delay_sum_seconds, 0.003 + 0.002, 1e-12);
  EXPECT_NEAR(st.delay_max_seconds, 0.003, 1e-12);
  EXPECT_DOUBLE_EQ(st.delay_quantile_bound(1.0), 5e-3);  // 3 ms lands in the (2 ms, 5 ms] bucket
}

TEST(DynamicBatcherOptions, BadOptionsAreRejectedByName) {
  auto b = Batcher::create({.max_batch_size = 0}, [](std::vector<int>&) { return std::vector<Result<int>>{}; });
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("max_batch_size"), std::string::npos);
  auto c = Batcher::create({}, nullptr);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(DynamicBatcherThreads, BatchesCloseBySizeOnWorkerThreads) {
  // A delay far beyond the test's life: batches can only close by size, so the outcome is exact.
  Recorder rec;
  auto b = Batcher::create({.max_batch_size = 4, .max_queue_delay = 1h, .workers = 3}, rec.fn());
  ASSERT_TRUE(b.ok());
  std::latch done(16);
  std::atomic<int> sum{0};
  auto deadline = std::chrono::steady_clock::now() + 1h;
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE((*b)->enqueue(i, deadline, [&](Result<int> r) {
                       sum += *r;
                       done.count_down();
                     }).is_ok());
  }
  done.wait();
  EXPECT_EQ(sum.load(), 2 * (15 * 16 / 2));
  std::lock_guard lock(rec.mu);
  ASSERT_EQ(rec.batches.size(), 4u);
  for (auto& batch : rec.batches) EXPECT_EQ(batch.size(), 4u);
}

TEST(DynamicBatcherThreads, ManyCallersGetTheirOwnResults) {
  Recorder rec;
  auto b = Batcher::create({.max_batch_size = 8, .max_queue_delay = 200us, .workers = 2}, rec.fn());
  ASSERT_TRUE(b.ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 6; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        int v = t * 1000 + i;
        auto r = (*b)->call(v, std::chrono::steady_clock::now() + 1min);
        if (!r.ok() || *r != 2 * v) ++wrong;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(wrong.load(), 0);
  (*b)->stop();
  auto st = (*b)->stats().snapshot();
  EXPECT_EQ(st.executed, 1200u);
  EXPECT_EQ(st.enqueued, 1200u);
}

TEST(DynamicBatcherThreads, StopDrainsWorkersAndRefusesLaterWork) {
  Recorder rec;
  auto b = Batcher::create({.max_batch_size = 64, .max_queue_delay = 1h, .workers = 2}, rec.fn());
  ASSERT_TRUE(b.ok());
  std::atomic<int> answered{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*b)->enqueue(i, std::chrono::steady_clock::now() + 1h, [&](Result<int> r) {
                       if (r.ok()) ++answered;
                     }).is_ok());
  }
  (*b)->stop();  // would wait an hour for the batch to close by delay; stop closes it now
  EXPECT_EQ(answered.load(), 10);
  EXPECT_EQ((*b)->call(1, std::chrono::steady_clock::now() + 1h).status().code(), StatusCode::kUnavailable);
}

TEST(BatchStats, ExportsPrometheusFamilies) {
  metrics::Registry registry;
  actor::ManualClock clock;
  Recorder rec;
  auto b = Batcher::create({.max_batch_size = 2, .max_queue_delay = 1ms, .queue_capacity = 2, .workers = 0,
                            .clock = &clock},
                           rec.fn());
  ASSERT_TRUE(b.ok());
  (*b)->stats().export_to(registry, "qa", "embed");
  Slot s[4];
  ASSERT_TRUE((*b)->enqueue(1, clock.now() + 1ms, s[0].done()).is_ok());
  ASSERT_TRUE((*b)->enqueue(2, clock.now() + 1min, s[1].done()).is_ok());
  EXPECT_FALSE((*b)->enqueue(3, clock.now() + 1min, s[2].done()).is_ok());
  clock.advance(1ms);
  (*b)->run_once();  // 1 expired, then a batch of 1 (closed by delay)
  std::string text = registry.render();
  EXPECT_NE(text.find("parley_batch_size_count{service=\"qa\",batcher=\"embed\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_batch_requests_total{service=\"qa\",batcher=\"embed\",outcome=\"expired\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("parley_batch_requests_total{service=\"qa\",batcher=\"embed\",outcome=\"rejected\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("parley_batch_queue_delay_seconds_bucket"), std::string::npos);
}

}  // namespace
}  // namespace parley::batching
