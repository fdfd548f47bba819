// Least-loaded replica picking (see replica_picker.h). Depends on replica_picker.h.
#include "shared/transport/replica_picker.h"

#include <algorithm>

namespace parley::transport::detail {

std::int64_t LeastLoadedPicker::score(const Replica& r) {
  // Our own outstanding calls plus what the replica last said it has (from every client).
  std::int64_t s = static_cast<std::int64_t>(r.in_flight) + r.load.in_flight + r.load.queue_depth;
  if (r.load.capacity > 0 && r.load.queue_depth >= r.load.capacity) s += 1'000'000;
  return s;
}

Replica* LeastLoadedPicker::pick(std::span<const std::unique_ptr<Replica>> replicas, const TriedReplicas& tried,
                                 std::span<Replica* const> skip) {
  const std::size_t n = replicas.size();
  if (n == 0) return nullptr;
  // Rotating the starting point breaks ties round-robin.
  const std::size_t start = round_robin_++ % n;
  Replica* best = nullptr;
  bool best_untried = false;
  std::int64_t best_score = 0;
  for (std::size_t k = 0; k < n; ++k) {
    Replica* r = replicas[(start + k) % n].get();
    if (!r->accepts_calls()) continue;
    if (std::find(skip.begin(), skip.end(), r) != skip.end()) continue;
    const bool untried = !tried.contains(r->serial);
    const std::int64_t s = score(*r);
    if (best == nullptr || (untried && !best_untried) || (untried == best_untried && s < best_score)) {
      best = r;
      best_untried = untried;
      best_score = s;
    }
  }
  return best;
}

}  // namespace parley::transport::detail
