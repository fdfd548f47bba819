// ThreadPool implementation: one job at a time, dynamic chunking, caller participates.
// Why: see thread_pool.h. Depends on the standard library and shared/common/log.h.
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "shared/common/log.h"

namespace parley::kernels {
namespace {
thread_local int t_parallel_depth = 0;  // > 0 inside a parallel_for body: nested calls run inline
}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(static_cast<std::size_t>(n - 1));
  for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_work_.notify_all();
  for (std::thread& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool* pool = [] {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("PARLEY_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) n = v;
    }
    n = std::max(1, n);
    PARLEY_LOG(kInfo) << "CPU kernels: thread pool of " << n << " threads";
    return new ThreadPool(n);  // never destroyed: workers may be needed during static teardown
  }();
  return *pool;
}

void ThreadPool::run_chunks() {
  ++t_parallel_depth;
  const auto& fn = *fn_;
  for (;;) {
    const std::int64_t begin = next_.fetch_add(chunk_);
    if (begin >= n_) break;
    fn(begin, std::min(n_, begin + chunk_));
  }
  --t_parallel_depth;
}

namespace {
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() or kSpin has passed; true when pred() held.
template <typename Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
  }
}
}  // namespace

void ThreadPool::worker_loop() {
  std::uint64_t seen = 0;
  // A job is joinable while it still hands out chunks (a late waker must not touch a finished
  // job's function or steal the next job's chunks).
  auto joinable = [&] { return job_open_.load(std::memory_order_acquire) && generation_.load(std::memory_order_acquire) != seen; };
  for (;;) {
    const bool ready = spin_until([&] { return stop_.load(std::memory_order_relaxed) || joinable(); });
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!ready) cv_work_.wait(lock, [&] { return stop_.load() || joinable(); });
      if (stop_.load()) return;
      if (!joinable()) continue;  // closed between the spin and the lock
      seen = generation_.load();
      active_.fetch_add(1);
    }
    run_chunks();
    if (active_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(1, grain);
  const int threads = size();
  if (threads == 1 || n <= grain || t_parallel_depth > 0) {
    ++t_parallel_depth;
    fn(0, n);
    --t_parallel_depth;
    return;
  }
  // Another thread's job is running: compute this call on the caller instead of queueing behind
  // it (engine workers calling kernels concurrently each make progress).
  std::unique_lock<std::mutex> job(job_mu_, std::try_to_lock);
  if (!job.owns_lock()) {
    ++t_parallel_depth;
    fn(0, n);
    --t_parallel_depth;
    return;
  }
  const std::int64_t target_chunks = static_cast<std::int64_t>(threads) * 4;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    chunk_ = std::max(grain, (n + target_chunks - 1) / target_chunks);
    next_.store(0);
    active_.fetch_add(1);  // the caller
    generation_.fetch_add(1, std::memory_order_release);
    job_open_.store(true, std::memory_order_release);
  }
  cv_work_.notify_all();
  run_chunks();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_open_.store(false);  // every chunk is claimed; workers still running finish theirs
    active_.fetch_sub(1);
  }
  if (!spin_until([&] { return active_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_done_.wait(lock, [&] { return active_.load() == 0; });
  }
  fn_ = nullptr;
}

}  // namespace parley::kernels
