// CUDA device discovery: how many GPUs this process can use and what they are.
// Why: "no GPU → CPU backend" is a run-time question; a missing driver (cudaGetDeviceCount returns
// an error) must mean "zero devices", never an abort. Depends on the CUDA runtime (cudart) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::engine::cuda {

/// What the engine and kernels need to know about one device.
struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0;  ///< compute capability
  int minor = 0;
  int multiprocessors = 0;
  std::size_t global_memory_bytes = 0;
  std::size_t l2_cache_bytes = 0;
  std::size_t shared_memory_per_block_optin = 0;
  /// Peak DRAM bandwidth from the reported memory clock and bus width (0 when the runtime does not
  /// report them, as CUDA 13 does not for every device: callers then use a table or skip ratios).
  double peak_memory_bandwidth_bytes_per_s = 0.0;
};

/// The result of probing once: devices, or the reason there are none.
struct CudaProbe {
  std::vector<CudaDeviceInfo> devices;
  /// Empty when at least one device is usable; else e.g. "no CUDA device: CUDA driver version is
  /// insufficient for CUDA runtime version (cudaErrorInsufficientDriver)".
  std::string unavailable_reason;
};

/// Probes once per process (thread-safe, cached) and never aborts: any runtime error becomes an
/// empty device list with the reason. Safe to call where no driver is installed.
const CudaProbe& probe_cuda_devices();

/// Number of usable devices (0 when no driver, no device, or any runtime error).
int cuda_device_count();

/// True when at least one device is usable.
inline bool cuda_available() { return cuda_device_count() > 0; }

/// Info of one probed device; NOT_FOUND for an ordinal outside [0, cuda_device_count()).
Result<CudaDeviceInfo> cuda_device_info(int ordinal);

}  // namespace parley::engine::cuda
