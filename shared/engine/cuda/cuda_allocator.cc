// CUDA allocators behind engine::Allocator: caching device pool per device, pinned host memory.
// Why: see cuda_allocator.h. Depends on cuda_allocator.h, cuda_device.h, cuda_check.h.
#include "shared/engine/cuda/cuda_allocator.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"
#include "shared/engine/cuda/cuda_device.h"

namespace parley::engine::cuda {
namespace {

constexpr std::size_t kMaxAlignment = 256;  // what cudaMalloc guarantees

class CudaDeviceAllocator final : public Allocator {
 public:
  explicit CudaDeviceAllocator(int device)
      : device_(device), pool_(make_cuda_raw_allocator(device)), name_("cuda:" + std::to_string(device)) {}

  Result<void*> allocate(std::size_t bytes, std::size_t alignment) override {
    if (alignment > kMaxAlignment || (alignment & (alignment - 1)) != 0) {
      return invalid_argument("CUDA allocator: alignment " + std::to_string(alignment) +
                              " is not a power of two <= 256");
    }
    if (device_ >= cuda_device_count()) {
      return unavailable("CUDA device " + std::to_string(device_) + " is not available");
    }
    PARLEY_ASSIGN_OR_RETURN(void* p, pool_.allocate(bytes, nullptr));
    if (p != nullptr) {
      ++allocations_;
    }
    return p;
  }
  void deallocate(void* ptr, std::size_t) override { pool_.deallocate(ptr); }
  Device device() const override { return Device::cuda(device_); }
  std::string_view name() const override { return name_; }
  AllocatorStats stats() const override {
    const PoolStats p = pool_.stats();
    AllocatorStats s;
    s.in_use = p.bytes_in_use;
    s.peak_in_use = p.peak_bytes_in_use;
    s.reserved = p.bytes_in_use + p.bytes_cached;
    s.allocations = allocations_.load();
    return s;
  }
  CachingDevicePool& pool() { return pool_; }

 private:
  int device_;
  CachingDevicePool pool_;
  std::string name_;
  std::atomic<std::uint64_t> allocations_{0};
};

class PinnedAllocator final : public Allocator {
 public:
  Result<void*> allocate(std::size_t bytes, std::size_t alignment) override {
    if (alignment > kMaxAlignment || (alignment & (alignment - 1)) != 0) {
      return invalid_argument("pinned allocator: alignment must be a power of two <= 256");
    }
    if (bytes == 0) return static_cast<void*>(nullptr);
    void* p = nullptr;
    PARLEY_CUDA_RETURN_IF_ERROR(cudaMallocHost(&p, bytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use += bytes;
    stats_.reserved += bytes;
    if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
    ++stats_.allocations;
    return p;
  }
  void deallocate(void* ptr, std::size_t bytes) override {
    if (ptr == nullptr) return;
    const cudaError_t err = cudaFreeHost(ptr);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaFreeHost(ptr)", __FILE__, __LINE__);
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use -= bytes;
    stats_.reserved -= bytes;
  }
  Device device() const override { return Device::cpu(); }
  std::string_view name() const override { return "cuda-pinned-host"; }
  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  mutable std::mutex mu_;
  AllocatorStats stats_;
};

CudaDeviceAllocator& device_allocator_impl(int device) {
  // Fixed-size table of lazily created allocators; never destroyed (tensors may outlive main).
  constexpr int kMaxDevices = 64;
  static std::mutex mu;
  static CudaDeviceAllocator* table[kMaxDevices] = {};
  PARLEY_CHECK(device >= 0 && device < kMaxDevices) << "CUDA device ordinal " << device << " out of range";
  std::lock_guard<std::mutex> lock(mu);
  if (table[device] == nullptr) table[device] = new CudaDeviceAllocator(device);
  return *table[device];
}

}  // namespace

Allocator& cuda_device_allocator(int device) { return device_allocator_impl(device); }

CachingDevicePool& cuda_device_pool(int device) { return device_allocator_impl(device).pool(); }

Allocator& pinned_host_allocator() {
  static auto* alloc = new PinnedAllocator();
  return *alloc;
}

}  // namespace parley::engine::cuda

namespace parley::engine::detail {

// allocator_for()'s hook (shared/engine/allocator.h).
Allocator* cuda_allocator_or_null(int device) {
  if (device < 0 || device >= cuda::cuda_device_count()) return nullptr;
  return &cuda::cuda_device_allocator(device);
}

}  // namespace parley::engine::detail
