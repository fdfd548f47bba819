// Scheduler: the continuous (iteration-level) batching policy of the LM engine. Each step()
// admits waiting requests, runs one forward over every running sequence (decodes plus budgeted
// prefill chunks), samples, applies stops and streams deltas.
// Why: batching at token granularity keeps the model busy while requests come and go; paged KV
// memory is handed out as sequences grow and returned at once when they end. Depends on
// step_model.h, kv_pages.h, generation.h, stop_matcher.h, lm_metrics.h.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <unordered_set>
#include <vector>

#include "services/lm/generation.h"
#include "services/lm/kv_pages.h"
#include "services/lm/lm_metrics.h"
#include "services/lm/step_model.h"
#include "services/lm/stop_matcher.h"

namespace parley::lm {

struct SchedulerOptions {
  std::int32_t max_batch = 8;              ///< sequences running at once
  std::int64_t prefill_chunk_tokens = 256; ///< prompt tokens prefilled per step (decodes come first, always)
  /// Positions per sequence (prompt + generated); 0 = the model's context length, or no limit.
  std::int64_t max_context = 0;
  std::vector<std::int32_t> eog_tokens;    ///< end-of-generation ids (EOS, <|im_end|>, ...)
};

/// What one step did (tests and the engine loop look at it).
struct StepReport {
  int sequences = 0;       ///< in the forward batch
  int decode_sequences = 0;
  std::int64_t prefill_tokens = 0;
  int admitted = 0;
  int finished = 0;
  int preempted = 0;
  bool ran_forward = false;
};

/// Single-threaded: every method runs on the thread that owns it (the Engine's loop, or a test
/// stepping it by hand). Events go to each request's sink during step()/cancel()/fail_all().
///
///   Scheduler s(model, pages, text_factory, {.max_batch = 8}, clock, &metrics);
///   auto id = s.submit(std::move(request));      // validated; queued
///   while (!s.idle()) s.step();                   // sinks get deltas and one finished event
class Scheduler {
 public:
  using ClockFn = std::function<Clock::time_point()>;

  Scheduler(StepModel& model, KvPageAllocator& pages, TextStreamFactory text, SchedulerOptions options,
            ClockFn clock = [] { return Clock::now(); }, LmMetrics* metrics = nullptr);
  ~Scheduler();

  /// Checks a request against fixed limits (no state): INVALID_ARGUMENT for an empty prompt, a
  /// bad token id, max_tokens <= 0 or bad sampling values; RESOURCE_EXHAUSTED when prompt +
  /// max_tokens exceeds the context or could never fit in the KV pool. Thread-safe.
  Status validate(const GenerationRequest& request) const;

  /// Queues a validated request under `id` (ids must be unique). Returns validate()'s error
  /// without queueing (the sink is not called).
  Status submit(RequestId id, GenerationRequest request);
  /// Ends a waiting or running request now: pages freed, sink gets finished/kCancelled.
  /// False when the id is unknown (finished already).
  bool cancel(RequestId id);
  /// Ends every request with `status` (engine shutdown).
  void fail_all(const Status& status, FinishReason reason);

  /// One iteration; see the file comment.
  StepReport step();

  bool idle() const { return waiting_.empty() && running_.empty(); }
  std::size_t waiting() const { return waiting_.size(); }
  std::size_t running() const { return running_.size(); }
  std::int64_t max_context() const { return max_context_; }
  const SchedulerOptions& options() const { return options_; }
  const KvPageAllocator& pages() const { return pages_; }

 private:
  struct Sequence;
  using SeqPtr = std::unique_ptr<Sequence>;

  void expire_deadlines(Clock::time_point now);
  void admit(StepReport& report);
  bool make_decode_room(StepReport& report);
  void preempt(Sequence& seq);
  void handle_token(Sequence& seq, std::int32_t token, Clock::time_point now, StepReport& report);
  void finish(Sequence& seq, FinishReason reason, Status status, std::string tail_text = {});
  void emit(Sequence& seq, GenerationEvent&& event);
  void remove_finished();
  void update_gauges();

  StepModel& model_;
  KvPageAllocator& pages_;
  TextStreamFactory text_;
  SchedulerOptions options_;
  ClockFn clock_;
  LmMetrics* metrics_;
  std::int64_t max_context_ = 0;
  std::unordered_set<std::int32_t> eog_;

  std::deque<SeqPtr> waiting_;    // FIFO; preempted sequences go back to the front
  std::vector<SeqPtr> running_;   // admission order (oldest first)
  std::uint64_t admit_counter_ = 0;

  // Scratch reused across steps.
  std::vector<float> logits_;
  std::vector<Sequence*> batch_seqs_;
};

}  // namespace parley::lm
