// block_pool: objects made with std::allocate_shared and PoolAllocator reuse the blocks of
// objects freed before them, whichever thread freed them, and the pool keeps at most kMaxBlocks.
// Depends on shared/transport/block_pool.h, GoogleTest.
#include "shared/transport/block_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace parley::transport::detail {
namespace {

struct Big {  // like a ServerCall: too big for malloc's per-thread cache
  explicit Big(int v) : value(v) {}
  int value;
  std::array<char, 2048> payload{};
};

std::shared_ptr<Big> make(int v) { return std::allocate_shared<Big>(PoolAllocator<Big>(), v); }

TEST(BlockPoolTest, AFreedBlockIsReusedWhicheverThreadFreedIt) {
  std::shared_ptr<Big> a = make(1);
  const void* where = a.get();
  a.reset();
  std::shared_ptr<Big> b = make(2);
  EXPECT_EQ(b.get(), where) << "the freed block was not reused";
  EXPECT_EQ(b->value, 2);
  std::thread([moved = std::move(b)]() mutable { moved.reset(); }).join();  // the last owner is elsewhere
  std::shared_ptr<Big> c = make(3);
  EXPECT_EQ(c.get(), where) << "a block freed on another thread was not reused";
  EXPECT_EQ(c->value, 3);
}

TEST(BlockPoolTest, KeepsAtMostItsLimitAndHandsEachBlockOutOnce) {
  struct Tag {};  // a pool of its own
  BlockPool<Tag>& pool = BlockPool<Tag>::instance();
  std::vector<std::unique_ptr<Tag>> blocks;
  for (std::size_t i = 0; i < BlockPool<Tag>::kMaxBlocks + 5; ++i) blocks.push_back(std::make_unique<Tag>());
  std::size_t refused = 0;
  for (auto& b : blocks) {
    if (pool.give(b.get())) {
      b.release();  // the pool holds it now
    } else {
      ++refused;
    }
  }
  EXPECT_EQ(refused, 5u);
  EXPECT_EQ(pool.size(), BlockPool<Tag>::kMaxBlocks);
  std::set<Tag*> out;
  while (Tag* t = pool.take()) out.insert(t);
  EXPECT_EQ(out.size(), BlockPool<Tag>::kMaxBlocks) << "a block was handed out twice";
  EXPECT_EQ(pool.size(), 0u);
  for (Tag* t : out) delete t;
}

TEST(BlockPoolTest, LiveObjectsNeverShareABlock) {
  std::vector<std::shared_ptr<Big>> live;
  std::set<const void*> addresses;
  for (int i = 0; i < 300; ++i) {
    live.push_back(make(i));
    addresses.insert(live.back().get());
  }
  EXPECT_EQ(addresses.size(), live.size());
  for (int i = 0; i < 300; ++i) EXPECT_EQ(live[static_cast<std::size_t>(i)]->value, i);
}

}  // namespace
}  // namespace parley::transport::detail
