// DeviceBuffer and PinnedHostBuffer: checked allocation, bounds-checked copies.
// Why: copies past the end of a device buffer corrupt memory silently; check them here.
// Depends on device_buffer.h, cuda_check.h.
#include "shared/engine/cuda/device_buffer.h"

#include <string>
#include <utility>

#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::engine::cuda {
namespace {

Status check_range(std::size_t offset, std::size_t bytes, std::size_t size) {
  if (offset > size || bytes > size - offset) {
    return out_of_range("device copy of " + std::to_string(bytes) + " bytes at offset " +
                        std::to_string(offset) + " exceeds the buffer's " + std::to_string(size) +
                        " bytes");
  }
  return Status::ok();
}

}  // namespace

Result<DeviceBuffer> DeviceBuffer::allocate(std::size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMalloc(&b.ptr_, bytes));
  b.bytes_ = bytes;
  return b;
}

DeviceBuffer::~DeviceBuffer() { reset(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (ptr_ != nullptr) {
    const cudaError_t err = cudaFree(ptr_);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaFree(ptr_)", __FILE__, __LINE__);
    }
    ptr_ = nullptr;
    bytes_ = 0;
  }
}

Status DeviceBuffer::copy_from_host(const void* src, std::size_t bytes, cudaStream_t stream,
                                    std::size_t offset) {
  PARLEY_RETURN_IF_ERROR(check_range(offset, bytes, bytes_));
  if (bytes == 0) return Status::ok();
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(static_cast<char*>(ptr_) + offset, src, bytes,
                                              cudaMemcpyHostToDevice, stream));
  return Status::ok();
}

Status DeviceBuffer::copy_to_host(void* dst, std::size_t bytes, cudaStream_t stream,
                                  std::size_t offset) const {
  PARLEY_RETURN_IF_ERROR(check_range(offset, bytes, bytes_));
  if (bytes == 0) return Status::ok();
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, static_cast<const char*>(ptr_) + offset, bytes,
                                              cudaMemcpyDeviceToHost, stream));
  return Status::ok();
}

Status DeviceBuffer::zero(cudaStream_t stream) {
  if (bytes_ == 0) return Status::ok();
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(ptr_, 0, bytes_, stream));
  return Status::ok();
}

Result<PinnedHostBuffer> PinnedHostBuffer::allocate(std::size_t bytes) {
  PinnedHostBuffer b;
  if (bytes == 0) return b;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaMallocHost(&b.ptr_, bytes));
  b.bytes_ = bytes;
  return b;
}

PinnedHostBuffer::~PinnedHostBuffer() { reset(); }

PinnedHostBuffer::PinnedHostBuffer(PinnedHostBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedHostBuffer& PinnedHostBuffer::operator=(PinnedHostBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void PinnedHostBuffer::reset() {
  if (ptr_ != nullptr) {
    const cudaError_t err = cudaFreeHost(ptr_);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaFreeHost(ptr_)", __FILE__, __LINE__);
    }
    ptr_ = nullptr;
    bytes_ = 0;
  }
}

}  // namespace parley::engine::cuda
