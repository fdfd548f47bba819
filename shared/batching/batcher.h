// Batcher<Req, Res>: the one interface every batching policy implements (enqueue, in_flight, stop).
// Exists so services hand work to "a batcher" and the policy (dynamic today; sequence, continuous
// later) is chosen by configuration, not by the calling code. Depends on shared/common, actor/clock.
#pragma once

#include <cstddef>
#include <functional>

#include "shared/actor/clock.h"
#include "shared/common/status.h"

namespace parley::batching {

using TimePoint = actor::TimePoint;
using Duration = actor::Duration;

/// Called exactly once per accepted request with its result, or with DEADLINE_EXCEEDED (expired
/// while queued, never run), UNAVAILABLE (batcher stopped without draining) or INTERNAL (the batch
/// function failed). Runs on a worker thread (or the thread calling run_once() in manual mode);
/// keep it short and never call back into the batcher's stop() from it.
template <typename Res>
using Completion = std::function<void(Result<Res>)>;

/// The batching policy interface. Threading: all methods are thread-safe.
/// Ownership: enqueue() takes the request; on refusal (non-OK return) the request and the
/// completion are destroyed and the completion is NOT called.
template <typename Req, typename Res>
class Batcher {
 public:
  virtual ~Batcher() = default;
  /// Queues `request`, to be answered by `deadline`. RESOURCE_EXHAUSTED when the queue is full,
  /// UNAVAILABLE after stop(), DEADLINE_EXCEEDED when `deadline` has already passed.
  virtual Status enqueue(Req request, TimePoint deadline, Completion<Res> done) = 0;
  /// Requests queued plus requests in a running batch.
  virtual std::size_t in_flight() const = 0;
  /// Refuses new work, finishes what is queued (without waiting for batches to fill), joins the
  /// workers. Idempotent; blocks until the queue is empty. Not from a completion or batch function.
  virtual void stop() = 0;
};

}  // namespace parley::batching
