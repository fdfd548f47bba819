// Private to the transport: an allocator that keeps freed blocks of one type for reuse, for
// std::allocate_shared. Exists because the server makes one ServerCall per request (2.4 KiB with
// its inline arena block: too big for glibc's per-thread cache, so every call took malloc's slow
// path twice, ~10 % of the server loop's instructions per pipelined request; issue 18).
// Depends on nothing but the standard library.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace parley::transport::detail {

/// Freed blocks of T, shared by the whole process (a block may be freed on any thread: the last
/// owner of a ServerCall is often a service's worker). At most kMaxBlocks are kept; the rest go
/// back to the heap. Never destroyed (blocks freed during static destruction still find it).
template <typename T>
class BlockPool {
 public:
  static constexpr std::size_t kMaxBlocks = 256;

  static BlockPool& instance() {
    static BlockPool* pool = new BlockPool();  // leaked on purpose, see above
    return *pool;
  }
  T* take() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return nullptr;
    T* p = free_.back();
    free_.pop_back();
    return p;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return free_.size();
  }
  /// False when the pool is full (the caller frees the block).
  bool give(T* p) {
    std::lock_guard lock(mu_);
    if (free_.size() >= kMaxBlocks) return false;
    free_.push_back(p);
    return true;
  }

 private:
  BlockPool() { free_.reserve(kMaxBlocks); }
  std::mutex mu_;
  std::vector<T*> free_;
};

/// std::allocate_shared<X>(PoolAllocator<X>(), ...) puts the object and its control block in a
/// pooled block (the pool is per rebound type, i.e. per control block type).
template <typename T>
class PoolAllocator {
 public:
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT(google-explicit-constructor): rebinding

  T* allocate(std::size_t n) {
    if (n == 1) {
      if (T* p = BlockPool<T>::instance().take()) return p;
    }
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) {
    if (n == 1 && BlockPool<T>::instance().give(p)) return;
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const PoolAllocator<U>&) const {
    return true;
  }
};

}  // namespace parley::transport::detail
