// BatchStats: batcher statistics and their Prometheus mirror.
#include "shared/batching/batch_stats.h"

#include <algorithm>
#include <string>

namespace parley::batching {

std::vector<double> queue_delay_buckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0};
}

double BatchStatsSnapshot::delay_quantile_bound(double q) const {
  std::uint64_t total = 0;
  for (auto c : delay_counts) total += c;
  if (total == 0) return 0.0;
  auto rank = static_cast<std::uint64_t>(q * double(total));
  if (rank >= total) rank = total - 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < delay_counts.size(); ++i) {
    seen += delay_counts[i];
    if (seen > rank) return i < delay_bounds.size() ? delay_bounds[i] : delay_max_seconds;
  }
  return delay_max_seconds;
}

BatchStats::BatchStats(std::size_t max_batch_size) {
  s_.batch_sizes.assign(max_batch_size + 1, 0);
  s_.delay_bounds = queue_delay_buckets();
  s_.delay_counts.assign(s_.delay_bounds.size() + 1, 0);
}

void BatchStats::export_to(metrics::Registry& registry, std::string_view service, std::string_view batcher) {
  std::vector<double> size_bounds;
  for (double b = 1; b <= 1024; b *= 2) size_bounds.push_back(b);
  auto& sizes = registry.histogram("parley_batch_size", "Requests per executed batch.", {"service", "batcher"},
                                   size_bounds);
  auto& delay = registry.histogram("parley_batch_queue_delay_seconds",
                                   "Time a request waited in a batcher queue before its batch started.",
                                   {"service", "batcher"}, queue_delay_buckets());
  auto& outcomes = registry.counter("parley_batch_requests_total",
                                    "Requests leaving a batcher, by outcome (executed, expired, rejected, failed).",
                                    {"service", "batcher", "outcome"});
  std::lock_guard lock(mu_);
  exported_ = Exported{
      .batch_size = &sizes.labels({service, batcher}),
      .queue_delay = &delay.labels({service, batcher}),
      .executed = &outcomes.labels({service, batcher, "executed"}),
      .expired = &outcomes.labels({service, batcher, "expired"}),
      .rejected = &outcomes.labels({service, batcher, "rejected"}),
      .failed = &outcomes.labels({service, batcher, "failed"}),
  };
  has_exported_ = true;
}

void BatchStats::on_enqueued() {
  std::lock_guard lock(mu_);
  ++s_.enqueued;
}

void BatchStats::on_rejected() {
  std::lock_guard lock(mu_);
  ++s_.rejected;
  if (has_exported_) exported_.rejected->inc();
}

void BatchStats::on_expired(std::size_t count) {
  if (count == 0) return;
  std::lock_guard lock(mu_);
  s_.expired += count;
  if (has_exported_) exported_.expired->inc(double(count));
}

void BatchStats::on_batch(const std::vector<std::chrono::nanoseconds>& delays) {
  std::lock_guard lock(mu_);
  std::size_t n = delays.size();
  ++s_.batches;
  s_.executed += n;
  if (n >= s_.batch_sizes.size()) s_.batch_sizes.resize(n + 1, 0);
  ++s_.batch_sizes[n];
  for (auto d : delays) {
    double sec = std::chrono::duration<double>(d).count();
    auto it = std::lower_bound(s_.delay_bounds.begin(), s_.delay_bounds.end(), sec);
    ++s_.delay_counts[static_cast<std::size_t>(it - s_.delay_bounds.begin())];
    s_.delay_sum_seconds += sec;
    s_.delay_max_seconds = std::max(s_.delay_max_seconds, sec);
    if (has_exported_) exported_.queue_delay->observe(sec);
  }
  if (has_exported_) {
    exported_.batch_size->observe(double(n));
    exported_.executed->inc(double(n));
  }
}

void BatchStats::on_failed(std::size_t count) {
  if (count == 0) return;
  std::lock_guard lock(mu_);
  s_.failed += count;
  if (has_exported_) exported_.failed->inc(double(count));
}

BatchStatsSnapshot BatchStats::snapshot() const {
  std::lock_guard lock(mu_);
  return s_;
}

}  // namespace parley::batching
