// Options for spawning one actor: name, mailbox capacity, fairness and the restart policy.
// Exists apart from actor.h so the runtime's internals and the system can share it without
// cycles. Depends on clock.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "shared/actor/clock.h"

namespace parley::actor {

/// Supervision: how many failures (handler or on_start throwing) are forgiven. A failure restarts
/// the actor (fresh state from its factory) while fewer than `max_restarts` restarts happened in
/// the last `window`; the next one stops it for good (later tells return UNAVAILABLE).
/// max_restarts = 0 stops the actor at its first failure. Time is the system's clock.
struct RestartPolicy {
  std::size_t max_restarts = 3;
  Duration window = std::chrono::seconds(60);
};

struct ActorOptions {
  /// Shown in logs and stats; "actor-<n>" when empty. Need not be unique.
  std::string name;
  /// Messages queued (not counting the one being handled) before tell() returns RESOURCE_EXHAUSTED.
  std::size_t mailbox_capacity = 1024;
  /// Handler calls per scheduling turn before the actor yields its thread to other actors.
  std::size_t messages_per_turn = 32;
  RestartPolicy restart;
};

}  // namespace parley::actor
