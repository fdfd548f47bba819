// NCCL implementation of kernels::Communicator (all-reduce sum f32, all-gather f32) for tensor
// parallelism across GPUs. Header free of nccl.h: the unique id travels as 128 opaque bytes.
// Why: the LM shards layers over GPUs (DESIGN.md, Multi-GPU). Depends on kernels/comm.
#pragma once

#include <array>
#include <memory>

#include "kernels/comm/communicator.h"
#include "shared/common/status.h"

namespace parley::kernels::cuda {

/// ncclUniqueId as bytes (NCCL_UNIQUE_ID_BYTES = 128). Rank 0 makes it and sends it to the
/// others out of band (e.g. over the service's ZeroMQ control channel).
using NcclUniqueId = std::array<char, 128>;

/// UNIMPLEMENTED when this build has no NCCL.
Result<NcclUniqueId> make_nccl_unique_id();

/// Joins group `id` as `rank` of `world_size` on CUDA device `device`. Blocks until all ranks
/// joined (ncclCommInitRank). Collectives are enqueued on ExecContext::stream.handle (a
/// cudaStream_t; nullptr = legacy default stream) and return before they complete.
/// Threading: one thread per rank, as the interface says.
Result<std::unique_ptr<Communicator>> make_nccl_communicator(int rank, int world_size,
                                                             const NcclUniqueId& id, int device);

/// A world of one on `device` (tests, single-GPU deployments that keep the TP code path).
Result<std::unique_ptr<Communicator>> make_nccl_single(int device);

/// True when this build links NCCL.
bool nccl_built();

}  // namespace parley::kernels::cuda
