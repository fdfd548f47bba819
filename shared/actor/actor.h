// Actors with a typed message set: Actor<Msg> (Msg = std::variant<...>), ActorRef<Msg> to tell
// them, and match() for exhaustive handling (a message type without a handler fails to compile).
// Depends on cell.h (runtime internals), clock, timer, stats, shared/common/status.h.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "shared/actor/actor_options.h"
#include "shared/actor/cell.h"
#include "shared/actor/clock.h"
#include "shared/actor/stats.h"
#include "shared/actor/timer.h"
#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/common/status.h"

namespace parley::actor {

/// An overload set built from lambdas: `Overloaded{[](A&) {...}, [](B&) {...}}`.
template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

namespace detail {
template <class F, class V>
struct HandlesAll : std::false_type {};
template <class F, class... Ts>
struct HandlesAll<F, std::variant<Ts...>> : std::bool_constant<(std::is_invocable_v<F&, Ts&> && ...)> {};
template <class T>
struct IsVariant : std::false_type {};
template <class... Ts>
struct IsVariant<std::variant<Ts...>> : std::true_type {};
}  // namespace detail

/// True when `F` can be called with every alternative of the variant `V` (as an lvalue).
template <class F, class V>
inline constexpr bool handles_all_v = detail::HandlesAll<F, V>::value;

/// Exhaustive std::visit over an overload set: one handler per message type, no catch-all.
/// A variant alternative without a handler is a compile error naming the problem.
///
///   match(msg, [&](Ping& p) { ... }, [&](GetCount& g) { g.reply.reply(count_); });
///
/// Never add an `[](auto&)` handler: it would silently swallow every new message type.
template <class... Ts, class... Fs>
decltype(auto) match(std::variant<Ts...>& msg, Fs&&... handlers) {
  auto visitor = Overloaded<std::decay_t<Fs>...>{std::forward<Fs>(handlers)...};
  static_assert(handles_all_v<decltype(visitor), std::variant<Ts...>>,
                "match(): a message type of this actor has no handler (add an overload for it)");
  return std::visit(visitor, msg);
}

template <class Msg>
class ActorRef;
class ActorSystem;

/// What every actor can do from its own handlers. Derive from Actor<Msg>, not from this.
/// Threading: everything here is for the actor's own handlers (receive, on_start, on_stop), and
/// none of it works in the constructor (the runtime attaches the actor right after it).
class ActorBase {
 public:
  virtual ~ActorBase() = default;
  ActorBase(const ActorBase&) = delete;
  ActorBase& operator=(const ActorBase&) = delete;

 protected:
  ActorBase() = default;

  /// Runs before the first message, in a turn of its own, after spawn and after every restart.
  /// The place to schedule_self() a first tick (self() is not usable in the constructor).
  virtual void on_start() {}
  /// Runs once when the actor stops for good (shutdown, stop, stop_self, restart budget spent),
  /// never concurrently with a handler; not on a restart (the destructor runs then).
  virtual void on_stop() {}

  const std::string& name() const { return cell_->name(); }
  /// The system clock's now (ManualClock in tests).
  TimePoint now() const { return cell_->now(); }
  /// Stops this actor after the current handler returns; queued messages' reply handles fail
  /// with UNAVAILABLE, later tells return UNAVAILABLE.
  void stop_self() { cell_->request_stop_self(); }
  /// Cancels a schedule_self() timer; true when it had not fired.
  bool cancel_timer(TimerId id) { return cell_->cancel_self_timer(id); }
  /// Counters of this actor.
  ActorStatsSnapshot stats() const { return cell_->snapshot(); }

  /// Runtime use (Actor<Msg>): the cell; null inside the constructor.
  detail::CellBase* runtime_cell() const { return cell_; }

 private:
  friend class detail::CellBase;
  detail::CellBase* cell_ = nullptr;  // set by the runtime right after construction
};

/// An actor handling the messages of `Msg`, a std::variant of plain structs.
///
///   struct Inc { int by = 1; };
///   struct Get { ReplyTo<int> reply; };
///   using CounterMsg = std::variant<Inc, Get>;
///
///   class Counter final : public Actor<CounterMsg> {
///    public:
///     void receive(CounterMsg& msg) override {
///       match(msg, [&](Inc& m) { count_ += m.by; },
///                  [&](Get& m) { m.reply.reply(count_); });
///     }
///    private:
///     int count_ = 0;
///   };
///
/// Threading: receive() for one actor never runs concurrently with itself (or with on_start /
/// on_stop); successive calls may run on different executor threads, with all writes of one call
/// visible to the next. Handlers must not block (no sleeps, no ask_sync): ask() and reply by
/// message instead. A handler that throws is caught: see RestartPolicy.
/// Ownership: the runtime owns the actor; it is destroyed on restart and on stop.
template <class Msg>
class Actor : public ActorBase {
  static_assert(detail::IsVariant<Msg>::value, "Actor<Msg>: Msg must be a std::variant of message types");

 public:
  using Message = Msg;

  /// Handles one message. The message is the handler's to move from.
  virtual void receive(Msg& msg) = 0;

 protected:
  /// A ref to this actor (to hand out in messages, or to tell yourself).
  ActorRef<Msg> self() const;
  /// Tells `msg` to this actor after `delay` (system clock). Cancel with cancel_timer(). Pending
  /// self timers are cancelled on restart and on stop. kNoTimer when the actor is stopping.
  TimerId schedule_self(Duration delay, Msg msg);
};

/// A handle to send messages to one actor. Cheap to copy; thread-safe; may outlive the actor and
/// the system (tells then return UNAVAILABLE).
///
///   ActorRef<CounterMsg> counter = system.spawn<Counter>({.name = "counter"});
///   Status s = counter.tell(Inc{2});   // OK, RESOURCE_EXHAUSTED (mailbox full) or UNAVAILABLE
template <class Msg>
class ActorRef {
 public:
  using Message = Msg;

  ActorRef() = default;

  /// Queues `msg` for the actor; never blocks. RESOURCE_EXHAUSTED when the mailbox is full
  /// (counted as rejected), UNAVAILABLE when the actor stopped or the system shuts down. A refused
  /// message is destroyed and its reply handles fail with the same status.
  Status tell(Msg msg) const {
    if (!cell_) return unavailable("tell on an empty ActorRef");
    return cell_->tell(std::move(msg));
  }

  /// Stops the actor without waiting: queued messages' reply handles fail with UNAVAILABLE, the
  /// handler in progress (if any) finishes first.
  void stop() const {
    if (cell_) cell_->stop(unavailable("actor '" + cell_->name() + "' was stopped"), /*wait=*/false);
  }

  bool valid() const { return cell_ != nullptr; }
  /// Still accepting tells (false once stopping or stopped).
  bool alive() const { return cell_ && cell_->accepting(); }
  const std::string& name() const {
    static const std::string kEmpty;
    return cell_ ? cell_->name() : kEmpty;
  }
  std::size_t capacity() const { return cell_ ? cell_->capacity() : 0; }
  ActorStatsSnapshot stats() const { return cell_ ? cell_->snapshot() : ActorStatsSnapshot{}; }

  friend bool operator==(const ActorRef& a, const ActorRef& b) { return a.cell_ == b.cell_; }

  /// Runtime use (ask(), ActorPool).
  const std::shared_ptr<detail::Cell<Msg>>& detail_cell() const { return cell_; }
  std::shared_ptr<detail::SystemCore> detail_core() const { return cell_ ? cell_->core() : nullptr; }

 private:
  friend class ActorSystem;
  friend class Actor<Msg>;
  explicit ActorRef(std::shared_ptr<detail::Cell<Msg>> cell) : cell_(std::move(cell)) {}

  std::shared_ptr<detail::Cell<Msg>> cell_;
};

template <class Msg>
ActorRef<Msg> Actor<Msg>::self() const {
  PARLEY_CHECK(runtime_cell() != nullptr) << "self() called in an actor's constructor; use on_start()";
  return ActorRef<Msg>(std::static_pointer_cast<detail::Cell<Msg>>(runtime_cell()->shared_from_this()));
}

template <class Msg>
TimerId Actor<Msg>::schedule_self(Duration delay, Msg msg) {
  PARLEY_CHECK(runtime_cell() != nullptr) << "schedule_self() called in an actor's constructor";
  std::weak_ptr<detail::Cell<Msg>> weak =
      std::static_pointer_cast<detail::Cell<Msg>>(runtime_cell()->shared_from_this());
  // std::function needs a copyable callable; the message (maybe move-only) lives in a box.
  auto boxed = std::make_shared<Msg>(std::move(msg));
  return runtime_cell()->schedule_self_timer(delay, [weak, boxed] {
    auto cell = weak.lock();
    if (!cell) return;
    Status status = cell->tell(std::move(*boxed));
    if (!status.is_ok()) {
      PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("actor", cell->name()).kv("status", status.to_string())
          << "a schedule_self message was refused";
    }
  });
}

template <class Msg>
void detail::Cell<Msg>::deliver_current() {
  static_cast<Actor<Msg>*>(actor())->receive(*current_);
}

}  // namespace parley::actor
