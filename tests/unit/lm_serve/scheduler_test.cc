// Continuous-batching scheduler with a fake model and a manual clock: admission between steps,
// chunked prefill that does not starve decodes, FIFO fairness, cancellation freeing pages at once,
// seeded determinism, stop strings across tokens, deadlines, preemption with recompute.
#include "services/lm/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "shared/metrics/registry.h"
#include "tests/unit/lm_serve/fake_model.h"

namespace parley::lm {
namespace {

using testing::FakeModel;
using testing::letter_factory;

struct Collected {
  std::vector<std::int32_t> tokens;
  std::string text;
  std::vector<std::string> deltas;
  bool finished = false;
  int finished_events = 0;
  FinishReason reason = FinishReason::kError;
  Status status;
  Usage usage;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void make(std::int64_t num_pages, std::int64_t page_size, SchedulerOptions opts,
            FakeModel::Mode mode = FakeModel::Mode::kIncrement, std::int64_t vocab = 64) {
    model_ = std::make_unique<FakeModel>(vocab, num_pages, page_size, mode);
    pages_ = std::make_unique<KvPageAllocator>(num_pages, page_size);
    sched_ = std::make_unique<Scheduler>(*model_, *pages_, letter_factory(), opts, [this] { return now_; }, &metrics_);
  }

  GenerationRequest request(std::vector<std::int32_t> prompt, std::int32_t max_tokens, RequestId id) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.sink = [this, id](GenerationEvent&& ev) {
      Collected& c = out_[id];
      EXPECT_FALSE(c.finished) << "event after the finished event";
      c.tokens.insert(c.tokens.end(), ev.tokens.begin(), ev.tokens.end());
      c.text += ev.text;
      c.deltas.push_back(ev.text);
      if (ev.finished) {
        c.finished = true;
        ++c.finished_events;
        c.reason = ev.reason;
        c.status = ev.status;
        c.usage = ev.usage;
      }
    };
    return r;
  }

  void submit(RequestId id, std::vector<std::int32_t> prompt, std::int32_t max_tokens,
              std::function<void(GenerationRequest&)> tweak = {}) {
    GenerationRequest r = request(std::move(prompt), max_tokens, id);
    if (tweak) tweak(r);
    Status st = sched_->submit(id, std::move(r));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
  }

  void run_until_idle(int max_steps = 1000) {
    for (int i = 0; i < max_steps && !sched_->idle(); ++i) sched_->step();
    ASSERT_TRUE(sched_->idle()) << "scheduler did not finish";
  }

  std::vector<std::int32_t> range(std::int32_t from, std::int32_t n) {
    std::vector<std::int32_t> v;
    for (std::int32_t i = 0; i < n; ++i) v.push_back(from + i);
    return v;
  }

  Clock::time_point now_ = Clock::time_point(std::chrono::seconds(1000));
  metrics::Registry registry_;
  LmMetrics metrics_{registry_};
  std::unique_ptr<FakeModel> model_;
  std::unique_ptr<KvPageAllocator> pages_;
  std::unique_ptr<Scheduler> sched_;
  std::map<RequestId, Collected> out_;
};

TEST_F(SchedulerTest, GreedyGenerationStreamsTokensAndText) {
  make(16, 4, {.max_batch = 4});
  submit(1, {1, 2}, 5);
  run_until_idle();
  const Collected& c = out_[1];
  EXPECT_EQ(c.tokens, (std::vector<std::int32_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(c.text, "defgh");
  EXPECT_EQ(c.reason, FinishReason::kLength);
  EXPECT_TRUE(c.status.is_ok());
  EXPECT_EQ(c.finished_events, 1);
  EXPECT_EQ(c.usage.prompt_tokens, 2);
  EXPECT_EQ(c.usage.completion_tokens, 5);
  EXPECT_EQ(pages_->pages_used(), 0) << "pages come back when a sequence finishes";
  EXPECT_EQ(metrics_.tokens_generated.value(), 5);
  // One prefill step, then one decode per token after the first.
  EXPECT_EQ(model_->calls.size(), 5u);
}

TEST_F(SchedulerTest, AdmitsNewRequestsBetweenDecodeSteps) {
  make(32, 4, {.max_batch = 4});
  submit(1, {1, 2, 3}, 20);
  sched_->step();  // prefill 1
  sched_->step();  // decode 1
  submit(2, {10, 11}, 3);
  StepReport r = sched_->step();
  EXPECT_EQ(r.admitted, 1);
  EXPECT_EQ(r.sequences, 2) << "the new prefill joins the running decode in the same forward";
  ASSERT_EQ(model_->calls.back().start.size(), 2u);
  EXPECT_EQ(model_->calls.back().count[0], 1);  // decode of request 1
  EXPECT_EQ(model_->calls.back().count[1], 2);  // prompt of request 2
  run_until_idle();
  EXPECT_EQ(out_[2].tokens, (std::vector<std::int32_t>{12, 13, 14}));
  EXPECT_EQ(out_[1].tokens.size(), 20u);
  EXPECT_GT(metrics_.batch_size.snapshot().sum, static_cast<double>(metrics_.batch_size.snapshot().count))
      << "some steps ran more than one sequence";
}

TEST_F(SchedulerTest, MaxBatchQueuesTheRestAndCountsThem) {
  make(64, 4, {.max_batch = 2});
  submit(1, {1}, 4);
  submit(2, {2}, 4);
  submit(3, {3}, 4);
  StepReport r = sched_->step();
  EXPECT_EQ(r.sequences, 2);
  EXPECT_EQ(sched_->waiting(), 1u);
  EXPECT_EQ(metrics_.requests_queued.value(), 1);
  EXPECT_EQ(metrics_.requests_waiting.value(), 1);
  run_until_idle();
  EXPECT_EQ(out_[3].tokens, (std::vector<std::int32_t>{4, 5, 6, 7}));
}

TEST_F(SchedulerTest, ChunkedPrefillDoesNotStarveDecodes) {
  make(64, 4, {.max_batch = 4, .prefill_chunk_tokens = 4}, FakeModel::Mode::kHash);
  submit(1, {1, 2}, 30);
  sched_->step();
  const std::size_t before = out_[1].tokens.size();
  submit(2, range(5, 20), 3);  // 20-token prompt: 5 chunks of 4
  for (int i = 0; i < 5; ++i) {
    StepReport r = sched_->step();
    EXPECT_EQ(r.decode_sequences, 1) << "step " << i;
    EXPECT_LE(r.prefill_tokens, 4) << "step " << i;
  }
  EXPECT_EQ(out_[1].tokens.size(), before + 5) << "request 1 got a token every step during the long prefill";
  EXPECT_EQ(out_[2].tokens.size(), 1u) << "request 2's first token came with its last chunk";
  run_until_idle();

  // Same prompts alone, unchunked: identical tokens (positions and pages were right).
  std::map<RequestId, Collected> chunked = out_;
  out_.clear();
  make(64, 4, {.max_batch = 4, .prefill_chunk_tokens = 1000}, FakeModel::Mode::kHash);
  submit(2, range(5, 20), 3);
  run_until_idle();
  EXPECT_EQ(out_[2].tokens, chunked[2].tokens);
}

TEST_F(SchedulerTest, FifoAdmissionDoesNotLetShortRequestsJumpALongOne) {
  // 8 pages of 4: request 1 holds 4 pages; request 2 needs 5 (does not fit); request 3 needs 1.
  make(8, 4, {.max_batch = 4});
  submit(1, range(1, 13), 4);   // 13 tokens -> 4 pages
  sched_->step();
  submit(2, range(1, 17), 2);   // 17 tokens -> 5 pages: waits
  submit(3, {1}, 2);            // would fit, but is behind request 2
  sched_->step();
  EXPECT_EQ(sched_->waiting(), 2u);
  EXPECT_TRUE(out_[3].tokens.empty()) << "request 3 must not overtake request 2";
  run_until_idle();
  EXPECT_EQ(out_[2].reason, FinishReason::kLength);
  EXPECT_EQ(out_[3].reason, FinishReason::kLength);
  EXPECT_GE(metrics_.requests_queued.value(), 2);
}

TEST_F(SchedulerTest, CancelFreesPagesImmediately) {
  make(32, 4, {.max_batch = 4});
  submit(1, range(1, 10), 50);
  submit(2, {1, 2}, 50);
  sched_->step();
  sched_->step();
  const std::int64_t used = pages_->pages_used();
  ASSERT_GT(used, 3);
  EXPECT_TRUE(sched_->cancel(1));
  EXPECT_EQ(pages_->pages_used(), 1) << "request 1's pages are back before the next step";
  EXPECT_EQ(metrics_.kv_pages_used.value(), 1);
  EXPECT_EQ(out_[1].reason, FinishReason::kCancelled);
  EXPECT_EQ(out_[1].status.code(), StatusCode::kCancelled);
  EXPECT_FALSE(sched_->cancel(1)) << "a finished request cannot be cancelled again";
  // A waiting request is cancelled too.
  submit(3, {5}, 5);
  EXPECT_TRUE(sched_->cancel(3));
  EXPECT_EQ(out_[3].finished_events, 1);
  EXPECT_TRUE(sched_->cancel(2));
  EXPECT_EQ(pages_->pages_used(), 0);
  EXPECT_TRUE(sched_->idle());
}

TEST_F(SchedulerTest, SeededSamplingIsDeterministicWhateverTheBatch) {
  auto sampled = [](GenerationRequest& r) {
    r.sampling.temperature = 0.9f;
    r.sampling.top_k = 20;
    r.sampling.top_p = 0.95f;
    r.sampling.seed = 42;
  };
  make(64, 4, {.max_batch = 4}, FakeModel::Mode::kHash);
  submit(1, {3, 4, 5}, 24, sampled);
  run_until_idle();
  const std::vector<std::int32_t> alone = out_[1].tokens;

  out_.clear();
  make(64, 4, {.max_batch = 4, .prefill_chunk_tokens = 2}, FakeModel::Mode::kHash);
  submit(7, range(1, 9), 30);
  sched_->step();
  submit(1, {3, 4, 5}, 24, sampled);
  submit(8, {9}, 10, [](GenerationRequest& r) { r.sampling.temperature = 1.0f; r.sampling.seed = 3; });
  run_until_idle();
  EXPECT_EQ(out_[1].tokens, alone) << "same seed, same tokens, with other sequences in the batch";

  out_.clear();
  make(64, 4, {.max_batch = 4}, FakeModel::Mode::kHash);
  submit(1, {3, 4, 5}, 24, [&](GenerationRequest& r) { sampled(r); r.sampling.seed = 43; });
  run_until_idle();
  EXPECT_NE(out_[1].tokens, alone) << "another seed draws other tokens";
}

TEST_F(SchedulerTest, StopStringAcrossTokenBoundariesIsNeverLeaked) {
  make(32, 4, {.max_batch = 2});
  // Tokens 3,4,5,6,... are "d","e","f","g": the stop string "efg" spans three tokens.
  submit(1, {1, 2}, 20, [](GenerationRequest& r) { r.stop = {"efg"}; });
  run_until_idle();
  EXPECT_EQ(out_[1].text, "d");
  EXPECT_EQ(out_[1].reason, FinishReason::kStop);
  for (const auto& d : out_[1].deltas) EXPECT_EQ(d.find('e'), std::string::npos) << "held-back prefix leaked";
  // A prefix that does not complete is released as soon as it cannot match.
  submit(2, {1, 2}, 5, [](GenerationRequest& r) { r.stop = {"ex"}; });
  run_until_idle();
  EXPECT_EQ(out_[2].text, "defgh");
  EXPECT_EQ(out_[2].reason, FinishReason::kLength);
}

TEST_F(SchedulerTest, StopTokensEndWithoutTheirText) {
  make(32, 4, {.max_batch = 2, .eog_tokens = {6}});
  submit(1, {1, 2}, 20);
  run_until_idle();
  EXPECT_EQ(out_[1].tokens, (std::vector<std::int32_t>{3, 4, 5}));
  EXPECT_EQ(out_[1].text, "def");
  EXPECT_EQ(out_[1].reason, FinishReason::kStop);
  submit(2, {1, 2}, 20, [](GenerationRequest& r) { r.stop_tokens = {4}; });
  submit(3, {1, 2}, 5, [](GenerationRequest& r) { r.ignore_eos = true; });
  run_until_idle();
  EXPECT_EQ(out_[2].tokens, (std::vector<std::int32_t>{3}));
  EXPECT_EQ(out_[3].tokens.size(), 5u) << "ignore_eos runs past the end-of-generation token";
}

TEST_F(SchedulerTest, DeadlinePassedEndsTheRequestAndFreesPages) {
  make(32, 4, {.max_batch = 1});
  submit(1, {1, 2}, 100, [&](GenerationRequest& r) { r.deadline = now_ + std::chrono::milliseconds(50); });
  submit(2, {1, 2}, 100, [&](GenerationRequest& r) { r.deadline = now_ + std::chrono::milliseconds(20); });
  sched_->step();
  sched_->step();
  EXPECT_EQ(sched_->waiting(), 1u);
  now_ += std::chrono::milliseconds(30);
  sched_->step();
  EXPECT_EQ(out_[2].reason, FinishReason::kDeadline) << "a waiting request expires too";
  EXPECT_EQ(out_[2].status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(out_[1].finished);
  now_ += std::chrono::milliseconds(30);
  sched_->step();
  EXPECT_EQ(out_[1].reason, FinishReason::kDeadline);
  EXPECT_EQ(out_[1].status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(out_[1].tokens.size(), 3u);
  EXPECT_EQ(pages_->pages_used(), 0);
  EXPECT_TRUE(sched_->idle());
}

TEST_F(SchedulerTest, PreemptionUnderKvPressureRecomputesWithoutChangingOutput) {
  // Reference: each prompt alone with plenty of pages.
  std::map<RequestId, std::vector<std::int32_t>> want;
  for (RequestId id : {1, 2, 3}) {
    out_.clear();
    make(64, 4, {.max_batch = 4}, FakeModel::Mode::kHash);
    submit(id, range(static_cast<std::int32_t>(id), 6), 14);
    run_until_idle();
    want[id] = out_[id].tokens;
  }
  // 10 pages of 4 = 40 positions for three sequences that grow to 20 each: someone is evicted.
  out_.clear();
  make(10, 4, {.max_batch = 4}, FakeModel::Mode::kHash);
  for (RequestId id : {1, 2, 3}) submit(id, range(static_cast<std::int32_t>(id), 6), 14);
  run_until_idle();
  EXPECT_GT(metrics_.preemptions.value(), 0) << "the pool was meant to run dry";
  for (RequestId id : {1, 2, 3}) {
    EXPECT_EQ(out_[id].tokens, want[id]) << "request " << id;
    EXPECT_EQ(out_[id].reason, FinishReason::kLength);
  }
  EXPECT_EQ(pages_->pages_used(), 0);
}

TEST_F(SchedulerTest, ValidationNamesTheProblem) {
  make(8, 4, {.max_batch = 2, .max_context = 64});
  auto check = [&](GenerationRequest r, StatusCode code, const std::string& needle) {
    Status st = sched_->submit(99, std::move(r));
    EXPECT_EQ(st.code(), code) << st.to_string();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  check(request({}, 4, 99), StatusCode::kInvalidArgument, "empty");
  check(request({1, 64}, 4, 99), StatusCode::kInvalidArgument, "vocabulary");
  check(request({1}, 0, 99), StatusCode::kInvalidArgument, "max_tokens");
  check(request({1}, 40, 99), StatusCode::kResourceExhausted, "KV pages");
  check(request({1}, 70, 99), StatusCode::kResourceExhausted, "context length");
  GenerationRequest bad = request({1}, 4, 99);
  bad.sampling.top_p = 1.5f;
  check(std::move(bad), StatusCode::kInvalidArgument, "top_p");
  EXPECT_TRUE(sched_->idle());
  EXPECT_TRUE(out_.empty()) << "rejected requests get no events";
}

TEST_F(SchedulerTest, ModelFailureEndsTheBatchWithAnError) {
  make(16, 4, {.max_batch = 2});
  submit(1, {1}, 5);
  submit(2, {2}, 5);
  model_->fail_next = 1;
  sched_->step();
  EXPECT_EQ(out_[1].reason, FinishReason::kError);
  EXPECT_EQ(out_[2].status.code(), StatusCode::kInternal);
  EXPECT_EQ(pages_->pages_used(), 0);
  submit(3, {1}, 2);
  run_until_idle();
  EXPECT_EQ(out_[3].tokens, (std::vector<std::int32_t>{2, 3})) << "the engine keeps serving";
}

TEST_F(SchedulerTest, TimeToFirstTokenAndInterTokenLatencyAreRecorded) {
  make(16, 4, {.max_batch = 2});
  submit(1, {1}, 3);
  now_ += std::chrono::milliseconds(5);
  sched_->step();
  now_ += std::chrono::milliseconds(2);
  sched_->step();
  sched_->step();
  EXPECT_EQ(metrics_.time_to_first_token.snapshot().count, 1u);
  EXPECT_NEAR(metrics_.time_to_first_token.snapshot().sum, 0.005, 1e-9);
  EXPECT_EQ(metrics_.inter_token_latency.snapshot().count, 2u);
  EXPECT_EQ(out_[1].usage.time_to_first_token_us, 5000);
}

}  // namespace
}  // namespace parley::lm
