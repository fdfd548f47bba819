// ActorPool<Msg>: N actors of one type behind one ref-like handle; each tell goes to the member
// with the least work (depth), within a total capacity. For engine workers and service ingress.
// Depends on actor.h (ActorRef, cell internals), stats.h, shared/common/status.h.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/actor/actor.h"
#include "shared/actor/stats.h"
#include "shared/common/status.h"

namespace parley::actor {

/// Options for ActorSystem::spawn_pool. Members are named "<name>/<i>".
struct PoolOptions {
  std::string name;
  std::size_t size = 2;  ///< members (1..64); each handles one message at a time
  /// Messages queued across the pool; split evenly over the members' mailboxes (at least 1 each),
  /// so the pool refuses (RESOURCE_EXHAUSTED) only when every member's mailbox is full.
  std::size_t total_capacity = 1024;
  std::size_t messages_per_turn = 32;
  RestartPolicy restart;
};

/// N actors behind one handle: `size` requests are handled in parallel, the rest wait in bounded
/// mailboxes. Routing: the member with the smallest depth (queued + in its handler); ties rotate.
///
///   ActorPool<WorkerMsg> workers = system.spawn_pool<Worker>({.name = "infer", .size = 4,
///                                                             .total_capacity = 256}, model);
///   Status s = workers.tell(Run{...});                      // or ask<Reply>(workers, ...)
///   ActorStatsSnapshot load = workers.stats();              // depth = in flight, for /metrics
///
/// A member stopped by its restart budget stays stopped; the others keep serving.
/// Threading: copyable handle, every method from any thread.
template <class Msg>
class ActorPool {
 public:
  using Message = Msg;

  ActorPool() = default;
  ActorPool(std::string name, std::vector<ActorRef<Msg>> members)
      : state_(std::make_shared<State>(std::move(name), std::move(members))) {}

  /// Queues `msg` on the least-loaded member that has room. RESOURCE_EXHAUSTED when every
  /// member's mailbox is full (counted in stats().rejected), UNAVAILABLE when all are stopped.
  /// A refused message is destroyed; its reply handles fail with the same status.
  Status tell(Msg msg) const;

  std::size_t size() const { return state_ ? state_->members.size() : 0; }
  const ActorRef<Msg>& member(std::size_t i) const { return state_->members.at(i); }
  const std::string& name() const {
    static const std::string kEmpty;
    return state_ ? state_->name : kEmpty;
  }
  /// Sum of member capacities.
  std::size_t capacity() const { return stats().capacity; }
  /// Members' counters summed, plus the pool-level rejections.
  ActorStatsSnapshot stats() const {
    ActorStatsSnapshot sum;
    if (!state_) return sum;
    for (const auto& m : state_->members) sum += m.stats();
    sum.rejected += state_->rejected.load(std::memory_order_relaxed);
    return sum;
  }
  /// Stops every member without waiting.
  void stop() const {
    if (state_) {
      for (const auto& m : state_->members) m.stop();
    }
  }

  /// Runtime use (ask()).
  std::shared_ptr<detail::SystemCore> detail_core() const {
    return state_ && !state_->members.empty() ? state_->members.front().detail_core() : nullptr;
  }

 private:
  struct State {
    State(std::string n, std::vector<ActorRef<Msg>> m) : name(std::move(n)), members(std::move(m)) {}
    std::string name;
    std::vector<ActorRef<Msg>> members;
    mutable std::atomic<std::uint64_t> next{0};
    mutable std::atomic<std::uint64_t> rejected{0};
  };
  std::shared_ptr<const State> state_;
};

template <class Msg>
Status ActorPool<Msg>::tell(Msg msg) const {
  Status status;
  if (!state_ || state_->members.empty()) {
    status = unavailable("tell on an empty ActorPool");
  } else {
    const auto& members = state_->members;
    const std::size_t n = members.size();
    const std::size_t start = state_->next.fetch_add(1, std::memory_order_relaxed) % n;
    std::uint64_t tried = 0;  // bit i: member i refused
    bool saw_full = false;
    for (std::size_t attempt = 0; attempt < n; ++attempt) {
      std::size_t best = n;
      std::int64_t best_depth = std::numeric_limits<std::int64_t>::max();
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (start + k) % n;
        if ((tried >> i) & 1u) continue;
        const auto& cell = members[i].detail_cell();
        if (!cell->accepting()) continue;
        const std::int64_t depth = cell->stats().depth.load(std::memory_order_relaxed);
        if (depth < best_depth) {
          best = i;
          best_depth = depth;
        }
      }
      if (best == n) break;
      tried |= std::uint64_t{1} << best;
      Status s = members[best].detail_cell()->offer(msg, /*count_rejection=*/false);
      if (s.is_ok()) return s;
      if (s.code() == StatusCode::kResourceExhausted) saw_full = true;
    }
    if (saw_full) {
      state_->rejected.fetch_add(1, std::memory_order_relaxed);
      status = resource_exhausted("actor pool '" + state_->name + "' is full (capacity " +
                                  std::to_string(capacity()) + ")");
    } else {
      status = unavailable("every member of actor pool '" + state_->name + "' is stopped");
    }
  }
  detail::discard(msg, status);
  return status;
}

}  // namespace parley::actor
