// Owned device memory (cudaMalloc) and page-locked host memory (cudaMallocHost).
// Why: plain RAII owners for weights and long-lived buffers; per-request scratch goes through
// CachingDevicePool instead. Depends on cudart and cuda_check.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "shared/common/status.h"

namespace parley::engine::cuda {

/// Device memory owned by this object, freed on destruction (after the caller has made sure no
/// queued kernel still uses it: destruction does not synchronize).
///
///   PARLEY_ASSIGN_OR_RETURN(DeviceBuffer w, DeviceBuffer::allocate(bytes));
///   PARLEY_RETURN_IF_ERROR(w.copy_from_host(host.data(), bytes, stream));
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Allocates on the current device; RESOURCE_EXHAUSTED when out of memory. 0 bytes → empty.
  static Result<DeviceBuffer> allocate(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }

  /// Asynchronous copies on `stream` (the host side must stay alive until the stream passes the
  /// copy; pageable host memory makes them synchronous). `bytes` must fit in size().
  Status copy_from_host(const void* src, std::size_t bytes, cudaStream_t stream,
                        std::size_t offset = 0);
  Status copy_to_host(void* dst, std::size_t bytes, cudaStream_t stream,
                      std::size_t offset = 0) const;
  Status zero(cudaStream_t stream);

 private:
  void reset();
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Page-locked host memory for fast, truly asynchronous host↔device copies.
class PinnedHostBuffer {
 public:
  PinnedHostBuffer() = default;
  static Result<PinnedHostBuffer> allocate(std::size_t bytes);
  ~PinnedHostBuffer();
  PinnedHostBuffer(PinnedHostBuffer&& other) noexcept;
  PinnedHostBuffer& operator=(PinnedHostBuffer&& other) noexcept;
  PinnedHostBuffer(const PinnedHostBuffer&) = delete;
  PinnedHostBuffer& operator=(const PinnedHostBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return bytes_; }

 private:
  void reset();
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace parley::engine::cuda
