// One-shot reply handles for request/reply between actors: ReplyTo<T> travels inside a message,
// AskHandle stays with the asker. The asker's callback runs exactly once, whatever happens.
// Depends on clock.h, timer.h, shared/common/status.h. See ask.h for ask()/ask_sync().
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

#include "shared/actor/clock.h"
#include "shared/actor/timer.h"
#include "shared/common/status.h"

namespace parley::actor {

namespace detail {

class SystemCore;

/// The shared, type-independent half of one request: a done flag, the deadline timer and how to
/// fail it. The first completion wins (reply, deadline, cancel, failure); later ones are no-ops.
class ReplyStateBase {
 public:
  ReplyStateBase() = default;
  ReplyStateBase(const ReplyStateBase&) = delete;
  ReplyStateBase& operator=(const ReplyStateBase&) = delete;
  virtual ~ReplyStateBase() = default;

  bool done() const { return done_.load(std::memory_order_acquire); }
  /// Completes with `status` (not OK) unless already completed. True when this call completed it.
  bool fail(Status status);
  /// Completes with the status of the innermost DropScope on this thread, or (no scope: a handler
  /// dropped the handle without answering) INTERNAL, logged as a bug.
  void abandon();

  TimePoint deadline() const { return deadline_; }
  // Set once by ask() before the request is sent (hence before any completion can race them).
  void set_deadline(TimePoint deadline) { deadline_ = deadline; }
  void set_core(std::weak_ptr<SystemCore> core) { core_ = std::move(core); }
  void set_timer(TimerId id) { timer_.store(id, std::memory_order_release); }

 protected:
  /// Marks the request done and cancels its deadline timer; false when it already was.
  bool claim();
  virtual void deliver_error(Status status) = 0;

 private:
  std::atomic<bool> done_{false};
  std::atomic<TimerId> timer_{kNoTimer};
  std::weak_ptr<SystemCore> core_;
  TimePoint deadline_ = TimePoint::max();
};

/// Calls a user callback and turns an exception escaping it into a logged bug: a callback runs
/// on the replier's thread, and its failure must not be blamed on (and restart) the replier.
void invoke_callback_guarded(const std::function<void()>& call);

template <class T>
class ReplyState final : public ReplyStateBase {
 public:
  explicit ReplyState(std::function<void(Result<T>)> callback) : callback_(std::move(callback)) {}

  bool complete(Result<T> result) {
    if (!claim()) return false;
    auto cb = std::move(callback_);
    callback_ = nullptr;
    if (cb) invoke_callback_guarded([&] { cb(std::move(result)); });
    return true;
  }

 private:
  void deliver_error(Status status) override {
    auto cb = std::move(callback_);
    callback_ = nullptr;
    if (cb) invoke_callback_guarded([&] { cb(Result<T>(std::move(status))); });
  }

  std::function<void(Result<T>)> callback_;  // touched only by the completing thread
};

/// While alive, reply handles destroyed on this thread without an answer fail with `status`
/// (INTERNAL for a failed handler, UNAVAILABLE at shutdown, RESOURCE_EXHAUSTED for a refused tell).
class DropScope {
 public:
  explicit DropScope(Status status);
  ~DropScope();
  DropScope(const DropScope&) = delete;
  DropScope& operator=(const DropScope&) = delete;
  const Status& status() const { return status_; }

 private:
  Status status_;
  const DropScope* previous_;
};

}  // namespace detail

/// The reply half of a request, carried inside the request message (move-only, one-shot).
///
///   struct GetCount { ReplyTo<int> reply; };
///   ...in the handler:  m.reply.reply(count_);   // or m.reply.fail(not_found("..."))
///
/// Whoever holds it must answer once. If it is destroyed unanswered the asker still hears, exactly
/// once: INTERNAL when the handler threw (or dropped it: a bug, logged), UNAVAILABLE when the actor
/// stopped or the system shut down first, RESOURCE_EXHAUSTED when the mailbox refused the message.
/// A handler may move it elsewhere (actor state, another message) to answer later.
/// Threading: one owner at a time; answering from any thread is safe and races with the deadline,
/// cancellation and shutdown are resolved by "first completion wins".
template <class T>
class ReplyTo {
 public:
  ReplyTo() = default;
  /// Runtime use (ask()): wraps the shared request state.
  explicit ReplyTo(std::shared_ptr<detail::ReplyState<T>> state) : state_(std::move(state)) {}
  ReplyTo(ReplyTo&&) noexcept = default;
  ReplyTo& operator=(ReplyTo&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ReplyTo(const ReplyTo&) = delete;
  ReplyTo& operator=(const ReplyTo&) = delete;
  ~ReplyTo() { abandon(); }

  /// Delivers the value; false when the asker no longer waits (deadline, cancel) or the handle is
  /// empty. The handle is spent either way.
  bool reply(T value) { return complete(Result<T>(std::move(value))); }
  /// Delivers an error (a non-OK status).
  bool fail(Status status) { return complete(Result<T>(std::move(status))); }
  bool complete(Result<T> result) {
    if (!state_) return false;
    auto state = std::move(state_);
    return state->complete(std::move(result));
  }

  /// Holds an unspent handle.
  bool valid() const { return state_ != nullptr; }
  explicit operator bool() const { return valid(); }
  /// The asker no longer waits (cancelled, deadline passed): a handler may skip the work.
  bool cancelled() const { return state_ && state_->done(); }
  /// The asker's deadline (TimePoint::max() when none), on the system's clock.
  TimePoint deadline() const { return state_ ? state_->deadline() : TimePoint::max(); }

 private:
  void abandon() {
    if (state_) {
      auto state = std::move(state_);
      state->abandon();
    }
  }

  std::shared_ptr<detail::ReplyState<T>> state_;
};

/// The asker's half: cancel a pending request. Copyable; dropping it does not cancel.
/// Threading: any thread.
class AskHandle {
 public:
  AskHandle() = default;
  explicit AskHandle(std::shared_ptr<detail::ReplyStateBase> state) : state_(std::move(state)) {}

  /// Completes the request with CANCELLED unless it already completed; true when this call did.
  /// The handler still runs if it already got the message; its reply is then ignored.
  bool cancel() { return cancel_with(cancelled("request cancelled by the caller")); }
  /// Same, with your own (non-OK) status, e.g. DEADLINE_EXCEEDED from a caller-side deadline.
  bool cancel_with(Status status) { return state_ && state_->fail(std::move(status)); }
  /// The callback has run (or is running).
  bool done() const { return !state_ || state_->done(); }

 private:
  std::shared_ptr<detail::ReplyStateBase> state_;
};

}  // namespace parley::actor
