// Counter, Gauge and Histogram updates (atomics) and the bucket helpers.
// Why atomics and no lock: these run on every request of every service. Depends on shared/common.
#include "shared/metrics/metric.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "shared/common/check.h"

namespace parley::metrics {
namespace detail {

void ValueFunction::set(std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  fn_ = std::move(fn);
  has_fn_.store(static_cast<bool>(fn_), std::memory_order_release);
}

void ValueFunction::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  fn_ = nullptr;
  has_fn_.store(false, std::memory_order_release);
}

bool ValueFunction::call(double* out) const {
  if (!has_fn_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!fn_) return false;
  try {
    *out = fn_();
  } catch (const std::exception& e) {
    PARLEY_BUG() << "metric value function threw: " << e.what();
    *out = std::nan("");
  } catch (...) {
    PARLEY_BUG() << "metric value function threw a non-std exception";
    *out = std::nan("");
  }
  return true;
}

}  // namespace detail

void Counter::inc(double amount) {
  if (!(amount >= 0)) {
    // Rate-limited: a caller doing this does it on every request.
    note_bug();
    PARLEY_LOG_EVERY_MS(kError, 10000) << "BUG: counter increment by " << amount << " ignored";
    return;
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

double Counter::value() const {
  double v = 0;
  if (fn_.call(&v)) return v;
  return value_.load(std::memory_order_relaxed);
}

double Gauge::value() const {
  double v = 0;
  if (fn_.call(&v)) return v;
  return value_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  const auto& b = *bounds_;
  std::size_t index = b.size();  // +Inf, also where NaN goes
  if (!std::isnan(value)) {
    index = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  }
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = *bounds_;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  // Count is derived from the buckets so that +Inf == _count always holds in an exposition,
  // even while other threads observe.
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  PARLEY_CHECK(start > 0 && factor > 1 && count >= 1)
      << "exponential_buckets(" << start << ", " << factor << ", " << count << ")";
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  PARLEY_CHECK(width > 0 && count >= 1) << "linear_buckets(" << start << ", " << width << ", " << count << ")";
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

}  // namespace parley::metrics
