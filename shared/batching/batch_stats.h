// BatchStats: counters and histograms a batcher keeps (batch sizes, queue delay, outcomes), with an
// optional export to Prometheus families. Exists so every batching policy reports the same figures
// under the same metric names. Depends on shared/metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "shared/metrics/registry.h"

namespace parley::batching {

/// A point-in-time copy of a batcher's statistics.
struct BatchStatsSnapshot {
  std::uint64_t enqueued = 0;   ///< accepted by enqueue()
  std::uint64_t rejected = 0;   ///< refused by enqueue() (queue full, stopped, already expired)
  std::uint64_t expired = 0;    ///< answered DEADLINE_EXCEEDED without running
  std::uint64_t executed = 0;   ///< requests that went through the batch function
  std::uint64_t failed = 0;     ///< executed requests whose result was not OK
  std::uint64_t batches = 0;    ///< batch function calls
  /// batch_sizes[n] = number of batches of exactly n requests (index 0 unused).
  std::vector<std::uint64_t> batch_sizes;
  /// Queue delay (enqueue → batch start) of executed requests: bucket upper bounds in seconds,
  /// per-bucket (non-cumulative) counts with one extra +Inf bucket, sum and max.
  std::vector<double> delay_bounds;
  std::vector<std::uint64_t> delay_counts;
  double delay_sum_seconds = 0;
  double delay_max_seconds = 0;

  double mean_batch_size() const { return batches == 0 ? 0.0 : double(executed) / double(batches); }
  /// The upper bound of the bucket holding the q-quantile of queue delay (q in [0, 1]).
  double delay_quantile_bound(double q) const;
};

/// Thread-safe statistics for one batcher. Optionally mirrored into a metrics registry:
///
///   BatchStats stats(32);
///   stats.export_to(host->metrics(), "qa", "question_embed");
///   // parley_batch_size{service,batcher}              histogram (requests per batch)
///   // parley_batch_queue_delay_seconds{service,batcher} histogram
///   // parley_batch_requests_total{service,batcher,outcome}  outcome = executed|expired|rejected|failed
///
/// The registry must outlive this object.
class BatchStats {
 public:
  explicit BatchStats(std::size_t max_batch_size);

  /// Registers the families above (idempotent per name) and starts mirroring into them.
  void export_to(metrics::Registry& registry, std::string_view service, std::string_view batcher);

  void on_enqueued();
  void on_rejected();
  void on_expired(std::size_t count);
  /// One batch started; `delays` are its requests' queue delays.
  void on_batch(const std::vector<std::chrono::nanoseconds>& delays);
  void on_failed(std::size_t count);

  BatchStatsSnapshot snapshot() const;

 private:
  struct Exported {
    metrics::Histogram* batch_size;
    metrics::Histogram* queue_delay;
    metrics::Counter* executed;
    metrics::Counter* expired;
    metrics::Counter* rejected;
    metrics::Counter* failed;
  };

  mutable std::mutex mu_;
  BatchStatsSnapshot s_;          // guarded by mu_
  Exported exported_{};           // guarded by mu_ (set once by export_to)
  bool has_exported_ = false;     // guarded by mu_
};

/// The queue-delay bucket bounds (seconds) BatchStats uses: 50 µs … 1 s.
std::vector<double> queue_delay_buckets();

}  // namespace parley::batching
