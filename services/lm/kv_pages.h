// KvPageAllocator: hands out the fixed pool of KV-cache pages to sequences (block tables).
// Why: continuous batching needs memory per sequence that grows token by token and comes back
// the moment a sequence ends or is cancelled; fixed-size pages avoid fragmentation (vLLM-style).
// Depends on shared/common.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace parley::lm {

using PageId = std::int32_t;

/// The page ids holding one sequence's positions: position p lives in page table[p / page_size].
using BlockTable = std::vector<PageId>;

/// A fixed pool of `num_pages` pages of `page_size` token positions each.
///
///   KvPageAllocator pages(/*num_pages=*/256, /*page_size=*/16);
///   BlockTable table;
///   if (!pages.reserve(table, prompt_len + 1)) { /* wait: not enough free pages */ }
///   ...                                         // grow as tokens are generated
///   pages.release(table);                       // on finish / cancel: every page back at once
///
/// Threading: reserve/release belong to one thread (the engine loop); pages_used()/pages_free()
/// may be read from any thread (metrics scrapes).
class KvPageAllocator {
 public:
  KvPageAllocator(std::int64_t num_pages, std::int64_t page_size);

  std::int64_t num_pages() const { return num_pages_; }
  std::int64_t page_size() const { return page_size_; }
  std::int64_t pages_used() const { return used_.load(std::memory_order_relaxed); }
  std::int64_t pages_free() const { return num_pages_ - pages_used(); }

  /// Pages needed to hold `tokens` positions.
  std::int64_t pages_for(std::int64_t tokens) const;
  /// Pages `table` must still get to hold `tokens` positions (0 when it already does).
  std::int64_t pages_missing(const BlockTable& table, std::int64_t tokens) const;

  /// Grows `table` so it holds `tokens` positions. All or nothing: false (table unchanged) when
  /// the pool has too few free pages.
  bool reserve(BlockTable& table, std::int64_t tokens);
  /// Returns every page of `table` to the pool and clears it. A page that is not in use (double
  /// release, foreign id) is a PARLEY_BUG and is skipped.
  void release(BlockTable& table);

 private:
  std::int64_t num_pages_;
  std::int64_t page_size_;
  std::vector<PageId> free_;        // stack: recently freed pages are reused first (warm)
  std::vector<std::uint8_t> in_use_;
  std::atomic<std::int64_t> used_{0};
};

}  // namespace parley::lm
