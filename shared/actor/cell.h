// Runtime internals (namespace detail): an actor's cell (mailbox, scheduling, supervision, stop)
// and the system core shared by every cell (executor, gated timers, registry, retired stats).
// Users never include this directly; actor.h does. Depends on executor, timer, reply, stats.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "shared/actor/actor_options.h"
#include "shared/actor/clock.h"
#include "shared/actor/executor.h"
#include "shared/actor/reply.h"
#include "shared/actor/stats.h"
#include "shared/actor/timer.h"
#include "shared/common/status.h"

namespace parley::actor {

class ActorBase;
template <class Msg>
class Actor;

namespace detail {

class CellBase;

/// The cell whose handler runs on this thread right now (nullptr outside handlers).
CellBase* current_cell();

/// State shared by all cells of one ActorSystem. Outlives the system while cells or reply states
/// still reference it; after close() its timer operations are refused, so a late reply or a ref
/// kept past the system's life never touches a destroyed timer service.
class SystemCore {
 public:
  SystemCore(std::string name, Executor& executor, TimerService& timers);

  const std::string& name() const { return name_; }
  Executor& executor() const { return *executor_; }
  /// Only from handlers and other code that runs before close().
  TimerService& timers_unchecked() const { return *timers_; }

  /// Timer operations that are safe from any thread at any time (kNoTimer / false after close()).
  TimerId schedule_timer(TimePoint when, std::function<void()> fn);
  bool cancel_timer(TimerId id);
  std::optional<TimePoint> now();

  /// Adds a live cell; false when the system no longer accepts actors.
  bool register_cell(const std::shared_ptr<CellBase>& cell);
  /// Removes a finished cell, folding its counters into the retired totals.
  void retire(CellBase* cell);
  /// Refuses new actors from now on and returns the live ones.
  std::vector<std::shared_ptr<CellBase>> stop_accepting();
  /// Refuses timer operations from now on; waits for the ones in progress.
  void close();

  bool accepting() const;
  ActorStatsSnapshot total() const;
  std::size_t live() const;
  void for_each(const std::function<void(const std::string&, const ActorStatsSnapshot&)>& fn) const;
  std::uint64_t next_serial() { return serial_.fetch_add(1, std::memory_order_relaxed); }

 private:
  bool enter();
  void leave();

  const std::string name_;
  Executor* const executor_;
  TimerService* const timers_;
  std::atomic<std::uint64_t> serial_{0};

  mutable std::mutex mu_;
  bool accepting_ = true;                                              // guarded by mu_
  std::unordered_map<CellBase*, std::shared_ptr<CellBase>> cells_;     // guarded by mu_
  ActorStatsSnapshot retired_;                                         // guarded by mu_

  std::atomic<bool> open_{true};
  std::atomic<int> users_{0};
};

/// One actor's runtime: a bounded mailbox, the serialized run loop, supervision and stopping.
///
/// Serialization: `scheduled_` is set (under mu_) when a run turn is posted and cleared when a
/// turn ends with an empty mailbox, so at most one turn per cell is queued or running; the mutex
/// hand-off orders one turn's handler writes before the next turn's reads.
/// Lifetime: owned by shared_ptr (refs, posted turns, the registry). The actor object is touched
/// only by the running turn, or by a stopper that found no turn running (it then claims it).
class CellBase : public std::enable_shared_from_this<CellBase> {
 public:
  using Factory = std::function<std::unique_ptr<ActorBase>()>;

  CellBase(std::shared_ptr<SystemCore> core, ActorOptions options, Factory factory);
  virtual ~CellBase();
  CellBase(const CellBase&) = delete;
  CellBase& operator=(const CellBase&) = delete;

  const std::string& name() const { return name_; }
  std::size_t capacity() const { return capacity_; }
  const ActorStats& stats() const { return stats_; }
  ActorStatsSnapshot snapshot() const { return stats_.snapshot(capacity_); }
  /// Accepts tells (not draining, not stopped). Lock-free; may be stale by one tell.
  bool accepting() const { return accepting_.load(std::memory_order_acquire); }
  const std::shared_ptr<SystemCore>& core() const { return core_; }

  /// Spawn: builds the first actor on the caller's thread (exceptions propagate to the spawner).
  void construct_first();
  /// Spawn: queues the first turn (on_start). No-op when already stopped.
  void post_start();
  /// Spawn after shutdown: a cell that never runs; tells return UNAVAILABLE.
  void mark_dead(Status reason);

  /// Shutdown phase 1: refuse tells, keep handling what is queued, cancel self timers.
  void begin_drain();
  /// Nothing queued and no handler running.
  bool idle();
  /// Refuses tells, fails queued messages' reply handles with `reason`, destroys the actor once
  /// no handler runs (on_stop first if it started). With `wait`, returns after that happened
  /// (never waits when called from this actor's own handler).
  void stop(Status reason, bool wait);

  // For ActorBase (from the actor's own handlers).
  TimerId schedule_self_timer(Duration delay, std::function<void()> deliver);
  bool cancel_self_timer(TimerId id);
  void request_stop_self();
  TimePoint now() const { return core_->timers_unchecked().now(); }

 protected:
  /// Checks state and capacity for one more message (mu_ held). OK, UNAVAILABLE or
  /// RESOURCE_EXHAUSTED (counted when `count_rejection`).
  Status admit_locked(std::size_t queued, bool count_rejection);
  /// Accounts the message just queued and schedules a turn if none is (mu_ held).
  void after_push_locked();

  // The typed half (Cell<Msg>).
  virtual bool take_next_locked() = 0;     // front of the mailbox -> current slot
  virtual void deliver_current() = 0;      // actor->receive(current); may throw
  virtual void drop_current() = 0;         // destroys the current message
  virtual std::size_t queue_size_locked() const = 0;
  virtual std::shared_ptr<void> take_queue_locked() = 0;  // the whole mailbox, type-erased

  ActorBase* actor() const { return actor_.get(); }

  std::mutex mu_;

 private:
  enum class State : std::uint8_t { kRunning, kDraining, kStopped };
  enum class Step : std::uint8_t { kStart, kMessage };
  struct Remains {
    std::shared_ptr<void> queue;
    std::unique_ptr<ActorBase> actor;
    bool started = false;
    std::vector<TimerId> timers;
    Status reason;
  };

  void run();
  void invoke(Step step);
  void on_failure(const std::string& what);
  void finish_turn();
  void post_turn_locked();
  Remains claim_locked();
  void finalize(Remains remains);
  void cancel_timers(std::vector<TimerId> timers);
  std::vector<TimerId> take_timers_locked();
  void on_timer_fired(const std::shared_ptr<TimerId>& holder);

  const std::shared_ptr<SystemCore> core_;
  Executor* const executor_;
  const std::string name_;
  const std::size_t capacity_;
  const std::size_t per_turn_;
  const RestartPolicy policy_;
  const Factory factory_;
  ActorStats stats_;
  std::atomic<bool> accepting_{true};

  // Guarded by mu_.
  std::condition_variable finalized_cv_;
  State state_ = State::kRunning;
  bool scheduled_ = false;
  bool running_ = false;
  bool finalized_ = false;
  Status stop_reason_;
  std::unordered_set<TimerId> timers_;

  // Touched only by the running turn (or by a stopper that claimed the cell while none runs).
  std::unique_ptr<ActorBase> actor_;
  bool started_ = false;
  bool stop_requested_ = false;
  Status self_stop_reason_;
  std::deque<TimePoint> restart_times_;
};

/// Destroys what `msg` holds now (not when the caller's frame ends), failing its reply handles
/// with `status`. Moves the alternative out rather than the variant: same effect, and it keeps
/// GCC 12's -Wmaybe-uninitialized false positive on variant moves away.
template <class Msg>
void discard(Msg& msg, const Status& status) {
  DropScope scope(status);
  std::visit([](auto& alt) { [[maybe_unused]] auto dead = std::move(alt); }, msg);
}

/// The typed mailbox of an actor handling `Msg`.
template <class Msg>
class Cell final : public CellBase {
 public:
  using CellBase::CellBase;

  /// Queues `msg` (moving from it) or leaves it untouched and returns why not.
  Status offer(Msg& msg, bool count_rejection) {
    std::lock_guard lock(mu_);
    Status status = admit_locked(queue_.size(), count_rejection);
    if (!status.is_ok()) return status;
    queue_.push_back(std::move(msg));
    after_push_locked();
    return status;
  }

  /// Queues `msg`; a refused message is destroyed here and its reply handles fail with the
  /// refusal (so an asker hears RESOURCE_EXHAUSTED or UNAVAILABLE, not a timeout).
  Status tell(Msg msg) {
    Status status = offer(msg, /*count_rejection=*/true);
    if (!status.is_ok()) discard(msg, status);
    return status;
  }

 private:
  bool take_next_locked() override {
    if (queue_.empty()) return false;
    current_.emplace(std::move(queue_.front()));
    queue_.pop_front();
    return true;
  }
  void deliver_current() override;  // defined in actor.h, where Actor<Msg> is complete
  void drop_current() override { current_.reset(); }
  std::size_t queue_size_locked() const override { return queue_.size(); }
  std::shared_ptr<void> take_queue_locked() override {
    if (queue_.empty()) return nullptr;
    auto all = std::make_shared<std::deque<Msg>>(std::move(queue_));
    queue_.clear();
    return all;
  }

  std::deque<Msg> queue_;        // guarded by mu_
  std::optional<Msg> current_;   // touched only by the running turn
};

}  // namespace detail
}  // namespace parley::actor
