// Allocator interface, the CPU allocator, and Buffer (a ref-counted allocation).
// Why: tensors on different devices share one ownership model; the CUDA side plugs in a caching
// device pool and a pinned host allocator (shared/engine/cuda/) behind the same interface.
// Depends on device.h and shared/common/status.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "shared/common/status.h"
#include "shared/engine/device.h"

namespace parley::engine {

/// Counters every allocator reports (bytes).
struct AllocatorStats {
  std::uint64_t in_use = 0;        ///< bytes handed out and not yet returned
  std::uint64_t peak_in_use = 0;
  std::uint64_t reserved = 0;      ///< bytes held from the system (>= in_use for caching pools)
  std::uint64_t allocations = 0;   ///< number of successful allocate() calls
};

/// Hands out memory on one device. Implementations must be thread-safe: any thread may allocate
/// and free. Memory is returned with deallocate() using the same pointer and size.
class Allocator {
 public:
  virtual ~Allocator() = default;
  /// `bytes` may be 0 (returns a valid unique pointer or nullptr; deallocate accepts either).
  /// `alignment` is a power of two; implementations may align more.
  virtual Result<void*> allocate(std::size_t bytes, std::size_t alignment) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) = 0;
  virtual Device device() const = 0;
  virtual std::string_view name() const = 0;
  virtual AllocatorStats stats() const = 0;
};

/// Default alignment of CPU allocations: one cache line, enough for AVX-512 loads.
inline constexpr std::size_t kCpuAlignment = 64;

/// The process-wide CPU allocator (64-byte aligned, thread-safe, never destroyed).
Allocator& cpu_allocator();

/// The process-wide allocator for memory on `device`: cpu_allocator() for the CPU, the caching
/// device pool of CUDA device N (shared/engine/cuda) for cuda:N. UNAVAILABLE when the device does
/// not exist (no CUDA build, no such GPU). Its stats() are what `/metrics` reports as device memory.
Result<Allocator*> allocator_for(const Device& device);

namespace detail {
/// The CUDA device allocator of ordinal `device`, or nullptr: defined by shared/engine/cuda when
/// CUDA is built, else by cuda_probe_none.cc (always nullptr). Callers use allocator_for().
Allocator* cuda_allocator_or_null(int device);
}  // namespace detail

/// One allocation, freed when the last shared_ptr to it goes. Thread-safe ref-counting (shared_ptr);
/// the bytes themselves are not synchronized.
class Buffer {
 public:
  /// Allocates `bytes` from `alloc` (which must outlive the Buffer).
  static Result<std::shared_ptr<Buffer>> allocate(Allocator& alloc, std::size_t bytes,
                                                  std::size_t alignment = kCpuAlignment);
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  Device device() const { return alloc_->device(); }

 private:
  Buffer(Allocator* alloc, void* data, std::size_t size) : alloc_(alloc), data_(data), size_(size) {}
  Allocator* alloc_;
  void* data_;
  std::size_t size_;
};

}  // namespace parley::engine
