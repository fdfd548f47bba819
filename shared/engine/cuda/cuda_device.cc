// CUDA device probe: cudaGetDeviceCount + cudaGetDeviceProperties, cached, never fatal.
// Why: machines without a driver (CI, developers) must see zero devices and run CPU-only.
// Depends on cuda_device.h, cuda_check.h, shared/common/log.h.
#include "shared/engine/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"
#include "shared/engine/device.h"

namespace parley::engine::cuda {
namespace {

CudaProbe run_probe() {
  CudaProbe probe;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    probe.unavailable_reason = std::string("no CUDA device: ") + cudaGetErrorString(err) + " (" +
                               cudaGetErrorName(err) + ")";
    return probe;
  }
  if (count <= 0) {
    probe.unavailable_reason = "no CUDA device: the driver reports 0 devices";
    return probe;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    const cudaError_t perr = cudaGetDeviceProperties(&prop, i);
    if (perr != cudaSuccess) {
      (void)cudaGetLastError();
      PARLEY_LOG(kWarn) << "skipping CUDA device " << i << ": " << cudaGetErrorString(perr);
      continue;
    }
    CudaDeviceInfo info;
    info.ordinal = i;
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.global_memory_bytes = prop.totalGlobalMem;
    info.l2_cache_bytes = static_cast<std::size_t>(prop.l2CacheSize);
    info.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
    int clock_khz = 0;
    int bus_bits = 0;
    // Attributes rather than cudaDeviceProp fields: CUDA 13 removed memoryClockRate from the struct.
    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, i) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, i) == cudaSuccess) {
      // DDR: two transfers per clock.
      info.peak_memory_bandwidth_bytes_per_s = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
    } else {
      (void)cudaGetLastError();
    }
    probe.devices.push_back(std::move(info));
  }
  if (probe.devices.empty()) probe.unavailable_reason = "no CUDA device: no device could be queried";
  return probe;
}

}  // namespace

const CudaProbe& probe_cuda_devices() {
  static std::once_flag once;
  static CudaProbe probe;
  std::call_once(once, [] {
    probe = run_probe();
    // The "no CUDA device: using CPU backend" line is engine::detect_devices()'s to write, once.
    if (probe.devices.empty()) {
      PARLEY_LOG(kDebug) << "CUDA probe: " << probe.unavailable_reason;
    } else {
      for (const auto& d : probe.devices) {
        PARLEY_LOG(kInfo) << "CUDA device " << d.ordinal << ": " << d.name << " sm_" << d.major
                          << d.minor << ", " << d.multiprocessors << " SMs, "
                          << (d.global_memory_bytes >> 20) << " MiB";
      }
    }
  });
  return probe;
}

int cuda_device_count() { return static_cast<int>(probe_cuda_devices().devices.size()); }

Result<CudaDeviceInfo> cuda_device_info(int ordinal) {
  const auto& devices = probe_cuda_devices().devices;
  if (ordinal < 0 || ordinal >= static_cast<int>(devices.size())) {
    return not_found("CUDA device " + std::to_string(ordinal) + " does not exist (" +
                     std::to_string(devices.size()) + " available)");
  }
  return devices[static_cast<std::size_t>(ordinal)];
}

}  // namespace parley::engine::cuda

namespace parley::engine::detail {

// The engine's hook (see shared/engine/device.h): this file is linked instead of
// cuda_probe_none.cc when CUDA is built.
CudaProbe probe_cuda() {
  const auto& probe = cuda::probe_cuda_devices();
  CudaProbe out;
  out.compiled = true;
  out.reason = probe.unavailable_reason;
  for (const auto& d : probe.devices) {
    DeviceInfo info;
    info.device = Device::cuda(d.ordinal);
    info.name = d.name;
    info.total_memory = d.global_memory_bytes;
    info.compute_major = d.major;
    info.compute_minor = d.minor;
    info.multiprocessors = d.multiprocessors;
    out.devices.push_back(std::move(info));
  }
  return out;
}

}  // namespace parley::engine::detail
