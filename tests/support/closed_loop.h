// A closed-loop load generator for in-process benchmarks: N client threads call `request(client,
// i)` back to back for a fixed time; throughput, p50/p99/p99.9/max latency and errors come back.
// Why: the batching benchmarks (NLU, QA) measure the same way, so their figures compare. Failed
// calls are counted in `errors` only: they are not throughput and their (often instant) latency
// does not enter the percentiles; benchmarks exit non-zero when errors > 0.
// Header-only; depends on the standard library.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace parley::testing {

struct LoadFigures {
  double per_second = 0;   ///< successful calls per second
  double p50_ms = 0;       ///< over successful calls
  double p99_ms = 0;
  double p999_ms = 0;      ///< the tail where stalls show (issue 18)
  double max_ms = 0;
  std::size_t calls = 0;   ///< successful calls
  std::size_t errors = 0;  ///< failed calls (not in the figures above)
};

/// `request(client, i)` makes one call (the i-th of that client) and returns whether it succeeded.
inline LoadFigures run_closed_loop(int clients, double seconds,
                                   const std::function<bool(int client, std::size_t i)>& request) {
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> errors{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto t0 = Clock::now();
        if (!request(c, i)) {
          ++errors;
          continue;
        }
        lat[static_cast<std::size_t>(c)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  LoadFigures f;
  f.calls = all.size();
  f.per_second = static_cast<double>(all.size()) / elapsed;
  f.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  f.p99_ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  f.p999_ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 999 / 1000)];
  f.max_ms = all.empty() ? 0 : all.back();
  f.errors = errors;
  return f;
}

}  // namespace parley::testing
