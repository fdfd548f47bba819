// ActorSystem: owns (or borrows) the executor and timers, spawns actors and pools, aggregates
// their stats, and shuts down with a drain grace period.
// Depends on actor.h, actor_pool.h, executor.h, timer.h, stats.h.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "shared/actor/actor.h"
#include "shared/actor/actor_options.h"
#include "shared/actor/actor_pool.h"
#include "shared/actor/executor.h"
#include "shared/actor/stats.h"
#include "shared/actor/timer.h"
#include "shared/common/check.h"

namespace parley::actor {

struct ActorSystemOptions {
  std::string name = "actors";
  /// Worker threads of the owned ThreadPoolExecutor (0: one per core). Ignored when injected.
  std::size_t threads = 0;
};

/// The actor runtime of one process (or one test).
///
///   ActorSystem system({.name = "nlu", .threads = 4});           // real threads and timers
///   auto counter = system.spawn<Counter>({.name = "counter", .mailbox_capacity = 256});
///   (void)counter.tell(Inc{1});
///   system.shutdown(std::chrono::seconds(5));                     // drain, then stop
///
///   // Tests: inject deterministic time and scheduling (both must outlive the system).
///   ManualExecutor ex; ManualClock clock;
///   ActorSystem system(ex, clock);
///
/// Shutdown (explicit, or the destructor with no grace):
///   1. stop accepting: tells and new asks to every actor return UNAVAILABLE (tells between actors
///      too), spawn gives dead refs, self timers are cancelled;
///   2. drain: handlers keep running the messages already queued, for up to `grace` of real time
///      (with a ManualExecutor nothing runs by itself: call run_all() first, or use grace 0);
///   3. stop: what is still queued is dropped and its reply handles fail with UNAVAILABLE (no
///      asker hangs); running handlers finish their message; on_stop runs; actors are destroyed;
///   4. an owned executor and timer service are joined.
/// Threading: spawn/stats from any thread; shutdown from any thread except an actor handler.
/// Ownership: the system owns its actors; refs and pools may outlive it (tells: UNAVAILABLE).
class ActorSystem {
 public:
  /// Real threads (ThreadPoolExecutor with options.threads) and a ThreadTimerService, owned.
  explicit ActorSystem(ActorSystemOptions options = {});
  /// Borrowed executor and timers (not owned; they must outlive the system).
  ActorSystem(Executor& executor, TimerService& timers, ActorSystemOptions options = {});
  /// shutdown(0): queued messages are dropped (reply handles: UNAVAILABLE).
  ~ActorSystem();
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;

  /// Creates an actor `A` (derived from Actor<Msg>) from `args`, which are copied and kept: a
  /// restart builds a fresh `A` from the same args (share resources by shared_ptr). The first
  /// `A` is built here, on the caller's thread (its constructor's exceptions reach the caller);
  /// on_start then runs on the executor. After shutdown: a ref whose tells return UNAVAILABLE.
  template <class A, class... Args>
  ActorRef<typename A::Message> spawn(ActorOptions options, Args&&... args) {
    return spawn_with<typename A::Message>(std::move(options), make_factory<A>(std::forward<Args>(args)...));
  }

  /// Same, with an explicit factory (called again on every restart).
  template <class Msg>
  ActorRef<Msg> spawn_with(ActorOptions options, std::function<std::unique_ptr<Actor<Msg>>()> factory) {
    auto cell = std::make_shared<detail::Cell<Msg>>(
        core_, std::move(options), [f = std::move(factory)]() -> std::unique_ptr<ActorBase> { return f(); });
    start_cell(cell);
    return ActorRef<Msg>(std::move(cell));
  }

  /// `options.size` actors of type `A` (each built from copies of `args`) behind one ActorPool.
  template <class A, class... Args>
  ActorPool<typename A::Message> spawn_pool(PoolOptions options, Args&&... args) {
    using Msg = typename A::Message;
    PARLEY_CHECK(options.size >= 1 && options.size <= 64) << "ActorPool size must be 1..64";
    auto factory = make_factory<A>(std::forward<Args>(args)...);
    std::vector<ActorRef<Msg>> members;
    members.reserve(options.size);
    const std::size_t per_member = std::max<std::size_t>(1, options.total_capacity / options.size);
    const std::size_t extra = options.total_capacity > per_member * options.size
                                  ? options.total_capacity - per_member * options.size
                                  : 0;
    for (std::size_t i = 0; i < options.size; ++i) {
      ActorOptions member;
      member.name = options.name + "/" + std::to_string(i);
      member.mailbox_capacity = per_member + (i < extra ? 1 : 0);
      member.messages_per_turn = options.messages_per_turn;
      member.restart = options.restart;
      members.push_back(spawn_with<Msg>(std::move(member), factory));
    }
    return ActorPool<Msg>(options.name, std::move(members));
  }

  /// Drains for up to `grace` (real time), then stops every actor; see the class comment.
  /// Idempotent; concurrent callers wait for the first. Not from an actor handler (fatal).
  void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

  /// Accepting tells and spawns (false once shutdown began).
  bool accepting() const;
  /// Every actor ever spawned here, live and stopped (counters keep growing; depth/capacity are
  /// for live actors only). For Prometheus *_total counters and queue-depth gauges.
  ActorStatsSnapshot total_stats() const;
  /// Live actors' counters, one call per actor (names may repeat). Not under any lock.
  void for_each_actor(const std::function<void(const std::string& name, const ActorStatsSnapshot&)>& fn) const;
  std::size_t live_actors() const;

  const std::string& name() const;
  Executor& executor() { return *executor_; }
  TimerService& timers() { return *timers_; }
  /// The system's clock (the timer service).
  const Clock& clock() const { return *timers_; }

 private:
  template <class A, class... Args>
  static std::function<std::unique_ptr<Actor<typename A::Message>>()> make_factory(Args&&... args) {
    using Msg = typename A::Message;
    static_assert(std::is_base_of_v<Actor<Msg>, A>, "spawn<A>: A must derive from Actor<A::Message>");
    static_assert(std::is_constructible_v<A, const std::decay_t<Args>&...>,
                  "spawn<A>(options, args...): A must be constructible from const copies of args");
    return [args = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]()
               -> std::unique_ptr<Actor<Msg>> {
      return std::apply([](const auto&... a) { return std::make_unique<A>(a...); }, args);
    };
  }

  void start_cell(const std::shared_ptr<detail::CellBase>& cell);

  std::unique_ptr<ThreadPoolExecutor> owned_executor_;
  std::unique_ptr<ThreadTimerService> owned_timers_;
  Executor* executor_;
  TimerService* timers_;
  std::shared_ptr<detail::SystemCore> core_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

}  // namespace parley::actor
