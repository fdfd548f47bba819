// DynamicBatcher<Req, Res>: Triton-style dynamic batching for stateless models (nlu, qa, tts chunks).
// Requests queue with a deadline; a batch closes when max_batch_size requests wait or when the
// oldest has waited max_queue_delay; expired requests are answered DEADLINE_EXCEEDED unrun; the
// queue is bounded. Worker threads run the user's batch function. Depends on batcher.h, batch_stats.h.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shared/batching/batch_stats.h"
#include "shared/batching/batcher.h"
#include "shared/common/check.h"

namespace parley::batching {

/// Configuration (data, not code: services read these from their config keys).
struct DynamicBatcherOptions {
  std::string name = "batcher";       ///< for logs and thread names
  std::size_t max_batch_size = 8;     ///< a batch never holds more; reaching it closes the batch at once
  Duration max_queue_delay = std::chrono::milliseconds(2);  ///< longest the oldest request waits for company
  std::size_t queue_capacity = 1024;  ///< queued (not running) requests; beyond: RESOURCE_EXHAUSTED
  int workers = 1;                    ///< threads running batches; 0 = manual mode (run_once(), tests)
  const actor::Clock* clock = nullptr;  ///< null: steady clock. Must outlive the batcher.
};

/// INVALID_ARGUMENT naming the bad field, or OK.
inline Status validate(const DynamicBatcherOptions& o) {
  if (o.max_batch_size < 1 || o.max_batch_size > 4096) return invalid_argument("max_batch_size must be within [1, 4096]");
  if (o.max_queue_delay < Duration::zero()) return invalid_argument("max_queue_delay must not be negative");
  if (o.queue_capacity < 1) return invalid_argument("queue_capacity must be at least 1");
  if (o.workers < 0 || o.workers > 256) return invalid_argument("workers must be within [0, 256]");
  return Status::ok();
}

/// The dynamic batching policy.
///
///   auto batcher = DynamicBatcher<std::string, Embedding>::create(
///       {.name = "embed", .max_batch_size = 32, .max_queue_delay = 2ms, .workers = 2},
///       [&](std::vector<std::string>& texts) { return encoder.embed_batch(texts); });  // one Result per text
///   Result<Embedding> e = (*batcher)->call("hello", deadline);          // blocking helper
///   (*batcher)->enqueue("hi", deadline, [](Result<Embedding> r) { ... });  // callback form
///
/// The batch function receives the requests in arrival order and must return exactly one Result
/// per request, in the same order (a wrong count or a throw fails the whole batch with INTERNAL
/// and counts a bug). It may run on several workers at once: make it thread-safe.
///
/// Manual mode (workers = 0, for deterministic tests with an actor::ManualClock): nothing runs
/// by itself; run_once() does, on the calling thread, whatever is due at the clock's now().
///
/// Threading: every public method is thread-safe. Ownership: see Batcher.
template <typename Req, typename Res>
class DynamicBatcher final : public Batcher<Req, Res> {
 public:
  using BatchFn = std::function<std::vector<Result<Res>>(std::vector<Req>& batch)>;

  /// Validates the options and starts the workers.
  static Result<std::unique_ptr<DynamicBatcher>> create(DynamicBatcherOptions options, BatchFn fn) {
    PARLEY_RETURN_IF_ERROR(validate(options).with_context("batcher '" + options.name + "'"));
    if (!fn) return invalid_argument("batcher '" + options.name + "': no batch function");
    return std::unique_ptr<DynamicBatcher>(new DynamicBatcher(std::move(options), std::move(fn)));
  }

  ~DynamicBatcher() override { stop(); }
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  Status enqueue(Req request, TimePoint deadline, Completion<Res> done) override {
    Status refused;
    {
      std::lock_guard lock(mu_);
      TimePoint now = clock_->now();
      if (stopping_) {
        refused = unavailable("batcher '" + options_.name + "' is stopped");
      } else if (queue_.size() >= options_.queue_capacity) {
        refused = resource_exhausted("batcher '" + options_.name + "' queue is full (" +
                                     std::to_string(options_.queue_capacity) + " requests)");
      } else if (deadline <= now) {
        refused = deadline_exceeded("batcher '" + options_.name + "': deadline already passed");
      } else {
        queue_.push_back(Item{std::move(request), deadline, now, std::move(done)});
      }
    }
    if (!refused.is_ok()) {
      stats_.on_rejected();
      return refused;
    }
    stats_.on_enqueued();
    cv_.notify_one();
    return Status::ok();
  }

  /// Enqueues and blocks until the result (or the refusal). Not in manual mode, and not from a
  /// batch function or completion (it would wait for itself).
  Result<Res> call(Req request, TimePoint deadline) {
    auto promise = std::make_shared<std::promise<Result<Res>>>();
    auto future = promise->get_future();
    PARLEY_RETURN_IF_ERROR(
        enqueue(std::move(request), deadline, [promise](Result<Res> r) { promise->set_value(std::move(r)); }));
    return future.get();
  }

  std::size_t in_flight() const override {
    std::lock_guard lock(mu_);
    return queue_.size() + running_;
  }
  /// Requests waiting (not yet in a running batch).
  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    // Manual mode (or a second stop() racing the first): drain on this thread.
    while (run_once() > 0) {
    }
  }

  /// Manual mode: answers expired requests and runs at most one due batch on this thread.
  /// Returns the number of requests handled (expired + run). Also usable after stop().
  std::size_t run_once() {
    Work work;
    {
      std::lock_guard lock(mu_);
      work = take(clock_->now());
      running_ += work.batch.size();
    }
    std::size_t handled = work.expired.size() + work.batch.size();
    execute(work);
    if (!work.batch.empty()) {
      std::lock_guard lock(mu_);
      running_ -= work.batch.size();
    }
    return handled;
  }

  /// When something next becomes due (a batch closing by delay or a deadline passing), or
  /// nullopt when the queue is empty. A full queue is due now.
  std::optional<TimePoint> next_due() const {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return std::nullopt;
    if (queue_.size() >= options_.max_batch_size || stopping_) return clock_->now();
    return wake_time();
  }

  BatchStats& stats() { return stats_; }
  const DynamicBatcherOptions& options() const { return options_; }

 private:
  struct Item {
    Req request;
    TimePoint deadline;
    TimePoint enqueued;
    Completion<Res> done;
  };
  struct Work {
    std::vector<Item> expired;
    std::vector<Item> batch;
    TimePoint now;
  };

  DynamicBatcher(DynamicBatcherOptions options, BatchFn fn)
      : options_(std::move(options)),
        fn_(std::move(fn)),
        clock_(options_.clock != nullptr ? options_.clock : &actor::SteadyClock::instance()),
        stats_(options_.max_batch_size) {
    for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  }

  // Requires mu_. Moves out the expired requests, and a batch when one is due.
  Work take(TimePoint now) {
    Work w;
    w.now = now;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->deadline <= now) {
        w.expired.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (queue_.empty()) return w;
    bool due = queue_.size() >= options_.max_batch_size || stopping_ ||
               now >= queue_.front().enqueued + options_.max_queue_delay;
    if (!due) return w;
    std::size_t n = std::min(queue_.size(), options_.max_batch_size);
    w.batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      w.batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return w;
  }

  // Requires mu_ and a non-empty queue: the batch-closing time, or an earlier deadline.
  TimePoint wake_time() const {
    TimePoint t = queue_.front().enqueued + options_.max_queue_delay;
    for (const auto& item : queue_) t = std::min(t, item.deadline);
    return t;
  }

  static void complete(Item& item, Result<Res> result) {
    try {
      if (item.done) item.done(std::move(result));
    } catch (const std::exception& e) {
      PARLEY_BUG() << "batch completion threw: " << e.what();
    } catch (...) {
      PARLEY_BUG() << "batch completion threw";
    }
  }

  // Without mu_: answers expired requests, runs the batch, delivers results.
  void execute(Work& work) {
    stats_.on_expired(work.expired.size());
    for (auto& item : work.expired) {
      complete(item, deadline_exceeded("deadline passed after " +
                                       std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                                          work.now - item.enqueued)
                                                          .count()) +
                                       " us in the '" + options_.name + "' batch queue"));
    }
    if (work.batch.empty()) return;
    std::vector<std::chrono::nanoseconds> delays;
    std::vector<Req> requests;
    delays.reserve(work.batch.size());
    requests.reserve(work.batch.size());
    for (auto& item : work.batch) {
      delays.push_back(work.now - item.enqueued);
      requests.push_back(std::move(item.request));
    }
    stats_.on_batch(delays);
    std::vector<Result<Res>> results;
    Status failure;
    try {
      results = fn_(requests);
      if (results.size() != work.batch.size()) {
        PARLEY_BUG() << "batcher '" << options_.name << "': batch function returned " << results.size()
                     << " results for " << work.batch.size() << " requests";
        failure = internal_error("batch function returned the wrong number of results");
      }
    } catch (const std::exception& e) {
      PARLEY_BUG() << "batcher '" << options_.name << "': batch function threw: " << e.what();
      failure = internal_error(std::string("batch function failed: ") + e.what());
    } catch (...) {
      PARLEY_BUG() << "batcher '" << options_.name << "': batch function threw";
      failure = internal_error("batch function failed");
    }
    std::size_t failed = 0;
    for (std::size_t i = 0; i < work.batch.size(); ++i) {
      if (!failure.is_ok()) {
        ++failed;
        complete(work.batch[i], failure);
      } else {
        if (!results[i].ok()) ++failed;
        complete(work.batch[i], std::move(results[i]));
      }
    }
    stats_.on_failed(failed);
  }

  void worker_loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      Work work = take(clock_->now());
      if (!work.batch.empty() || !work.expired.empty()) {
        running_ += work.batch.size();
        lock.unlock();
        execute(work);
        lock.lock();
        running_ -= work.batch.size();
        continue;
      }
      if (stopping_ && queue_.empty()) return;
      if (queue_.empty()) {
        cv_.wait(lock);
      } else {
        auto wait = wake_time() - clock_->now();
        if (wait > Duration::zero()) cv_.wait_for(lock, wait);
      }
    }
  }

  const DynamicBatcherOptions options_;
  const BatchFn fn_;
  const actor::Clock* clock_;
  BatchStats stats_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;            // guarded by mu_
  std::size_t running_ = 0;           // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_ (moved out by stop())
};

}  // namespace parley::batching
