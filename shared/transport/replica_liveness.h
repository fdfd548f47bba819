// Private to the transport: when a client's replica is live or dead, and when to ping and probe.
// Exists so these rules are one unit, testable with made-up times (no sockets, no clock reads):
// the client's I/O loop feeds it events and the time, and carries out what it says.
// Depends on replica.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "shared/transport/replica.h"

namespace parley::transport::detail {

struct LivenessOptions {
  std::chrono::milliseconds ping_interval{1'000};  // PING every replica this often
  std::chrono::milliseconds dead_after{3'000};     // live replica silent this long: dead
  std::chrono::milliseconds probe_interval{50};    // PING replicas that are not live this often
};

/// The liveness rules of ClientOptions (ping_interval, dead_after, probe_interval):
/// - a replica turns live on the first message it sends (a PONG, or any reply);
/// - it turns dead when its connection drops (socket monitor) or when it sent nothing for
///   longer than dead_after (a hung process), checked at each ping tick;
/// - every replica gets a PING each ping_interval; replicas that are not live get one each
///   probe_interval too, so one that comes up is used within that delay;
/// - every tick retries calls parked for want of a replica (a send may have been refused by a
///   replica still believed live, e.g. while it reconnects).
///
///   ReplicaLiveness l(options); l.start(now);
///   if (l.heard(r.health, now)) { ... r just became live ... }
///   wake_at = std::min(wake_at, l.next_due(all_live, parked));
///   ReplicaLiveness::Work w = l.due(now, healths);   // then: mark w.died dead, ping w.ping
///
/// Threading: the client's I/O thread only.
class ReplicaLiveness {
 public:
  explicit ReplicaLiveness(LivenessOptions options) : options_(options) {}

  const LivenessOptions& options() const { return options_; }

  /// Starts the timers: the first probe is due at once, the first ping one interval later.
  void start(Clock::time_point now);

  /// A message of any kind arrived from the replica. True when it just turned live.
  bool heard(Health& h, Clock::time_point now) const;
  /// Its connection dropped. True when it was live (it is dead now).
  bool lost(Health& h) const;

  /// When the loop must wake next for liveness work. Probes count only while some replica is
  /// not live or calls are parked (a tick then retries them).
  Clock::time_point next_due(bool all_live, bool calls_parked) const;
  /// True when due() has work at `now` (a tick is due).
  bool is_due(Clock::time_point now) const { return now >= next_ping_ || now >= next_probe_; }

  /// What is due at `now`, for `replicas` (ReplicaLiveness marks the silent ones dead itself).
  struct Work {
    /// Indices into `replicas` that get a PING now.
    std::vector<std::size_t> ping;
    /// Indices of replicas that were live and sent nothing for longer than dead_after (now
    /// dead), with how long they were silent.
    std::vector<std::pair<std::size_t, std::chrono::milliseconds>> died;
    /// A tick ran: calls parked for want of a replica should be dispatched again.
    bool retry_parked = false;
  };
  Work due(Clock::time_point now, std::span<Replica* const> replicas);

 private:
  LivenessOptions options_;
  Clock::time_point next_ping_{};
  Clock::time_point next_probe_{};
};

}  // namespace parley::transport::detail
