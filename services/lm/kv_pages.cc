// KvPageAllocator implementation (see kv_pages.h).
// Why a free stack: O(1) reserve/release, and the most recently freed (cache-warm) pages go first.
// Depends on shared/common/check.h.
#include "services/lm/kv_pages.h"

#include <algorithm>

#include "shared/common/check.h"

namespace parley::lm {

KvPageAllocator::KvPageAllocator(std::int64_t num_pages, std::int64_t page_size)
    : num_pages_(std::max<std::int64_t>(num_pages, 0)), page_size_(std::max<std::int64_t>(page_size, 1)) {
  free_.reserve(static_cast<std::size_t>(num_pages_));
  for (std::int64_t p = num_pages_ - 1; p >= 0; --p) free_.push_back(static_cast<PageId>(p));
  in_use_.assign(static_cast<std::size_t>(num_pages_), 0);
}

std::int64_t KvPageAllocator::pages_for(std::int64_t tokens) const {
  return tokens <= 0 ? 0 : (tokens + page_size_ - 1) / page_size_;
}

std::int64_t KvPageAllocator::pages_missing(const BlockTable& table, std::int64_t tokens) const {
  return std::max<std::int64_t>(0, pages_for(tokens) - static_cast<std::int64_t>(table.size()));
}

bool KvPageAllocator::reserve(BlockTable& table, std::int64_t tokens) {
  const std::int64_t missing = pages_missing(table, tokens);
  if (missing == 0) return true;
  if (missing > static_cast<std::int64_t>(free_.size())) return false;
  for (std::int64_t i = 0; i < missing; ++i) {
    const PageId p = free_.back();
    free_.pop_back();
    in_use_[static_cast<std::size_t>(p)] = 1;
    table.push_back(p);
  }
  used_.fetch_add(missing, std::memory_order_relaxed);
  return true;
}

void KvPageAllocator::release(BlockTable& table) {
  std::int64_t released = 0;
  for (PageId p : table) {
    if (p < 0 || p >= num_pages_ || in_use_[static_cast<std::size_t>(p)] == 0) {
      PARLEY_BUG() << "KV page " << p << " released but not in use";
      continue;
    }
    in_use_[static_cast<std::size_t>(p)] = 0;
    free_.push_back(p);
    ++released;
  }
  table.clear();
  used_.fetch_sub(released, std::memory_order_relaxed);
}

}  // namespace parley::lm
