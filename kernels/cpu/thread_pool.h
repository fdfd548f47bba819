// ThreadPool: a fixed set of worker threads for splitting one kernel call into parallel chunks.
// Why: CPU kernels (GEMM, attention) need all cores for one call, with no per-call thread start;
// one pool sized to the machine is shared by every op. Depends on the standard library only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parley::kernels {

/// parallel_for() runs fn(begin, end) over [0, n) in chunks on the workers AND the calling
/// thread, and returns when all chunks are done. One job at a time: a call made while another
/// thread's job runs is computed inline on its own thread (no queueing), and a nested call from
/// inside fn runs inline on the calling worker. Idle
/// workers spin for ~100 us after a job before sleeping, so back-to-back calls start fast.
///
///   ThreadPool::global().parallel_for(rows, 16, [&](int64_t b, int64_t e) { ... });
class ThreadPool {
 public:
  /// `threads` in total including the caller (1 = everything inline).
  explicit ThreadPool(int threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  /// The process pool: std::thread::hardware_concurrency() threads, or PARLEY_NUM_THREADS.
  static ThreadPool& global();

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// Splits [0, n) into chunks of at least `grain` items (dynamic scheduling, ~4 chunks per
  /// thread) and runs fn on them in parallel.
  void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

 private:
  void worker_loop();
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex job_mu_;  // held by the caller whose job the workers run
  // Job state. Workers and the caller spin briefly on the atomics before sleeping on the
  // condition variables: a decode step issues hundreds of small parallel_for calls, and a futex
  // wake-up per call (~5-10 us) would cost more than the work.
  std::mutex mu_;
  std::condition_variable cv_work_;
  std::condition_variable cv_done_;
  const std::function<void(std::int64_t, std::int64_t)>* fn_ = nullptr;
  std::int64_t n_ = 0;
  std::int64_t chunk_ = 1;
  std::atomic<std::int64_t> next_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> job_open_{false};
  std::atomic<int> active_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace parley::kernels
