// Replica liveness rules (see replica_liveness.h): live on any message, dead on disconnect or
// silence, pings and probes on two timers. Depends on replica_liveness.h.
#include "shared/transport/replica_liveness.h"

#include <algorithm>

namespace parley::transport::detail {

void ReplicaLiveness::start(Clock::time_point now) {
  next_ping_ = now + options_.ping_interval;
  next_probe_ = now;  // probe at once: replicas turn live on their first pong
}

bool ReplicaLiveness::heard(Health& h, Clock::time_point now) const {
  h.last_heard = now;
  if (h.live) return false;
  h.live = true;
  return true;
}

bool ReplicaLiveness::lost(Health& h) const {
  if (!h.live) return false;
  h.live = false;
  return true;
}

Clock::time_point ReplicaLiveness::next_due(bool all_live, bool calls_parked) const {
  return all_live && !calls_parked ? next_ping_ : std::min(next_ping_, next_probe_);
}

ReplicaLiveness::Work ReplicaLiveness::due(Clock::time_point now, std::span<Replica* const> replicas) {
  Work work;
  const bool ping_tick = now >= next_ping_;
  const bool probe_tick = now >= next_probe_;
  if (!ping_tick && !probe_tick) return work;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    Health& h = replicas[i]->health;
    if (ping_tick && h.live && now - h.last_heard > options_.dead_after) {
      h.live = false;
      work.died.emplace_back(i, std::chrono::duration_cast<std::chrono::milliseconds>(now - h.last_heard));
    }
    // Every replica on a ping tick; the ones not live (just died included) on a probe tick.
    if (ping_tick || !h.live) work.ping.push_back(i);
  }
  if (ping_tick) next_ping_ = now + options_.ping_interval;
  // The ping sent on HANDSHAKE_SUCCEEDED can race libzmq attaching the new pipe (EAGAIN under
  // ZMQ_IMMEDIATE); probing bounds how long a replica that is up stays unused.
  if (probe_tick) next_probe_ = now + options_.probe_interval;
  work.retry_parked = true;
  return work;
}

}  // namespace parley::transport::detail
