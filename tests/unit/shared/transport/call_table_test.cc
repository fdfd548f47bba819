// CallTable and DeadlineHeap: the client's call records (pooled, indexed by number) and the
// intrusive deadline heap, checked against std::map / std::multiset under random operations.
// Deterministic (fixed seeds, made-up times). Depends on call_table.h, deadline_heap.h, GoogleTest.
#include "shared/transport/call_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "shared/transport/client_core.h"
#include "shared/transport/deadline_heap.h"

namespace parley::transport::detail {
namespace {

using namespace std::chrono_literals;
const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1));

TEST(CallTableTest, OpenFindClose) {
  CallTable t;
  PendingCall* a = t.open(7);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->key, 7u);
  EXPECT_EQ(t.open(7), nullptr) << "a key in use is refused";
  EXPECT_EQ(t.find(7), a);
  EXPECT_EQ(t.find(8), nullptr);
  a->body = "request";
  a->attempts = 2;
  t.deadlines().push(a, kT0);
  t.close(a);
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(t.deadlines().empty()) << "closing drops the deadline";
  EXPECT_EQ(t.find(7), nullptr);
  PendingCall* b = t.open(8);
  EXPECT_EQ(b, a) << "records are reused";
  EXPECT_TRUE(b->body.empty()) << "and reset";
  EXPECT_EQ(b->attempts, 0);
  EXPECT_FALSE(b->deadline_hook.queued());
}

TEST(CallTableTest, RandomOperationsMatchAMap) {
  std::mt19937_64 rng(42);
  CallTable t;
  std::map<std::uint64_t, PendingCall*> ref;
  std::vector<std::uint64_t> open_keys;  // to close one at random in O(1)
  std::uint64_t next_key = 0;
  for (int step = 0; step < 100'000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5 || open_keys.empty()) {
      // Mostly consecutive keys (as the client makes them), sometimes far apart.
      const std::uint64_t key = (rng() % 8 == 0) ? rng() : next_key++;
      PendingCall* c = t.open(key);
      if (ref.count(key)) {
        EXPECT_EQ(c, nullptr);
      } else {
        ASSERT_NE(c, nullptr);
        ref[key] = c;
        open_keys.push_back(key);
      }
    } else if (op < 9) {
      const std::size_t i = rng() % open_keys.size();
      const std::uint64_t key = open_keys[i];
      open_keys[i] = open_keys.back();
      open_keys.pop_back();
      t.close(ref.at(key));
      ref.erase(key);
    } else {
      const std::uint64_t key = rng() % (next_key + 1);
      auto it = ref.find(key);
      EXPECT_EQ(t.find(key), it == ref.end() ? nullptr : it->second);
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  for (auto& [key, c] : ref) ASSERT_EQ(t.find(key), c) << key;
  EXPECT_EQ(t.all().size(), ref.size());
}

struct Item {
  int id = 0;
  DeadlineHook deadline_hook;
};

TEST(DeadlineHeapTest, PopsInDeadlineOrderAndErasesAnywhere) {
  std::mt19937 rng(3);
  std::vector<Item> items(500);
  DeadlineHeap<Item> heap;
  std::multiset<std::pair<Clock::time_point, int>> ref;
  for (int i = 0; i < 500; ++i) {
    items[i].id = i;
    const auto when = kT0 + std::chrono::milliseconds(rng() % 100);  // many equal deadlines
    heap.push(&items[i], when);
    ref.emplace(when, i);
  }
  // Erase a third at random (as calls end before their deadline), re-arm a few.
  for (int i = 0; i < 500; i += 3) {
    ref.erase({items[i].deadline_hook.when, i});
    heap.erase(&items[i]);
    EXPECT_FALSE(items[i].deadline_hook.queued());
    heap.erase(&items[i]);  // twice is harmless
  }
  for (int i = 1; i < 500; i += 7) {
    ref.erase({items[i].deadline_hook.when, i});
    const auto when = kT0 + std::chrono::milliseconds(rng() % 100);
    heap.push(&items[i], when);
    ref.emplace(when, i);
  }
  ASSERT_EQ(heap.size(), ref.size());
  Clock::time_point last{};
  while (!heap.empty()) {
    const auto when = heap.earliest();
    Item* item = heap.pop();
    EXPECT_GE(when, last);
    last = when;
    EXPECT_EQ(ref.erase({when, item->id}), 1u);
  }
  EXPECT_TRUE(ref.empty());
}

}  // namespace
}  // namespace parley::transport::detail
