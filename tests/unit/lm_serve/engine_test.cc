// Engine: the threaded loop around the scheduler — concurrent submitters, cancel from another
// thread, stop() ending what is open. Waits on condition variables (no sleeps).
#include "services/lm/engine.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "tests/unit/lm_serve/fake_model.h"

namespace parley::lm {
namespace {

using namespace std::chrono_literals;

struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, std::vector<std::int32_t>> tokens;
  std::map<int, GenerationEvent> last;
  std::map<int, int> first_token_seen;

  EventSink sink(int key) {
    return [this, key](GenerationEvent&& ev) {
      std::lock_guard lock(mu);
      auto& t = tokens[key];
      if (!ev.tokens.empty()) first_token_seen[key] = 1;
      t.insert(t.end(), ev.tokens.begin(), ev.tokens.end());
      if (ev.finished) last[key] = std::move(ev);
      cv.notify_all();
    };
  }
  bool wait(std::function<bool()> pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, pred);
  }
};

std::unique_ptr<Engine> make_engine(std::int64_t pages, std::function<void()> on_step = {}) {
  EngineOptions o;
  o.kv_pages = pages;
  o.page_size = 4;
  o.scheduler.max_batch = 8;
  auto model = std::make_unique<testing::FakeModel>(64, pages, 4);
  model->on_step = std::move(on_step);
  return std::make_unique<Engine>(std::move(model), testing::letter_factory(), o);
}

TEST(EngineTest, ServesConcurrentSubmitters) {
  auto engine = make_engine(256);
  engine->start();
  Results r;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      GenerationRequest g;
      g.prompt = {i};
      g.max_tokens = 10;
      g.sink = r.sink(i);
      ASSERT_TRUE(engine->submit(std::move(g)).ok());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(r.wait([&] { return r.last.size() == 8; }));
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(r.tokens[i].size(), 10u);
    EXPECT_EQ(r.tokens[i][0], i + 1);
    EXPECT_EQ(r.last[i].reason, FinishReason::kLength);
  }
  EXPECT_TRUE(engine->in_flight() == 0 || r.wait([&] { return engine->in_flight() == 0; }));
  EXPECT_EQ(engine->pages_used(), 0);
}

TEST(EngineTest, RejectsBadRequestsSynchronously) {
  auto engine = make_engine(4);
  engine->start();
  GenerationRequest g;
  g.prompt = {1};
  g.max_tokens = 100;  // 101 positions > 4 pages x 4
  auto id = engine->submit(std::move(g));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(engine->in_flight(), 0);
}

TEST(EngineTest, CancelFromAnotherThreadFreesPages) {
  // The model's second step waits until the cancel was sent, so the generation cannot finish first.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool cancel_sent = false;
  int steps = 0;
  auto engine = make_engine(64, [&] {
    std::unique_lock lock(gate_mu);
    if (++steps >= 2) gate_cv.wait_for(lock, 10s, [&] { return cancel_sent; });
  });
  engine->start();
  Results r;
  GenerationRequest g;
  g.prompt = {1, 2, 3};
  g.max_tokens = 200;
  g.ignore_eos = true;
  g.sink = r.sink(0);
  auto id = engine->submit(std::move(g));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(r.wait([&] { return r.first_token_seen.count(0) > 0; }));
  engine->cancel(*id);
  {
    std::lock_guard lock(gate_mu);
    cancel_sent = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(r.wait([&] { return r.last.count(0) > 0; }));
  EXPECT_EQ(r.last[0].reason, FinishReason::kCancelled);
  EXPECT_EQ(engine->pages_used(), 0);
}

TEST(EngineTest, StopEndsOpenRequests) {
  auto engine = make_engine(64);
  Results r;
  GenerationRequest g;
  g.prompt = {1};
  g.max_tokens = 10;
  g.sink = r.sink(0);
  ASSERT_TRUE(engine->submit(std::move(g)).ok());  // never started: stays queued
  engine->stop();
  ASSERT_EQ(r.last.count(0), 1u);
  EXPECT_EQ(r.last[0].status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(engine->in_flight(), 0);
  GenerationRequest late;
  late.prompt = {1};
  late.max_tokens = 1;
  EXPECT_EQ(engine->submit(std::move(late)).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::lm
