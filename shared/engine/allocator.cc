// The CPU allocator (aligned, counted) and Buffer.
// Why: CPU tensors need 64-byte alignment for vector loads and the stats feed device-memory
// metrics. Depends on allocator.h.
#include "shared/engine/allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

namespace parley::engine {
namespace {

class CpuAllocator final : public Allocator {
 public:
  Result<void*> allocate(std::size_t bytes, std::size_t alignment) override {
    if (alignment < kCpuAlignment) alignment = kCpuAlignment;
    if ((alignment & (alignment - 1)) != 0) {
      return invalid_argument("alignment " + std::to_string(alignment) + " is not a power of two");
    }
    // aligned_alloc needs a size that is a multiple of the alignment; 0 bytes still gets a
    // unique block so data() is never null for an allocated tensor.
    const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
    if (p == nullptr) {
      return resource_exhausted("CPU allocation of " + std::to_string(bytes) + " bytes failed");
    }
    const std::uint64_t now = in_use_.fetch_add(bytes) + bytes;
    std::uint64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    allocations_.fetch_add(1);
    return p;
  }
  void deallocate(void* ptr, std::size_t bytes) override {
    if (ptr == nullptr) return;
    std::free(ptr);
    in_use_.fetch_sub(bytes);
  }
  Device device() const override { return Device::cpu(); }
  std::string_view name() const override { return "cpu"; }
  AllocatorStats stats() const override {
    AllocatorStats s;
    s.in_use = in_use_.load();
    s.peak_in_use = peak_.load();
    s.reserved = s.in_use;
    s.allocations = allocations_.load();
    return s;
  }

 private:
  std::atomic<std::uint64_t> in_use_{0};
  std::atomic<std::uint64_t> peak_{0};
  std::atomic<std::uint64_t> allocations_{0};
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* alloc = new CpuAllocator();  // never destroyed: outlives static tensors
  return *alloc;
}

Result<Allocator*> allocator_for(const Device& device) {
  if (device.is_cpu()) return &cpu_allocator();
  if (device.index < 0 || device.index >= cuda_device_count()) {
    return unavailable("no allocator for " + device.to_string() + ": " + std::to_string(cuda_device_count()) +
                       " CUDA device(s) present");
  }
  Allocator* a = detail::cuda_allocator_or_null(device.index);
  if (a == nullptr) return unavailable("no allocator for " + device.to_string() + ": not built with CUDA");
  return a;
}

Result<std::shared_ptr<Buffer>> Buffer::allocate(Allocator& alloc, std::size_t bytes, std::size_t alignment) {
  Result<void*> p = alloc.allocate(bytes, alignment);
  if (!p.ok()) return p.status();
  return std::shared_ptr<Buffer>(new Buffer(&alloc, *p, bytes));
}

Buffer::~Buffer() { alloc_->deallocate(data_, size_); }

}  // namespace parley::engine
