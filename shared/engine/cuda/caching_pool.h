// A caching device-memory pool: size classes, per-stream free lists, statistics.
// Why: cudaMalloc/cudaFree synchronize the device and cost tens of microseconds; per-request
// activations and workspaces come from here instead. Depends on cudart, shared/common/status.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "shared/common/status.h"

namespace parley::engine::cuda {

/// Where the pool gets real memory from. The CUDA one wraps cudaMalloc/cudaFree on one device;
/// tests inject a host-memory fake so the caching logic runs without a GPU.
class RawDeviceAllocator {
 public:
  virtual ~RawDeviceAllocator() = default;
  /// RESOURCE_EXHAUSTED when the device is out of memory.
  virtual Result<void*> allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr) = 0;
  /// Waits for all queued work (before cached blocks are returned to the device).
  virtual void synchronize() {}
};

/// cudaMalloc / cudaFree on `device`.
std::unique_ptr<RawDeviceAllocator> make_cuda_raw_allocator(int device);

struct PoolOptions {
  /// Freed blocks beyond this many cached bytes go straight back to the device.
  std::size_t max_cached_bytes = std::size_t{8} << 30;
  /// A cached block serves a request only if it is at most this many times the request (large
  /// blocks), so a 1 GiB block is not pinned by a 2 MiB request.
  double max_reuse_ratio = 2.0;
};

struct PoolStats {
  std::size_t bytes_in_use = 0;     ///< handed out, not yet freed
  std::size_t bytes_cached = 0;     ///< held in free lists
  std::size_t peak_bytes_in_use = 0;
  std::uint64_t hits = 0;           ///< requests served from the cache
  std::uint64_t misses = 0;         ///< requests that went to the raw allocator
  std::uint64_t raw_allocations = 0;
  std::uint64_t raw_frees = 0;
  std::uint64_t oom_retries = 0;    ///< allocations that succeeded after emptying the cache
};

class CachingDevicePool;

/// A block from the pool, returned to it on destruction.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  ~PooledBuffer();
  PooledBuffer(PooledBuffer&& other) noexcept;
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return bytes_; }

 private:
  friend class CachingDevicePool;
  PooledBuffer(CachingDevicePool* pool, void* ptr, std::size_t bytes)
      : pool_(pool), ptr_(ptr), bytes_(bytes) {}
  void reset();
  CachingDevicePool* pool_ = nullptr;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Caching allocator in the style of PyTorch's: requests are rounded to a size class (512 B steps
/// below 1 MiB, 2 MiB steps above), freed blocks are kept per stream and reused by later requests
/// on the same stream (stream order makes that safe without events). On out-of-memory the cache
/// is emptied (after synchronizing) and the allocation retried once.
///
///   CachingDevicePool pool(make_cuda_raw_allocator(0));
///   PARLEY_ASSIGN_OR_RETURN(PooledBuffer tmp, pool.allocate_buffer(bytes, stream));
///   launch_x(..., tmp.as<float>(), stream);
///   // tmp returns to the pool here; the next request on `stream` may reuse it.
///
/// Threading: all methods are thread-safe (one mutex). Blocks freed while a kernel on their stream
/// still uses them are safe for reuse on that same stream only; to hand a block to another
/// stream, synchronize first. The pool must outlive its PooledBuffers.
class CachingDevicePool {
 public:
  explicit CachingDevicePool(std::unique_ptr<RawDeviceAllocator> raw, PoolOptions options = {});
  ~CachingDevicePool();
  CachingDevicePool(const CachingDevicePool&) = delete;
  CachingDevicePool& operator=(const CachingDevicePool&) = delete;

  /// The size class a request of `bytes` is served from (0 stays 0).
  static std::size_t round_size(std::size_t bytes);

  /// Raw form: returns a pointer to at least `bytes`; give it back with deallocate().
  /// 0 bytes → nullptr with OK.
  Result<void*> allocate(std::size_t bytes, cudaStream_t stream);
  /// Returns a block to the cache. A pointer not from this pool is a PARLEY_BUG (ignored).
  void deallocate(void* ptr);

  Result<PooledBuffer> allocate_buffer(std::size_t bytes, cudaStream_t stream);

  /// Synchronizes, then frees every cached block back to the device.
  void release_cached();
  PoolStats stats() const;

 private:
  struct Block {
    std::size_t size = 0;
    cudaStream_t stream = nullptr;
  };
  using FreeKey = std::pair<cudaStream_t, std::size_t>;

  void release_cached_locked();

  std::unique_ptr<RawDeviceAllocator> raw_;
  PoolOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;           // handed out
  std::multimap<FreeKey, void*> free_;              // (stream, size) → block
  PoolStats stats_;
};

}  // namespace parley::engine::cuda
