// ActorSystem: construction (owned or injected executor/timers), spawning and the three-phase
// shutdown (stop accepting, drain with a grace period, stop and join).
// Depends on actor_system.h, cell.h, shared/common (log, check).
#include "shared/actor/actor_system.h"

#include <thread>

#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::actor {

ActorSystem::ActorSystem(ActorSystemOptions options)
    : owned_executor_(std::make_unique<ThreadPoolExecutor>(options.threads, options.name)),
      owned_timers_(std::make_unique<ThreadTimerService>(options.name + "-timer")),
      executor_(owned_executor_.get()),
      timers_(owned_timers_.get()),
      core_(std::make_shared<detail::SystemCore>(options.name, *executor_, *timers_)) {}

ActorSystem::ActorSystem(Executor& executor, TimerService& timers, ActorSystemOptions options)
    : executor_(&executor),
      timers_(&timers),
      core_(std::make_shared<detail::SystemCore>(options.name, *executor_, *timers_)) {}

ActorSystem::~ActorSystem() { shutdown(std::chrono::milliseconds(0)); }

void ActorSystem::start_cell(const std::shared_ptr<detail::CellBase>& cell) {
  if (!core_->accepting()) {
    PARLEY_LOG(kWarn).kv("actor", cell->name()).kv("system", core_->name())
        << "spawn after shutdown: the actor will not run";
    cell->mark_dead(unavailable("actor system '" + core_->name() + "' is shut down"));
    return;
  }
  cell->construct_first();
  if (!core_->register_cell(cell)) {  // shutdown began while the actor was being built
    cell->mark_dead(unavailable("actor system '" + core_->name() + "' is shut down"));
    return;
  }
  cell->post_start();
}

void ActorSystem::shutdown(std::chrono::milliseconds grace) {
  PARLEY_CHECK(detail::current_cell() == nullptr)
      << "ActorSystem::shutdown called from an actor handler (it would wait for itself)";
  std::lock_guard lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;

  auto cells = core_->stop_accepting();
  for (auto& cell : cells) cell->begin_drain();

  const auto until = std::chrono::steady_clock::now() + grace;
  for (;;) {
    const bool idle = std::all_of(cells.begin(), cells.end(), [](const auto& c) { return c->idle(); });
    if (idle || std::chrono::steady_clock::now() >= until) break;
    // Shutdown is rare and short; polling keeps the hot path free of shutdown bookkeeping.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  const ActorStatsSnapshot before = core_->total();
  for (auto& cell : cells) {
    cell->stop(unavailable("actor system '" + core_->name() + "' shut down before the request was handled"),
               /*wait=*/true);
  }
  core_->close();
  if (owned_timers_) owned_timers_->shutdown();
  if (owned_executor_) owned_executor_->shutdown();
  PARLEY_LOG(kDebug).kv("system", core_->name()).kv("actors", cells.size()).kv("dropped", before.depth)
      << "actor system shut down";
}

bool ActorSystem::accepting() const { return core_->accepting(); }
ActorStatsSnapshot ActorSystem::total_stats() const { return core_->total(); }
void ActorSystem::for_each_actor(
    const std::function<void(const std::string&, const ActorStatsSnapshot&)>& fn) const {
  core_->for_each(fn);
}
std::size_t ActorSystem::live_actors() const { return core_->live(); }
const std::string& ActorSystem::name() const { return core_->name(); }

}  // namespace parley::actor
