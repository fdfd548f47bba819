// ThreadTimerService (one thread, an ordered map of deadlines, a condition variable) and
// ManualClock. Callbacks always run and are destroyed outside the lock, so a callback may
// schedule or cancel timers. Depends on timer.h, shared/common (check, log).
#include "shared/actor/timer.h"

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <thread>

#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::actor {
namespace {

void fire_guarded(const std::function<void()>& fn, const char* where) {
  try {
    fn();
  } catch (const std::exception& e) {
    PARLEY_BUG() << where << ": a timer callback threw: " << e.what();
  } catch (...) {
    PARLEY_BUG() << where << ": a timer callback threw a non-standard exception";
  }
}

}  // namespace

struct ThreadTimerService::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  TimerId next_id = 0;    // guarded by mu
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> queue;  // guarded by mu
  std::unordered_map<TimerId, TimePoint> due;                           // guarded by mu
  std::thread thread;
  std::mutex shutdown_mu;

  void loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (queue.empty()) {
        cv.wait(lock);
        continue;
      }
      auto it = queue.begin();
      const TimePoint when = it->first.first;
      if (when > std::chrono::steady_clock::now()) {
        cv.wait_until(lock, when);
        continue;
      }
      std::function<void()> fn = std::move(it->second);
      due.erase(it->first.second);
      queue.erase(it);
      lock.unlock();
      fire_guarded(fn, "ThreadTimerService");
      fn = nullptr;  // destroy captures outside the lock
      lock.lock();
    }
  }
};

ThreadTimerService::ThreadTimerService(std::string thread_name) : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this, name = std::move(thread_name)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    impl_->loop();
  });
}

ThreadTimerService::~ThreadTimerService() { shutdown(); }

void ThreadTimerService::shutdown() {
  std::lock_guard guard(impl_->shutdown_mu);
  if (!impl_->thread.joinable()) return;
  PARLEY_CHECK(impl_->thread.get_id() != std::this_thread::get_id())
      << "ThreadTimerService::shutdown called from a timer callback";
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
  decltype(impl_->queue) dropped;
  {
    std::lock_guard lock(impl_->mu);
    dropped.swap(impl_->queue);
    impl_->due.clear();
  }
  // `dropped` is destroyed here, outside the lock.
}

TimerId ThreadTimerService::do_schedule(TimePoint when, std::function<void()> callback) {
  bool earliest = false;
  TimerId id = kNoTimer;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return kNoTimer;  // `callback` is destroyed by the caller's frame, unlocked
    id = ++impl_->next_id;
    auto it = impl_->queue.emplace(std::make_pair(when, id), std::move(callback)).first;
    impl_->due.emplace(id, when);
    earliest = it == impl_->queue.begin();
  }
  if (earliest) impl_->cv.notify_one();
  return id;
}

bool ThreadTimerService::cancel(TimerId id) {
  std::function<void()> fn;
  {
    std::lock_guard lock(impl_->mu);
    auto d = impl_->due.find(id);
    if (d == impl_->due.end()) return false;
    auto it = impl_->queue.find({d->second, id});
    fn = std::move(it->second);
    impl_->queue.erase(it);
    impl_->due.erase(d);
  }
  return true;  // `fn` is destroyed here, outside the lock
}

std::size_t ThreadTimerService::pending() const {
  std::lock_guard lock(impl_->mu);
  return impl_->queue.size();
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

ManualClock::~ManualClock() {
  decltype(queue_) dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(queue_);
  }
}

TimePoint ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

TimerId ManualClock::do_schedule(TimePoint when, std::function<void()> callback) {
  std::lock_guard lock(mu_);
  const TimerId id = ++next_id_;
  queue_.emplace(std::make_pair(when, id), std::move(callback));
  due_.emplace(id, when);
  return id;
}

bool ManualClock::cancel(TimerId id) {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    auto d = due_.find(id);
    if (d == due_.end()) return false;
    auto it = queue_.find({d->second, id});
    fn = std::move(it->second);
    queue_.erase(it);
    due_.erase(d);
  }
  return true;
}

void ManualClock::advance_to(TimePoint target) {
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      auto it = queue_.begin();
      if (it == queue_.end() || it->first.first > target) {
        if (target > now_) now_ = target;
        return;
      }
      if (it->first.first > now_) now_ = it->first.first;
      fn = std::move(it->second);
      due_.erase(it->first.second);
      queue_.erase(it);
    }
    fire_guarded(fn, "ManualClock");
  }
}

std::size_t ManualClock::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::optional<TimePoint> ManualClock::next_due() const {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

}  // namespace parley::actor
