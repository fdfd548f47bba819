// Engine: the LM's continuous-batching loop on its own thread — owns the model's KV pages and
// the Scheduler, takes requests and cancels from any thread, and steps while there is work.
// Why: one thread drives the model (it owns the KV cache); callers only submit and receive
// events. Depends on scheduler.h, step_model.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "services/lm/generation.h"
#include "services/lm/kv_pages.h"
#include "services/lm/lm_metrics.h"
#include "services/lm/scheduler.h"
#include "services/lm/step_model.h"

namespace parley::lm {

struct EngineOptions {
  SchedulerOptions scheduler;
  std::int64_t kv_pages = 512;
  std::int64_t page_size = 16;  ///< must match the StepModel's KV storage
};

/// Owns a StepModel and runs it. Thread-safe: submit()/cancel()/stats from any thread; events
/// arrive on the engine thread through each request's sink (which must not block).
///
///   Engine engine(std::move(step_model), text_factory, {.kv_pages = 512, .page_size = 16}, &metrics);
///   engine.start();
///   Result<RequestId> id = engine.submit(std::move(request));  // error: not queued, no events
///   engine.cancel(*id);                                          // pages freed before the next step
///   engine.stop();                                               // open requests end UNAVAILABLE
class Engine {
 public:
  Engine(std::unique_ptr<StepModel> model, TextStreamFactory text, EngineOptions options,
         LmMetrics* metrics = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  /// Ends open requests (UNAVAILABLE "LM engine stopped") and joins the thread. Idempotent.
  void stop();

  /// Validates (same errors as Scheduler::validate) and queues; admitted between two steps.
  Result<RequestId> submit(GenerationRequest request);
  /// Cancels a request (no-op once finished).
  void cancel(RequestId id);

  /// The checks submit() runs (for callers that want the error before building a stream).
  Status validate(const GenerationRequest& request) const { return scheduler_.validate(request); }
  std::int64_t max_context() const { return scheduler_.max_context(); }
  std::int64_t vocab_size() const { return model_->vocab_size(); }
  const EngineOptions& options() const { return options_; }
  std::int64_t pages_used() const { return pages_.pages_used(); }
  std::int64_t pages_free() const { return pages_.pages_free(); }
  /// Requests submitted and not finished.
  std::int64_t in_flight() const { return in_flight_.load(); }
  std::uint64_t steps() const { return steps_.load(); }

 private:
  void loop();

  std::unique_ptr<StepModel> model_;
  EngineOptions options_;
  KvPageAllocator pages_;
  Scheduler scheduler_;  // touched only by the loop thread (validate() reads fixed state)

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<RequestId, GenerationRequest>> inbox_;  // guarded by mu_
  std::vector<RequestId> cancels_;                              // guarded by mu_
  bool stopping_ = false;                                       // guarded by mu_
  bool started_ = false;                                        // guarded by mu_
  std::thread thread_;
  std::atomic<RequestId> next_id_{1};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> steps_{0};
};

}  // namespace parley::lm
