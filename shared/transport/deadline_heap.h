// Private to the transport: an intrusive min-heap of deadlines (binary heap over pointers, each
// item remembering its position). Exists so that arming and cancelling a call's deadline costs
// O(log n) and no allocation, where a std::multimap cost a node per call (issue 18).
// Depends on wire.h (Clock).
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "shared/transport/wire.h"

namespace parley::transport::detail {

/// What an item keeps for the heap (a member named `deadline_hook`).
struct DeadlineHook {
  static constexpr std::size_t kNotQueued = std::numeric_limits<std::size_t>::max();
  Clock::time_point when{};
  std::size_t index = kNotQueued;
  bool queued() const { return index != kNotQueued; }
};

/// Min-heap by `T::deadline_hook.when`. Items are not owned; an item must be erased before it
/// is destroyed.
///
///   DeadlineHeap<Call> heap;  heap.push(&call, deadline);  heap.erase(&call);
///   while (!heap.empty() && heap.top()->deadline_hook.when <= now) expire(heap.pop());
///
/// Threading: one thread (the owning I/O thread).
template <typename T>
class DeadlineHeap {
 public:
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  T* top() const { return items_.front(); }
  Clock::time_point earliest() const { return items_.front()->deadline_hook.when; }

  /// Queues `item` at `when` (re-queues it when already queued).
  void push(T* item, Clock::time_point when) {
    erase(item);
    item->deadline_hook.when = when;
    item->deadline_hook.index = items_.size();
    items_.push_back(item);
    sift_up(items_.size() - 1);
  }

  /// Removes `item`; no-op when it is not queued.
  void erase(T* item) {
    const std::size_t i = item->deadline_hook.index;
    if (i == DeadlineHook::kNotQueued) return;
    item->deadline_hook.index = DeadlineHook::kNotQueued;
    T* last = items_.back();
    items_.pop_back();
    if (i == items_.size()) return;  // it was the last one
    items_[i] = last;
    last->deadline_hook.index = i;
    sift_down(i);
    sift_up(last->deadline_hook.index);
  }

  /// Removes and returns the earliest item.
  T* pop() {
    T* item = items_.front();
    erase(item);
    return item;
  }

 private:
  bool before(std::size_t a, std::size_t b) const {
    return items_[a]->deadline_hook.when < items_[b]->deadline_hook.when;
  }
  void swap_at(std::size_t a, std::size_t b) {
    std::swap(items_[a], items_[b]);
    items_[a]->deadline_hook.index = a;
    items_[b]->deadline_hook.index = b;
  }
  void sift_up(std::size_t i) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(i, parent)) return;
      swap_at(i, parent);
      i = parent;
    }
  }
  void sift_down(std::size_t i) {
    for (;;) {
      const std::size_t l = 2 * i + 1, r = l + 1;
      std::size_t m = i;
      if (l < items_.size() && before(l, m)) m = l;
      if (r < items_.size() && before(r, m)) m = r;
      if (m == i) return;
      swap_at(i, m);
      i = m;
    }
  }

  std::vector<T*> items_;
};

}  // namespace parley::transport::detail
