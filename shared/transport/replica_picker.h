// Private to the transport: which replica a client sends a call to (least loaded, untried first,
// ties round-robin). Exists so the routing policy is one unit, testable on plain Replica records
// and replaceable without touching the call lifecycle. Depends on replica.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "shared/transport/replica.h"

namespace parley::transport::detail {

/// Least-loaded routing:
/// - only replicas that accept calls (live, not retired, not draining) and are not in `skip`;
/// - a replica the call has not tried yet beats one it has (a retry goes elsewhere if it can);
/// - then the lowest load score: this client's outstanding calls on the replica plus the
///   replica's last reported in_flight + queue_depth (from every client); a replica whose queue
///   is at capacity goes last;
/// - ties rotate round-robin (the starting point advances at every pick).
///
///   LeastLoadedPicker picker;
///   Replica* r = picker.pick(replicas, call.tried, refused_so_far);   // nullptr: none qualifies
///
/// Threading: the client's I/O thread only.
class LeastLoadedPicker {
 public:
  Replica* pick(std::span<const std::unique_ptr<Replica>> replicas, const TriedReplicas& tried,
                std::span<Replica* const> skip = {});

  /// The load score of `r` (lower is better; +1'000'000 when its queue is at capacity).
  static std::int64_t score(const Replica& r);

 private:
  std::size_t round_robin_ = 0;
};

}  // namespace parley::transport::detail
