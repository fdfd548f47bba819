// ThreadPoolExecutor on Boost.Asio (io_context + named threads) and the ManualExecutor queue.
// Asio stays in this file so headers that include executor.h do not pay for it.
// Depends on Boost.Asio (headers), shared/common (log, check).
#include "shared/actor/executor.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <exception>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::actor {
namespace {

void run_guarded(const std::function<void()>& task, const char* where) {
  try {
    task();
  } catch (const std::exception& e) {
    PARLEY_BUG() << where << ": a task threw: " << e.what();
  } catch (...) {
    PARLEY_BUG() << where << ": a task threw a non-standard exception";
  }
}

}  // namespace

struct ThreadPoolExecutor::Impl {
  explicit Impl(std::size_t n) : io(static_cast<int>(n)), guard(boost::asio::make_work_guard(io)) {}
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::vector<std::thread> workers;
  std::size_t count = 0;
  std::atomic<bool> stopped{false};
  std::mutex shutdown_mu;
};

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t threads, std::string name) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  impl_ = std::make_unique<Impl>(threads);
  impl_->count = threads;
  impl_->workers.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    impl_->workers.emplace_back([this, i, name] {
      // Linux limits thread names to 15 characters; truncation only affects `top -H` output.
      std::string thread_name = (name + "/" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      impl_->io.run();
    });
  }
}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(); }

void ThreadPoolExecutor::post(std::function<void()> task) {
  if (impl_->stopped.load(std::memory_order_acquire)) {
    PARLEY_BUG() << "ThreadPoolExecutor::post after shutdown: task dropped";
    return;
  }
  boost::asio::post(impl_->io, [task = std::move(task)] { run_guarded(task, "ThreadPoolExecutor"); });
}

void ThreadPoolExecutor::shutdown() {
  std::lock_guard lock(impl_->shutdown_mu);
  if (impl_->stopped.load()) return;
  const auto self = std::this_thread::get_id();
  for (const auto& w : impl_->workers) {
    PARLEY_CHECK(w.get_id() != self) << "ThreadPoolExecutor::shutdown called from one of its own threads";
  }
  // Dropping the work guard lets io.run() return once no work is left, including tasks that the
  // queued tasks post while we wait; only posts after the join are refused.
  impl_->guard.reset();
  for (auto& w : impl_->workers) w.join();
  impl_->workers.clear();
  impl_->stopped.store(true, std::memory_order_release);
}

std::size_t ThreadPoolExecutor::threads() const { return impl_->count; }

ManualExecutor::~ManualExecutor() = default;

void ManualExecutor::post(std::function<void()> task) {
  std::lock_guard lock(mu_);
  tasks_.push_back(std::move(task));
}

bool ManualExecutor::run_one() {
  std::function<void()> task;
  {
    std::lock_guard lock(mu_);
    if (tasks_.empty()) return false;
    task = std::move(tasks_.front());
    tasks_.pop_front();
  }
  run_guarded(task, "ManualExecutor");
  return true;
}

std::size_t ManualExecutor::run_all(std::size_t limit) {
  std::size_t n = 0;
  while (n < limit && run_one()) ++n;
  return n;
}

std::size_t ManualExecutor::pending() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

}  // namespace parley::actor
