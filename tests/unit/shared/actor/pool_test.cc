// ActorPool: least-depth routing, the total capacity bound, aggregated stats, ask through a pool,
// stopped members.
#include "shared/actor/actor_pool.h"

#include <gtest/gtest.h>

#include "tests/unit/shared/actor/test_actors.h"

namespace parley::actor::testing {
namespace {

using PoolTest = ManualSystemTest;

TEST_F(PoolTest, SpreadsByDepth) {
  auto pool = system_.spawn_pool<Counter>({.name = "w", .size = 3, .total_capacity = 30}, probe_);
  ex_.run_all();
  ASSERT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.member(1).name(), "w/1");
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(pool.tell(Inc{}).is_ok());
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(pool.member(i).stats().depth, 2) << i;
}

TEST_F(PoolTest, PrefersTheLeastLoadedMember) {
  auto pool = system_.spawn_pool<Counter>({.name = "w", .size = 3, .total_capacity = 30}, probe_);
  ex_.run_all();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.member(0).tell(Inc{}).is_ok());
  ASSERT_TRUE(pool.member(2).tell(Inc{}).is_ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.tell(Inc{}).is_ok());
  EXPECT_EQ(pool.member(0).stats().depth, 4);
  EXPECT_EQ(pool.member(1).stats().depth, 2);
  EXPECT_EQ(pool.member(2).stats().depth, 2);
}

TEST_F(PoolTest, TotalCapacityIsEnforcedAndCounted) {
  auto pool = system_.spawn_pool<Counter>({.name = "w", .size = 2, .total_capacity = 5}, probe_);
  ex_.run_all();
  EXPECT_EQ(pool.capacity(), 5u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.tell(Inc{}).is_ok()) << i;
  Status full = pool.tell(Inc{});
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  Answers answers;
  ask<int>(pool, make_get(), std::chrono::seconds(1), answers.callback());
  ASSERT_EQ(answers.count(), 1u);
  EXPECT_EQ(answers.code(0), StatusCode::kResourceExhausted);

  ActorStatsSnapshot s = pool.stats();
  EXPECT_EQ(s.enqueued, 5u);
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_EQ(s.depth, 5);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(pool.member(i).stats().rejected, 0u);  // counted once, by the pool

  ex_.run_all();
  EXPECT_EQ(pool.stats().processed, 5u);
  EXPECT_EQ(pool.stats().depth, 0);
  EXPECT_TRUE(pool.tell(Inc{}).is_ok());
}

TEST_F(PoolTest, AskThroughThePool) {
  auto pool = system_.spawn_pool<Counter>({.name = "w", .size = 2, .total_capacity = 8}, probe_);
  Answers answers;
  ask<int>(pool, make_get(), std::chrono::seconds(1), answers.callback());
  ask<int>(pool, make_get(), std::chrono::seconds(1), answers.callback());
  ex_.run_all();
  ASSERT_EQ(answers.count(), 2u);
  EXPECT_EQ(answers.value(0), 0);
  EXPECT_EQ(answers.value(1), 0);
  EXPECT_EQ(pool.member(0).stats().processed, 1u);
  EXPECT_EQ(pool.member(1).stats().processed, 1u);
}

TEST_F(PoolTest, StoppedMembersAreSkipped) {
  auto pool = system_.spawn_pool<Counter>({.name = "w", .size = 2, .total_capacity = 8}, probe_);
  ex_.run_all();
  pool.member(0).stop();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.tell(Inc{}).is_ok());
  EXPECT_EQ(pool.member(1).stats().depth, 3);
  pool.stop();
  EXPECT_EQ(pool.tell(Inc{}).code(), StatusCode::kUnavailable);
  EXPECT_EQ(ActorPool<CounterMsg>{}.tell(Inc{}).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley::actor::testing
