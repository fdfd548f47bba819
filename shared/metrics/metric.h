// The three metric kinds a family holds one of per label set: Counter, Gauge, Histogram.
// Exists so hot paths update a metric with one atomic operation and no lock: callers fetch a child
// once (Family::labels) and keep the reference. Depends on shared/common.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace parley::metrics {

template <typename Metric>
class Family;

namespace detail {

/// An optional value source evaluated at scrape time (callback gauges and counters).
/// Thread-safe: set/clear/call are serialized, so after clear() returns the function is neither
/// running nor called again — which is what lets an owner clear it in its destructor.
class ValueFunction {
 public:
  void set(std::function<double()> fn);
  void clear();
  /// True and *out set when a function is installed; a throwing function is a PARLEY_BUG and
  /// reads as NaN.
  bool call(double* out) const;

 private:
  mutable std::mutex mu_;
  std::function<double()> fn_;     // guarded by mu_
  std::atomic<bool> has_fn_{false};  // lets call() skip the lock for plain metrics
};

}  // namespace detail

/// A monotonic count (requests, bytes, errors). Thread-safe, lock-free.
class Counter {
 public:
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  /// Adds `amount`. A negative or NaN amount would break monotonicity: it is a PARLEY_BUG and
  /// is ignored.
  void inc(double amount = 1.0);
  /// The current value (the function's value when one is installed).
  double value() const;

  /// Makes the counter read `fn()` at scrape time instead of its own value, for counts kept
  /// elsewhere (e.g. parley::bug_count()). `fn` must be monotonic, quick, thread-safe, and must not
  /// call into the registry. It is called until clear_function() returns or the registry dies.
  void set_function(std::function<double()> fn) { fn_.set(std::move(fn)); }
  void clear_function() { fn_.clear(); }

 private:
  template <typename Metric>
  friend class Family;
  Counter() = default;

  std::atomic<double> value_{0.0};
  detail::ValueFunction fn_;
};

/// A value that goes up and down (in-flight requests, queue depth, readiness). Thread-safe.
class Gauge {
 public:
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  /// The current value (the function's value when one is installed).
  double value() const;

  /// Callback gauge: the exported value is `fn()` evaluated at scrape time (e.g. a queue depth
  /// read from an atomic the queue already keeps). Same contract as Counter::set_function:
  /// quick, thread-safe, no registry calls; clear_function() before what `fn` reads dies.
  void set_function(std::function<double()> fn) { fn_.set(std::move(fn)); }
  void clear_function() { fn_.clear(); }

 private:
  template <typename Metric>
  friend class Family;
  Gauge() = default;

  std::atomic<double> value_{0.0};
  detail::ValueFunction fn_;
};

/// Counts observations into buckets with upper bounds `le` (plus +Inf) and keeps their sum.
/// Thread-safe, lock-free: observe() is one bucket search and two atomic adds.
class Histogram {
 public:
  /// A consistent-enough copy for tests and rendering: cumulative[i] counts observations
  /// <= bounds[i]; the last entry (index bounds.size()) is the +Inf bucket and equals count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };

  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  /// Records one observation (seconds for durations). NaN lands in +Inf and poisons the sum, as
  /// in the Go client.
  void observe(double value);
  /// Records a duration in seconds.
  void observe(std::chrono::nanoseconds duration) {
    observe(std::chrono::duration<double>(duration).count());
  }
  /// Records the time since `start` in seconds.
  void observe_since(std::chrono::steady_clock::time_point start) {
    observe(std::chrono::steady_clock::now() - start);
  }
  Snapshot snapshot() const;

 private:
  template <typename Metric>
  friend class Family;
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  std::shared_ptr<const std::vector<double>> bounds_;            // owned with the family
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;          // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
};

/// 1 ms .. 60 s: what Parley measures (request, queue, time to first token/audio), in seconds.
std::vector<double> default_latency_buckets();
/// start, start*factor, ... (`count` bounds). start > 0, factor > 1, count >= 1.
std::vector<double> exponential_buckets(double start, double factor, int count);
/// start, start+width, ... (`count` bounds). width > 0, count >= 1.
std::vector<double> linear_buckets(double start, double width, int count);

}  // namespace parley::metrics
