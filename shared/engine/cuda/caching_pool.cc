// CachingDevicePool: size-class rounding, per-stream best-fit reuse, OOM retry, statistics.
// Why: see caching_pool.h. Depends on caching_pool.h, cuda_check.h, shared/common.
#include "shared/engine/cuda/caching_pool.h"

#include <string>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::engine::cuda {
namespace {

constexpr std::size_t kSmallStep = 512;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
constexpr std::size_t kLargeStep = std::size_t{2} << 20;

std::size_t round_up(std::size_t v, std::size_t step) { return (v + step - 1) / step * step; }

class CudaRawAllocator final : public RawDeviceAllocator {
 public:
  explicit CudaRawAllocator(int device) : device_(device) {}
  Result<void*> allocate(std::size_t bytes) override {
    PARLEY_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    void* p = nullptr;
    PARLEY_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, bytes));
    return p;
  }
  void deallocate(void* ptr) override {
    const cudaError_t err = cudaFree(ptr);
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaFree(ptr)", __FILE__, __LINE__);
    }
  }
  void synchronize() override {
    const cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      PARLEY_LOG(kWarn) << cuda_error_text(err, "cudaDeviceSynchronize()", __FILE__, __LINE__);
    }
  }

 private:
  int device_;
};

}  // namespace

std::unique_ptr<RawDeviceAllocator> make_cuda_raw_allocator(int device) {
  return std::make_unique<CudaRawAllocator>(device);
}

PooledBuffer::~PooledBuffer() { reset(); }

PooledBuffer::PooledBuffer(PooledBuffer&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      ptr_(std::exchange(other.ptr_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = std::exchange(other.pool_, nullptr);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void PooledBuffer::reset() {
  if (pool_ != nullptr && ptr_ != nullptr) pool_->deallocate(ptr_);
  pool_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

CachingDevicePool::CachingDevicePool(std::unique_ptr<RawDeviceAllocator> raw, PoolOptions options)
    : raw_(std::move(raw)), options_(options) {
  PARLEY_CHECK(raw_ != nullptr) << "CachingDevicePool needs a raw allocator";
}

CachingDevicePool::~CachingDevicePool() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_.empty()) {
    PARLEY_BUG() << "CachingDevicePool destroyed with " << live_.size() << " blocks in use";
  }
  release_cached_locked();
}

std::size_t CachingDevicePool::round_size(std::size_t bytes) {
  if (bytes == 0) return 0;
  if (bytes < kSmallLimit) return round_up(bytes, kSmallStep);
  return round_up(bytes, kLargeStep);
}

Result<void*> CachingDevicePool::allocate(std::size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return static_cast<void*>(nullptr);
  const std::size_t size = round_size(bytes);
  if (size < bytes) return invalid_argument("allocation of " + std::to_string(bytes) + " bytes overflows");
  std::lock_guard<std::mutex> lock(mu_);

  // Best fit among this stream's cached blocks of at least `size`.
  auto it = free_.lower_bound(FreeKey{stream, size});
  if (it != free_.end() && it->first.first == stream) {
    const std::size_t cached = it->first.second;
    const bool small = size < kSmallLimit;
    const bool fits_small = small && cached < kSmallLimit;
    const bool fits_large = !small && static_cast<double>(cached) <=
                                          options_.max_reuse_ratio * static_cast<double>(size);
    if (fits_small || fits_large) {
      void* p = it->second;
      free_.erase(it);
      live_[p] = Block{cached, stream};
      stats_.bytes_cached -= cached;
      stats_.bytes_in_use += cached;
      if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
      ++stats_.hits;
      return p;
    }
  }

  ++stats_.misses;
  Result<void*> raw = raw_->allocate(size);
  if (!raw.ok() && raw.status().code() == StatusCode::kResourceExhausted && !free_.empty()) {
    release_cached_locked();
    ++stats_.oom_retries;
    raw = raw_->allocate(size);
  }
  if (!raw.ok()) return raw.status();
  ++stats_.raw_allocations;
  live_[*raw] = Block{size, stream};
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return *raw;
}

void CachingDevicePool::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) {
    PARLEY_BUG() << "CachingDevicePool::deallocate of a pointer it did not hand out";
    return;
  }
  const Block block = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= block.size;
  if (stats_.bytes_cached + block.size > options_.max_cached_bytes) {
    // Another stream may still be reading it only if the caller broke the contract; the raw
    // allocator's cudaFree synchronizes implicitly anyway.
    raw_->deallocate(ptr);
    ++stats_.raw_frees;
    return;
  }
  free_.emplace(FreeKey{block.stream, block.size}, ptr);
  stats_.bytes_cached += block.size;
}

Result<PooledBuffer> CachingDevicePool::allocate_buffer(std::size_t bytes, cudaStream_t stream) {
  PARLEY_ASSIGN_OR_RETURN(void* p, allocate(bytes, stream));
  return PooledBuffer(this, p, p == nullptr ? 0 : bytes);
}

void CachingDevicePool::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void CachingDevicePool::release_cached_locked() {
  if (free_.empty()) return;
  raw_->synchronize();
  for (auto& [key, ptr] : free_) {
    raw_->deallocate(ptr);
    ++stats_.raw_frees;
  }
  free_.clear();
  stats_.bytes_cached = 0;
}

PoolStats CachingDevicePool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace parley::engine::cuda
