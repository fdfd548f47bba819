// Communicator: the collectives tensor parallelism needs (all-reduce sum, all-gather), behind an
// interface with an in-process CPU implementation (ranks on threads) and an NCCL one (kernels/cuda).
// Why: the LM shards layers over GPUs; the sharding math is tested on the CPU at 2 and 4 ranks.
// Depends on kernels/ops/common.h, shared/common/status.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// One rank's handle on a group. Collective semantics: every rank calls the same collectives in
/// the same order with the same counts; a call returns when this rank's result is complete (CPU)
/// or enqueued on ctx.stream (NCCL). One thread per rank; a Communicator is not shared by threads.
/// Buffers are on the communicator's device.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// data[0..count) <- sum over ranks of each rank's data[0..count), in place.
  virtual Status all_reduce_sum(float* data, std::int64_t count, const ExecContext& ctx) = 0;
  /// recv[r*count .. (r+1)*count) <- rank r's send[0..count). recv holds world_size*count floats.
  virtual Status all_gather(const float* send, float* recv, std::int64_t count, const ExecContext& ctx) = 0;
};

/// `world_size` communicators that talk through shared memory, for ranks running on threads of
/// this process. The group state is shared by the returned objects (freed with the last one).
/// Sums are added in rank order, so every rank gets bit-identical results.
///
///   auto comms = make_in_process_group(4);
///   std::vector<std::thread> ranks;
///   for (auto& c : comms) ranks.emplace_back([&c] { (void)c->all_reduce_sum(buf, n, {}); });
std::vector<std::unique_ptr<Communicator>> make_in_process_group(int world_size);

}  // namespace parley::kernels
