// RAII owners for CUDA streams and events, and a guard that sets the current device.
// Why: every engine worker owns a stream; leaks and double-destroys of raw handles are the
// classic CUDA bugs. Depends on cudart and cuda_check.h.
#pragma once

#include <cuda_runtime_api.h>

#include "shared/common/status.h"

namespace parley::engine::cuda {

/// Sets the current device for a scope and restores the previous one.
/// Threading: per thread (the current device is thread-local state in CUDA).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

/// An owned non-blocking stream on one device.
///
///   PARLEY_ASSIGN_OR_RETURN(CudaStream s, CudaStream::create(0));
///   launch_rms_norm(args, s.get());
///   PARLEY_RETURN_IF_ERROR(s.synchronize());
///
/// Ownership: the stream is destroyed with the object (work already queued still completes).
/// Threading: the handle may be used from any thread; CUDA serializes work on one stream.
class CudaStream {
 public:
  CudaStream() = default;
  static Result<CudaStream> create(int device, int priority = 0);
  ~CudaStream();
  CudaStream(CudaStream&& other) noexcept;
  CudaStream& operator=(CudaStream&& other) noexcept;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  explicit operator bool() const { return stream_ != nullptr; }
  /// Blocks until all queued work finished; reports asynchronous kernel errors.
  Status synchronize() const;

 private:
  void reset();
  cudaStream_t stream_ = nullptr;
  int device_ = -1;
};

/// An owned event (timing enabled unless `disable_timing`).
class CudaEvent {
 public:
  CudaEvent() = default;
  static Result<CudaEvent> create(bool disable_timing = false);
  ~CudaEvent();
  CudaEvent(CudaEvent&& other) noexcept;
  CudaEvent& operator=(CudaEvent&& other) noexcept;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  cudaEvent_t get() const { return event_; }
  Status record(cudaStream_t stream) const;
  Status synchronize() const;
  /// True when all work captured by the last record() has completed.
  Result<bool> query() const;
  /// Milliseconds between `start` (recorded earlier) and this event; both must have completed.
  Result<float> elapsed_ms_since(const CudaEvent& start) const;

 private:
  void reset();
  cudaEvent_t event_ = nullptr;
};

}  // namespace parley::engine::cuda
