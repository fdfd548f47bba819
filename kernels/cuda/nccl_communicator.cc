// NcclCommunicator: ncclCommInitRank / ncclAllReduce / ncclAllGather on the caller's stream.
// Why: see nccl_communicator.h. Every NCCL call is checked and turned into a Status naming it.
// Depends on nccl.h, cudart, nccl_communicator.h, shared/engine/cuda.
#include "kernels/cuda/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>
#include <string>

#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"

#define PARLEY_NCCL_RETURN_IF_ERROR(stmt)                                                   \
  do {                                                                                      \
    const ncclResult_t parley_nccl_r_ = (stmt);                                             \
    if (parley_nccl_r_ != ncclSuccess) {                                                    \
      return ::parley::internal_error(std::string(#stmt) + " failed at " + __FILE__ + ":" + \
                                      std::to_string(__LINE__) + ": " +                     \
                                      ncclGetErrorString(parley_nccl_r_));                  \
    }                                                                                       \
  } while (false)

namespace parley::kernels::cuda {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId), "NCCL unique id size changed");

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int world, int device)
      : comm_(comm), rank_(rank), world_(world), device_(device) {}
  ~NcclCommunicator() override {
    const ncclResult_t r = ncclCommDestroy(comm_);
    if (r != ncclSuccess) {
      PARLEY_LOG(kWarn) << "ncclCommDestroy: " << ncclGetErrorString(r);
    }
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  Status all_reduce_sum(float* data, std::int64_t count, const ExecContext& ctx) override {
    PARLEY_RETURN_IF_ERROR(check(ctx, count));
    if (count == 0) return Status::ok();
    if (data == nullptr) return invalid_argument("all_reduce_sum: null buffer");
    PARLEY_NCCL_RETURN_IF_ERROR(ncclAllReduce(data, data, static_cast<std::size_t>(count), ncclFloat,
                                              ncclSum, comm_, stream_of(ctx)));
    return Status::ok();
  }

  Status all_gather(const float* send, float* recv, std::int64_t count, const ExecContext& ctx) override {
    PARLEY_RETURN_IF_ERROR(check(ctx, count));
    if (count == 0) return Status::ok();
    if (send == nullptr || recv == nullptr) return invalid_argument("all_gather: null buffer");
    PARLEY_NCCL_RETURN_IF_ERROR(ncclAllGather(send, recv, static_cast<std::size_t>(count), ncclFloat,
                                              comm_, stream_of(ctx)));
    return Status::ok();
  }

 private:
  static cudaStream_t stream_of(const ExecContext& ctx) {
    return static_cast<cudaStream_t>(ctx.stream.handle);
  }
  Status check(const ExecContext& ctx, std::int64_t count) const {
    if (count < 0) return invalid_argument("collective count must be non-negative");
    if (!ctx.stream.device.is_cuda() || ctx.stream.device.index != device_) {
      return invalid_argument("NCCL collective needs ExecContext on cuda:" + std::to_string(device_));
    }
    return Status::ok();
  }

  ncclComm_t comm_;
  int rank_;
  int world_;
  int device_;
};

}  // namespace

Result<NcclUniqueId> make_nccl_unique_id() {
  ncclUniqueId id;
  PARLEY_NCCL_RETURN_IF_ERROR(ncclGetUniqueId(&id));
  NcclUniqueId out{};
  std::memcpy(out.data(), &id, sizeof(id));
  return out;
}

Result<std::unique_ptr<Communicator>> make_nccl_communicator(int rank, int world_size,
                                                             const NcclUniqueId& id, int device) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return invalid_argument("NCCL rank " + std::to_string(rank) + " outside world of " +
                            std::to_string(world_size));
  }
  PARLEY_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof(nid));
  ncclComm_t comm = nullptr;
  PARLEY_NCCL_RETURN_IF_ERROR(ncclCommInitRank(&comm, world_size, nid, rank));
  return std::unique_ptr<Communicator>(new NcclCommunicator(comm, rank, world_size, device));
}

Result<std::unique_ptr<Communicator>> make_nccl_single(int device) {
  PARLEY_ASSIGN_OR_RETURN(NcclUniqueId id, make_nccl_unique_id());
  return make_nccl_communicator(0, 1, id, device);
}

bool nccl_built() { return true; }

}  // namespace parley::kernels::cuda
