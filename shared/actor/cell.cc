// The actor run loop (bounded turns), supervision (catch, fail the message's reply handles with
// INTERNAL, restart within budget, else stop), stopping and the system core's registry and gate.
// Depends on cell.h, actor.h (ActorBase), shared/common (log, check).
#include "shared/actor/cell.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <thread>

#include "shared/actor/actor.h"
#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::actor::detail {
namespace {

thread_local CellBase* t_current_cell = nullptr;

// Marks the self-timer holder of a timer that already fired.
constexpr TimerId kFired = std::numeric_limits<TimerId>::max();

class CurrentCell {
 public:
  explicit CurrentCell(CellBase* cell) : previous_(t_current_cell) { t_current_cell = cell; }
  ~CurrentCell() { t_current_cell = previous_; }
  CurrentCell(const CurrentCell&) = delete;
  CurrentCell& operator=(const CurrentCell&) = delete;

 private:
  CellBase* previous_;
};

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

CellBase* current_cell() { return t_current_cell; }

// ---------------------------------------------------------------------------------------------
// SystemCore

SystemCore::SystemCore(std::string name, Executor& executor, TimerService& timers)
    : name_(std::move(name)), executor_(&executor), timers_(&timers) {}

bool SystemCore::enter() {
  // Dekker-style with close(): either close() sees our increment and waits, or we see closed.
  users_.fetch_add(1, std::memory_order_seq_cst);
  if (!open_.load(std::memory_order_seq_cst)) {
    leave();
    return false;
  }
  return true;
}

void SystemCore::leave() { users_.fetch_sub(1, std::memory_order_seq_cst); }

void SystemCore::close() {
  open_.store(false, std::memory_order_seq_cst);
  while (users_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

TimerId SystemCore::schedule_timer(TimePoint when, std::function<void()> fn) {
  if (!enter()) return kNoTimer;
  const TimerId id = timers_->schedule(when, std::move(fn));
  leave();
  return id;
}

bool SystemCore::cancel_timer(TimerId id) {
  if (!enter()) return false;
  const bool cancelled = timers_->cancel(id);
  leave();
  return cancelled;
}

std::optional<TimePoint> SystemCore::now() {
  if (!enter()) return std::nullopt;
  const TimePoint t = timers_->now();
  leave();
  return t;
}

bool SystemCore::register_cell(const std::shared_ptr<CellBase>& cell) {
  std::lock_guard lock(mu_);
  if (!accepting_) return false;
  cells_.emplace(cell.get(), cell);
  return true;
}

void SystemCore::retire(CellBase* cell) {
  std::shared_ptr<CellBase> keep;  // released after the lock (it may be the last reference)
  std::lock_guard lock(mu_);
  auto it = cells_.find(cell);
  if (it == cells_.end()) return;
  ActorStatsSnapshot s = cell->snapshot();
  s.depth = 0;
  s.capacity = 0;
  retired_ += s;
  keep = std::move(it->second);
  cells_.erase(it);
}

std::vector<std::shared_ptr<CellBase>> SystemCore::stop_accepting() {
  std::lock_guard lock(mu_);
  accepting_ = false;
  std::vector<std::shared_ptr<CellBase>> out;
  out.reserve(cells_.size());
  for (const auto& [ptr, cell] : cells_) out.push_back(cell);
  return out;
}

bool SystemCore::accepting() const {
  std::lock_guard lock(mu_);
  return accepting_;
}

ActorStatsSnapshot SystemCore::total() const {
  std::lock_guard lock(mu_);
  ActorStatsSnapshot sum = retired_;
  for (const auto& [ptr, cell] : cells_) sum += cell->snapshot();
  return sum;
}

std::size_t SystemCore::live() const {
  std::lock_guard lock(mu_);
  return cells_.size();
}

void SystemCore::for_each(
    const std::function<void(const std::string&, const ActorStatsSnapshot&)>& fn) const {
  std::vector<std::shared_ptr<CellBase>> cells;
  {
    std::lock_guard lock(mu_);
    cells.reserve(cells_.size());
    for (const auto& [ptr, cell] : cells_) cells.push_back(cell);
  }
  for (const auto& cell : cells) fn(cell->name(), cell->snapshot());
}

// ---------------------------------------------------------------------------------------------
// CellBase: construction and admission

CellBase::CellBase(std::shared_ptr<SystemCore> core, ActorOptions options, Factory factory)
    : core_(std::move(core)),
      executor_(&core_->executor()),
      name_(options.name.empty() ? "actor-" + std::to_string(core_->next_serial()) : options.name),
      capacity_(std::max<std::size_t>(1, options.mailbox_capacity)),
      per_turn_(std::max<std::size_t>(1, options.messages_per_turn)),
      policy_(options.restart),
      factory_(std::move(factory)) {}

CellBase::~CellBase() = default;

void CellBase::construct_first() {
  actor_ = factory_();
  PARLEY_CHECK(actor_ != nullptr) << "the factory of actor '" << name_ << "' returned null";
  actor_->cell_ = this;
}

void CellBase::post_start() {
  std::lock_guard lock(mu_);
  if (state_ != State::kRunning || scheduled_) return;
  post_turn_locked();
}

void CellBase::mark_dead(Status reason) {
  Remains remains;
  {
    std::lock_guard lock(mu_);
    state_ = State::kStopped;
    accepting_.store(false, std::memory_order_release);
    stop_reason_ = std::move(reason);
    remains = claim_locked();
  }
  finalize(std::move(remains));
}

Status CellBase::admit_locked(std::size_t queued, bool count_rejection) {
  if (state_ != State::kRunning) {
    return unavailable("actor '" + name_ + "' " +
                       (state_ == State::kDraining ? "is shutting down" : "is stopped"));
  }
  if (queued >= capacity_) {
    if (count_rejection) stats_.rejected.fetch_add(1, std::memory_order_relaxed);
    return resource_exhausted("mailbox of actor '" + name_ + "' is full (capacity " +
                              std::to_string(capacity_) + ")");
  }
  return Status();
}

void CellBase::after_push_locked() {
  stats_.enqueued.fetch_add(1, std::memory_order_relaxed);
  stats_.depth.fetch_add(1, std::memory_order_relaxed);
  if (!scheduled_) post_turn_locked();
}

void CellBase::post_turn_locked() {
  // Posting under mu_ orders it before any stop(): once a cell is stopped nothing posts to the
  // executor again, which lets the system join an executor it owns.
  scheduled_ = true;
  executor_->post([self = shared_from_this()] { self->run(); });
}

// ---------------------------------------------------------------------------------------------
// The run loop

void CellBase::run() {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kStopped) {  // a stopper claimed the actor while this turn was queued
      scheduled_ = false;
      return;
    }
    running_ = true;
  }
  {
    CurrentCell current(this);
    for (std::size_t n = 0; n < per_turn_ && !stop_requested_; ++n) {
      if (!started_) {
        started_ = true;
        invoke(Step::kStart);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        if (state_ == State::kStopped || !take_next_locked()) break;
      }
      invoke(Step::kMessage);
    }
  }
  finish_turn();
}

void CellBase::invoke(Step step) {
  bool failed = false;
  std::string what;
  try {
    if (step == Step::kStart) {
      actor_->on_start();
    } else {
      deliver_current();
    }
  } catch (const std::exception& e) {
    failed = true;
    what = e.what();
  } catch (...) {
    failed = true;
    what = "non-standard exception";
  }
  if (step == Step::kMessage) {
    if (failed) {
      // Reply handles still inside the failed message tell their askers why.
      DropScope scope(internal_error("actor '" + name_ + "' failed handling the request: " + what));
      drop_current();
    } else {
      drop_current();
    }
    stats_.processed.fetch_add(1, std::memory_order_relaxed);
    stats_.depth.fetch_sub(1, std::memory_order_relaxed);
  }
  if (failed) on_failure(what);
}

void CellBase::on_failure(const std::string& what) {
  stats_.failures.fetch_add(1, std::memory_order_relaxed);
  const TimePoint now = core_->timers_unchecked().now();
  while (!restart_times_.empty() && now - restart_times_.front() >= policy_.window) {
    restart_times_.pop_front();
  }
  if (restart_times_.size() >= policy_.max_restarts) {
    PARLEY_LOG(kError).kv("actor", name_).kv("error", what).kv("max_restarts", policy_.max_restarts)
        << "actor stopped: restart budget exhausted";
    stop_requested_ = true;
    self_stop_reason_ = unavailable("actor '" + name_ + "' stopped after " +
                                    std::to_string(policy_.max_restarts) + " restarts within " +
                                    millis(policy_.window) + "; last failure: " + what);
    return;
  }
  restart_times_.push_back(now);
  const auto restarts = stats_.restarts.fetch_add(1, std::memory_order_relaxed) + 1;
  PARLEY_LOG(kWarn).kv("actor", name_).kv("error", what).kv("restarts", restarts)
      << "actor restarted after a failure";

  std::vector<TimerId> timers;
  {
    std::lock_guard lock(mu_);
    timers = take_timers_locked();
  }
  {
    // Reply handles the old state kept (answer-later requests, or inside pending self-timer
    // messages) fail with INTERNAL.
    DropScope scope(internal_error("actor '" + name_ + "' restarted after a failure: " + what));
    cancel_timers(std::move(timers));
    actor_.reset();
  }
  started_ = false;
  try {
    actor_ = factory_();
  } catch (const std::exception& e) {
    actor_.reset();
    PARLEY_LOG(kError).kv("actor", name_).kv("error", e.what()) << "actor factory threw on restart";
  } catch (...) {
    actor_.reset();
    PARLEY_LOG(kError).kv("actor", name_) << "actor factory threw a non-standard exception";
  }
  if (actor_ == nullptr) {
    stop_requested_ = true;
    self_stop_reason_ = unavailable("actor '" + name_ + "' stopped: it could not be re-created");
    return;
  }
  actor_->cell_ = this;
}

void CellBase::finish_turn() {
  Remains remains;
  {
    std::lock_guard lock(mu_);
    running_ = false;
    if (stop_requested_ && state_ != State::kStopped) {
      state_ = State::kStopped;
      accepting_.store(false, std::memory_order_release);
      stop_reason_ = self_stop_reason_;
    }
    if (state_ != State::kStopped) {
      if (queue_size_locked() == 0) {
        scheduled_ = false;
      } else {
        post_turn_locked();  // more work: yield the thread, continue in a later turn
      }
      return;
    }
    scheduled_ = false;
    remains = claim_locked();
  }
  finalize(std::move(remains));
}

// ---------------------------------------------------------------------------------------------
// Stopping

void CellBase::begin_drain() {
  std::vector<TimerId> timers;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kRunning) {
      state_ = State::kDraining;
      accepting_.store(false, std::memory_order_release);
    }
    timers = take_timers_locked();
  }
  DropScope scope(unavailable("actor '" + name_ + "' is shutting down"));
  cancel_timers(std::move(timers));
}

bool CellBase::idle() {
  std::lock_guard lock(mu_);
  return state_ == State::kStopped || (!running_ && queue_size_locked() == 0);
}

void CellBase::stop(Status reason, bool wait) {
  Remains remains;
  {
    std::unique_lock lock(mu_);
    if (state_ != State::kStopped) {
      state_ = State::kStopped;
      accepting_.store(false, std::memory_order_release);
      stop_reason_ = std::move(reason);
      if (!running_) {
        remains = claim_locked();
        lock.unlock();
        finalize(std::move(remains));
        return;
      }
    }
    // A turn is running (it finalizes when its handler returns) or another stopper is finalizing.
    if (!wait || t_current_cell == this) return;
    finalized_cv_.wait(lock, [this] { return finalized_; });
  }
}

CellBase::Remains CellBase::claim_locked() {
  Remains r;
  stats_.depth.fetch_sub(static_cast<std::int64_t>(queue_size_locked()), std::memory_order_relaxed);
  r.queue = take_queue_locked();
  r.actor = std::move(actor_);
  r.started = started_;
  r.timers = take_timers_locked();
  r.reason = stop_reason_.is_ok() ? unavailable("actor '" + name_ + "' stopped") : stop_reason_;
  return r;
}

void CellBase::finalize(Remains remains) {
  auto keep = shared_from_this();  // retire() may drop the registry's reference
  {
    DropScope scope(remains.reason);
    cancel_timers(std::move(remains.timers));
    remains.queue.reset();
    if (remains.actor != nullptr && remains.started) {
      CurrentCell current(this);
      try {
        remains.actor->on_stop();
      } catch (const std::exception& e) {
        PARLEY_LOG(kError).kv("actor", name_).kv("error", e.what()) << "actor on_stop threw";
      } catch (...) {
        PARLEY_LOG(kError).kv("actor", name_) << "actor on_stop threw a non-standard exception";
      }
    }
    remains.actor.reset();
  }
  core_->retire(this);
  {
    std::lock_guard lock(mu_);
    finalized_ = true;
  }
  finalized_cv_.notify_all();
  PARLEY_LOG(kDebug).kv("actor", name_).kv("reason", remains.reason.message()) << "actor stopped";
}

// ---------------------------------------------------------------------------------------------
// Self timers and self stop (called from the actor's own handlers)

std::vector<TimerId> CellBase::take_timers_locked() {
  std::vector<TimerId> out(timers_.begin(), timers_.end());
  timers_.clear();
  return out;
}

void CellBase::cancel_timers(std::vector<TimerId> timers) {
  for (TimerId id : timers) core_->cancel_timer(id);
}

TimerId CellBase::schedule_self_timer(Duration delay, std::function<void()> deliver) {
  // A message refused here (actor stopping, system closed) is destroyed inside this call.
  DropScope scope(unavailable("actor '" + name_ + "' is stopping"));
  bool running = false;
  {
    std::lock_guard lock(mu_);
    running = state_ == State::kRunning;
  }
  if (!running) {
    deliver = nullptr;  // now, inside the scope and outside the lock
    return kNoTimer;
  }
  auto holder = std::make_shared<TimerId>(kNoTimer);  // guarded by mu_
  std::weak_ptr<CellBase> weak = weak_from_this();
  const TimerId id = core_->schedule_timer(
      core_->timers_unchecked().now() + delay, [weak, holder, deliver = std::move(deliver)] {
        auto cell = weak.lock();
        if (!cell) return;
        cell->on_timer_fired(holder);
        deliver();
      });
  if (id == kNoTimer) return kNoTimer;
  bool cancel = false;
  {
    std::lock_guard lock(mu_);
    if (*holder == kFired) return id;  // fired before we got here: nothing to track
    *holder = id;
    if (state_ == State::kRunning) {
      timers_.insert(id);
    } else {
      cancel = true;
    }
  }
  if (cancel) {
    core_->cancel_timer(id);
    return kNoTimer;
  }
  return id;
}

void CellBase::on_timer_fired(const std::shared_ptr<TimerId>& holder) {
  std::lock_guard lock(mu_);
  const TimerId id = *holder;
  *holder = kFired;
  if (id != kNoTimer) timers_.erase(id);
}

bool CellBase::cancel_self_timer(TimerId id) {
  {
    std::lock_guard lock(mu_);
    if (timers_.erase(id) == 0) return false;
  }
  DropScope scope(cancelled("the timer carrying this request was cancelled"));
  return core_->cancel_timer(id);
}

void CellBase::request_stop_self() {
  stop_requested_ = true;
  self_stop_reason_ = unavailable("actor '" + name_ + "' stopped itself");
}

}  // namespace parley::actor::detail
