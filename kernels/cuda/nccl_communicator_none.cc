// Stand-in used when NCCL is not found at configure time: every factory says UNIMPLEMENTED.
// Why: callers never #ifdef; CMake picks this file or nccl_communicator.cc.
// Depends on nccl_communicator.h.
#include "kernels/cuda/nccl_communicator.h"

namespace parley::kernels::cuda {

Result<NcclUniqueId> make_nccl_unique_id() { return unimplemented("built without NCCL"); }

Result<std::unique_ptr<Communicator>> make_nccl_communicator(int, int, const NcclUniqueId&, int) {
  return unimplemented("built without NCCL");
}

Result<std::unique_ptr<Communicator>> make_nccl_single(int) { return unimplemented("built without NCCL"); }

bool nccl_built() { return false; }

}  // namespace parley::kernels::cuda
