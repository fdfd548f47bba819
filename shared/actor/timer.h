// Timer services: call a function at a steady time, cancellably. A real one (one timer thread)
// and a ManualClock whose advance() fires due timers in order, for deterministic tests.
// Exists for ask deadlines, Actor::schedule_self and anything else that waits. Depends on clock.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "shared/actor/clock.h"

namespace parley::actor {

/// Identifies one scheduled timer; 0 (kNoTimer) is never a valid id.
using TimerId = std::uint64_t;
inline constexpr TimerId kNoTimer = 0;

/// A clock that can also call you back. Callbacks must be short and must not block: they run on
/// the timer thread (ThreadTimerService) or inside ManualClock::advance() (tests). The actor
/// runtime's own callbacks only tell() a message or complete a reply handle.
///
///   TimerId id = timers.schedule(std::chrono::milliseconds(50), [] { on_timeout(); });
///   if (timers.cancel(id)) { /* it had not fired and never will */ }
///
/// Threading: schedule()/cancel()/now() from any thread, including from inside a callback.
/// Ownership: the service owns a callback until it has run or was cancelled; a cancelled or
/// dropped callback is destroyed outside the service's lock.
class TimerService : public Clock {
 public:
  /// Calls `callback` once, at or after `when` (at once, on the timer thread, if `when` passed).
  TimerId schedule(TimePoint when, std::function<void()> callback) {
    return do_schedule(when, std::move(callback));
  }
  /// Calls `callback` once, `delay` from now().
  TimerId schedule(Duration delay, std::function<void()> callback) {
    return do_schedule(now() + delay, std::move(callback));
  }
  /// True when the timer had not fired yet: it never will. False when it fired, is firing right
  /// now (cancel does not wait for it) or was never scheduled.
  virtual bool cancel(TimerId id) = 0;

 protected:
  virtual TimerId do_schedule(TimePoint when, std::function<void()> callback) = 0;
};

/// Production timers: one thread sleeping until the earliest deadline. Callbacks that throw are
/// caught and logged as bugs.
class ThreadTimerService final : public TimerService {
 public:
  explicit ThreadTimerService(std::string thread_name = "timers");
  ~ThreadTimerService() override;  // shutdown()
  ThreadTimerService(const ThreadTimerService&) = delete;
  ThreadTimerService& operator=(const ThreadTimerService&) = delete;

  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  bool cancel(TimerId id) override;
  /// Stops the thread; timers not yet fired are dropped (destroyed, not run). Idempotent. Not
  /// from a timer callback. Later schedule() calls return kNoTimer.
  void shutdown();
  /// Timers scheduled and not yet fired or cancelled.
  std::size_t pending() const;

 protected:
  TimerId do_schedule(TimePoint when, std::function<void()> callback) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Test time: now() moves only when advance()/advance_to() is called; due timers fire inside
/// that call, in (due time, scheduling order), each seeing now() equal to its due time. Timers
/// that a callback schedules within the advanced window fire in the same call.
///
///   ManualClock clock;
///   clock.schedule(std::chrono::seconds(1), [&] { fired = true; });
///   clock.advance(std::chrono::milliseconds(999));  // nothing
///   clock.advance(std::chrono::milliseconds(1));    // fires
///
/// Threading: schedule()/cancel()/now() from any thread; advance() from one thread at a time.
class ManualClock final : public TimerService {
 public:
  /// Starts at an arbitrary fixed point (1 h after the steady epoch), not at the real time.
  explicit ManualClock(TimePoint start = TimePoint(std::chrono::hours(1)));
  ~ManualClock() override;
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  TimePoint now() const override;
  bool cancel(TimerId id) override;
  void advance(Duration delta) { advance_to(now() + delta); }
  void advance_to(TimePoint target);
  /// Timers scheduled and not yet fired or cancelled.
  std::size_t pending() const;
  /// Due time of the earliest pending timer.
  std::optional<TimePoint> next_due() const;

 protected:
  TimerId do_schedule(TimePoint when, std::function<void()> callback) override;

 private:
  mutable std::mutex mu_;
  TimePoint now_;  // guarded by mu_
  TimerId next_id_ = 0;
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> queue_;  // guarded by mu_
  std::unordered_map<TimerId, TimePoint> due_;                           // guarded by mu_
};

}  // namespace parley::actor
