// Request/reply with deadlines and cancellation: ask() (callback, exactly once) and ask_sync()
// (blocking, for non-actor callers; never hangs). Works with ActorRef and ActorPool targets.
// Depends on actor.h, reply.h, shared/common (status, check).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "shared/actor/actor.h"
#include "shared/actor/clock.h"
#include "shared/actor/reply.h"
#include "shared/common/check.h"
#include "shared/common/status.h"

namespace parley::actor {

namespace detail {

/// Arms the deadline timer of `state` (deadline, or now + timeout on the system clock). False,
/// with the state already failed, when the system is gone (UNAVAILABLE) or the deadline passed.
bool arm_deadline(const std::shared_ptr<SystemCore>& core, const std::shared_ptr<ReplyStateBase>& state,
                  std::optional<TimePoint> deadline, Duration timeout);

template <class T, class Target, class MakeMsg>
AskHandle ask_impl(const Target& target, MakeMsg& make, std::optional<TimePoint> deadline, Duration timeout,
                   std::function<void(Result<T>)> on_reply) {
  auto state = std::make_shared<ReplyState<T>>(std::move(on_reply));
  AskHandle handle(state);
  if (!arm_deadline(target.detail_core(), state, deadline, timeout)) return handle;
  // A refused tell destroys the message, failing the handle with the refusal's status.
  (void)target.tell(make(ReplyTo<T>(state)));
  return handle;
}

template <class T>
class SyncWaiter {
 public:
  void set(Result<T> result) {
    {
      std::lock_guard lock(mu_);
      result_.emplace(std::move(result));
    }
    cv_.notify_all();
  }
  bool wait_until(std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, until, [this] { return result_.has_value(); });
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return result_.has_value(); });
  }
  Result<T> take() {
    std::lock_guard lock(mu_);
    return std::move(*result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<T>> result_;
};

}  // namespace detail

/// Sends a request built by `make` (given the ReplyTo<T>, returns the message) and calls
/// `on_reply` exactly once with one of:
///   the value or error the handler answered;
///   DEADLINE_EXCEEDED when `timeout` (system clock) passes first; CANCELLED via AskHandle::cancel;
///   INTERNAL when the handler threw (or dropped the handle unanswered);
///   UNAVAILABLE when the actor stopped or the system shut down before answering;
///   RESOURCE_EXHAUSTED when the mailbox refused the request.
///
///   struct Get { ReplyTo<int> reply; };
///   AskHandle h = ask<int>(counter, [](ReplyTo<int> r) { return Get{std::move(r)}; },
///                          std::chrono::milliseconds(200), [](Result<int> r) { ... });
///   h.cancel();  // optional
///
/// Threading: call from any thread, including handlers. `on_reply` runs on whichever thread
/// completes the request: the replying actor's handler, the timer thread, the canceller, or the
/// caller itself (refused or already expired). Keep it short; from an actor, turn it into a
/// message to self: `[self = self()](Result<int> r) { (void)self.tell(Got{std::move(r)}); }`.
template <class T, class Target, class MakeMsg>
AskHandle ask(const Target& target, MakeMsg&& make, Duration timeout, std::function<void(Result<T>)> on_reply) {
  return detail::ask_impl<T>(target, make, std::nullopt, timeout, std::move(on_reply));
}

/// Same, with an absolute deadline on the system's clock (e.g. from an envelope's deadline).
template <class T, class Target, class MakeMsg>
AskHandle ask(const Target& target, MakeMsg&& make, TimePoint deadline, std::function<void(Result<T>)> on_reply) {
  return detail::ask_impl<T>(target, make, deadline, Duration::zero(), std::move(on_reply));
}

/// Blocking ask for code outside actors (main, tests, a transport thread). Returns within about
/// `timeout` of real time even when the system's clock is a ManualClock nobody advances (then:
/// DEADLINE_EXCEEDED). Refused (FAILED_PRECONDITION, logged as a bug) inside an actor handler,
/// where blocking a pool thread could deadlock the system.
template <class T, class Target, class MakeMsg>
Result<T> ask_sync(const Target& target, MakeMsg&& make, Duration timeout) {
  if (detail::current_cell() != nullptr) {
    PARLEY_BUG() << "ask_sync called from an actor handler; use ask() and a message to self";
    return failed_precondition("ask_sync called from an actor handler");
  }
  // Beyond a year means "no deadline": wait for the reply (or the shutdown that fails it).
  const bool bounded = timeout <= std::chrono::hours(24 * 365);
  const auto real_deadline = std::chrono::steady_clock::now() +
                             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 bounded ? timeout : Duration::zero());
  auto waiter = std::make_shared<detail::SyncWaiter<T>>();
  AskHandle handle = detail::ask_impl<T>(target, make, std::nullopt, timeout,
                                         [waiter](Result<T> r) { waiter->set(std::move(r)); });
  if (!bounded) {
    waiter->wait();
  } else if (!waiter->wait_until(real_deadline)) {
    // The system's clock did not get there (ManualClock): give up on real time. If another
    // completion won the race its callback is running right now, so wait() returns soon.
    handle.cancel_with(deadline_exceeded("no reply within the deadline"));
    waiter->wait();
  }
  return waiter->take();
}

}  // namespace parley::actor
