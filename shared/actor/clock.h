// Clock: the injectable source of "now" for the actor runtime (steady time only).
// Exists so timers, deadlines and restart windows can be driven by a ManualClock in tests and by
// std::chrono::steady_clock in production. Depends on nothing.
#pragma once

#include <chrono>

namespace parley::actor {

/// Steady (monotonic) time: deadlines and delays never use wall-clock time.
using TimePoint = std::chrono::steady_clock::time_point;
/// Delays and timeouts; any std::chrono duration converts to it implicitly.
using Duration = std::chrono::nanoseconds;

/// A source of steady time. Threading: now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

/// The real clock: std::chrono::steady_clock. Stateless; `SteadyClock::instance()` is shared.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  static const SteadyClock& instance() {
    static const SteadyClock clock;
    return clock;
  }
};

}  // namespace parley::actor
