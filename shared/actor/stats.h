// Per-actor counters (atomics, readable from any thread) and their plain snapshot.
// Exists so the service host can export mailbox depth, throughput, rejections and restarts as
// Prometheus metrics without the actor runtime depending on a metrics library. Depends on nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace parley::actor {

/// A consistent-enough copy of an actor's (or a pool's, or a system's) counters.
/// Counters only grow; `depth` and `capacity` are gauges.
struct ActorStatsSnapshot {
  std::uint64_t enqueued = 0;   ///< messages accepted into the mailbox
  std::uint64_t processed = 0;  ///< handler calls finished (returned or threw)
  std::uint64_t rejected = 0;   ///< tells refused because the mailbox was full (RESOURCE_EXHAUSTED)
  std::uint64_t failures = 0;   ///< handler (or on_start) calls that threw
  std::uint64_t restarts = 0;   ///< times the actor's state was re-created after a failure
  std::int64_t depth = 0;       ///< accepted and not yet finished (queued + the one in its handler)
  std::size_t capacity = 0;     ///< mailbox capacity (sum over members for aggregates)

  ActorStatsSnapshot& operator+=(const ActorStatsSnapshot& o) {
    enqueued += o.enqueued;
    processed += o.processed;
    rejected += o.rejected;
    failures += o.failures;
    restarts += o.restarts;
    depth += o.depth;
    capacity += o.capacity;
    return *this;
  }
};

/// The live counters of one actor. Written by the runtime only (relaxed atomics: each value is
/// exact, a snapshot across fields is not atomic as a whole). Read from any thread.
struct ActorStats {
  std::atomic<std::uint64_t> enqueued{0};
  std::atomic<std::uint64_t> processed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> restarts{0};
  std::atomic<std::int64_t> depth{0};

  ActorStatsSnapshot snapshot(std::size_t capacity) const {
    constexpr auto r = std::memory_order_relaxed;
    ActorStatsSnapshot s;
    s.enqueued = enqueued.load(r);
    s.processed = processed.load(r);
    s.rejected = rejected.load(r);
    s.failures = failures.load(r);
    s.restarts = restarts.load(r);
    s.depth = depth.load(r);
    s.capacity = capacity;
    return s;
  }
};

}  // namespace parley::actor
