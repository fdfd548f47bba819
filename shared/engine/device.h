// Device, Stream and run-time device detection.
// Why: kernels and tensors name where memory lives and where work runs (the CPU, or CUDA device N
// on a stream) without including any CUDA header; which devices exist is a run-time answer.
// Depends on nothing but the standard library (the CUDA probe is linked in by CMake, see below).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::engine {

enum class DeviceType : std::uint8_t { kCpu = 0, kCuda = 1 };

/// Where memory lives / where a kernel runs. Value type.
struct Device {
  DeviceType type = DeviceType::kCpu;
  int index = 0;  ///< CUDA ordinal; always 0 for the CPU.

  static constexpr Device cpu() { return {DeviceType::kCpu, 0}; }
  static constexpr Device cuda(int ordinal) { return {DeviceType::kCuda, ordinal}; }
  constexpr bool is_cpu() const { return type == DeviceType::kCpu; }
  constexpr bool is_cuda() const { return type == DeviceType::kCuda; }
  /// "cpu" or "cuda:0".
  std::string to_string() const;
  friend constexpr bool operator==(const Device&, const Device&) = default;
};

/// Opaque stream handle: a cudaStream_t on CUDA (nullptr = the legacy default stream), unused on
/// the CPU. Kept as void* so headers stay free of device code.
using StreamHandle = void*;

/// A device plus the queue work is ordered on. Does not own the stream.
struct Stream {
  Device device;
  StreamHandle handle = nullptr;

  static constexpr Stream cpu() { return {Device::cpu(), nullptr}; }
};

/// What one device offers (filled by detect_devices()).
struct DeviceInfo {
  Device device;
  std::string name;                 ///< "AMD EPYC ...", "NVIDIA H100 80GB HBM3"
  std::uint64_t total_memory = 0;   ///< bytes (0 when unknown)
  int compute_major = 0;            ///< CUDA compute capability, 0 for the CPU
  int compute_minor = 0;
  int multiprocessors = 0;          ///< SMs for CUDA, logical cores for the CPU
};

/// All devices usable now: the CPU first (always), then each CUDA device the driver reports.
/// The first call probes and logs once; with no CUDA device (none compiled in, no driver, no GPU)
/// it logs exactly one line "no CUDA device: using CPU backend". Thread-safe; later calls return
/// the cached answer.
const std::vector<DeviceInfo>& detect_devices();

/// Number of CUDA devices found by detect_devices() (0 when CUDA is absent).
int cuda_device_count();

/// What a `<svc>.device` setting asks for: "auto", "cpu", "cuda" (= cuda:0) or "cuda:N".
struct DeviceSetting {
  bool automatic = false;  ///< "auto": the first GPU when there is one, else the CPU
  Device device;           ///< the device asked for (unused when automatic)
};

/// Parses a device setting (case-sensitive, no spaces). INVALID_ARGUMENT naming the accepted
/// forms for anything else ("gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:99999").
Result<DeviceSetting> parse_device_setting(std::string_view text);

/// The device a setting resolves to on this machine: "auto" gives cuda:0 when detect_devices()
/// found a GPU, else the CPU; "cuda:N" gives UNAVAILABLE when there is no such GPU (naming how
/// many there are). `key` names the setting in messages ("lm.device"); the choice is logged.
Result<Device> resolve_device_setting(std::string_view text, std::string_view key);

namespace detail {
/// Result of the CUDA probe, provided by exactly one of two files chosen by CMake:
/// target parley_engine_cuda (shared/engine/cuda/, built when PARLEY_CUDA_ENABLED) or
/// shared/engine/cuda_probe_none.cc when that target does not exist.
/// Must not log: detect_devices() writes the one log line. Callers never #ifdef; use
/// detect_devices().
struct CudaProbe {
  bool compiled = false;             ///< CUDA support was built into this binary
  std::vector<DeviceInfo> devices;   ///< empty when no driver / no GPU
  std::string reason;                ///< why none was found ("not built with CUDA", driver error, ...)
};
CudaProbe probe_cuda();
}  // namespace detail

}  // namespace parley::engine
