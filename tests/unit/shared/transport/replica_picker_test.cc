// LeastLoadedPicker: the routing policy on plain Replica records (no sockets, deterministic).
// Depends on shared/transport/replica_picker.h, GoogleTest.
#include "shared/transport/replica_picker.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

namespace parley::transport::detail {
namespace {

std::vector<std::unique_ptr<Replica>> live_replicas(int n) {
  std::vector<std::unique_ptr<Replica>> out;
  for (int i = 0; i < n; ++i) {
    auto r = std::make_unique<Replica>();
    r->serial = static_cast<std::uint64_t>(i + 1);
    r->endpoint = "tcp://10.0.0." + std::to_string(i + 1) + ":7101";
    r->health.live = true;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(ReplicaPickerTest, NoneWhenNoReplicaAcceptsCalls) {
  LeastLoadedPicker picker;
  EXPECT_EQ(picker.pick({}, {}), nullptr);
  auto rs = live_replicas(3);
  rs[0]->health.live = false;
  rs[1]->retired = true;
  rs[2]->load.draining = true;
  EXPECT_EQ(picker.pick(rs, {}), nullptr);
}

TEST(ReplicaPickerTest, EqualLoadRotatesRoundRobin) {
  LeastLoadedPicker picker;
  auto rs = live_replicas(3);
  std::map<Replica*, int> picks;
  for (int i = 0; i < 300; ++i) ++picks[picker.pick(rs, {})];
  ASSERT_EQ(picks.size(), 3u);
  for (auto& [r, n] : picks) EXPECT_EQ(n, 100) << r->endpoint;
}

TEST(ReplicaPickerTest, LowestScoreWins) {
  LeastLoadedPicker picker;
  auto rs = live_replicas(3);
  rs[0]->in_flight = 2;            // our own calls
  rs[1]->load.in_flight = 1;       // reported by the replica (all clients)
  rs[1]->load.queue_depth = 0;
  rs[2]->load.queue_depth = 5;
  EXPECT_EQ(LeastLoadedPicker::score(*rs[0]), 2);
  EXPECT_EQ(LeastLoadedPicker::score(*rs[1]), 1);
  EXPECT_EQ(LeastLoadedPicker::score(*rs[2]), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(picker.pick(rs, {}), rs[1].get());
}

TEST(ReplicaPickerTest, ReplicaAtCapacityGoesLast) {
  LeastLoadedPicker picker;
  auto rs = live_replicas(2);
  rs[0]->load = Load{0, 8, 8, false};  // queue full
  rs[1]->in_flight = 50;               // busy with our calls, but has room
  EXPECT_EQ(picker.pick(rs, {}), rs[1].get());
  rs[1]->health.live = false;
  EXPECT_EQ(picker.pick(rs, {}), rs[0].get()) << "a full replica is still better than none";
}

TEST(ReplicaPickerTest, RetryPrefersAReplicaNotTriedEvenIfBusier) {
  LeastLoadedPicker picker;
  auto rs = live_replicas(2);
  rs[1]->in_flight = 10;
  TriedReplicas tried;
  tried.add(rs[0]->serial);
  EXPECT_EQ(picker.pick(rs, tried), rs[1].get());
  tried.add(rs[1]->serial);
  EXPECT_EQ(picker.pick(rs, tried), rs[0].get()) << "all tried: back to the least loaded";
}

TEST(ReplicaPickerTest, SkipExcludesReplicasThatRefusedTheSend) {
  LeastLoadedPicker picker;
  auto rs = live_replicas(2);
  Replica* refused[] = {rs[0].get()};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(picker.pick(rs, {}, refused), rs[1].get());
  Replica* both[] = {rs[0].get(), rs[1].get()};
  EXPECT_EQ(picker.pick(rs, {}, both), nullptr);
}

TEST(ReplicaPickerTest, TriedRemembersTheLastFourReplicas) {
  TriedReplicas tried;
  for (std::uint64_t s = 1; s <= 5; ++s) tried.add(s);
  EXPECT_FALSE(tried.contains(1)) << "the oldest fell out";
  for (std::uint64_t s = 2; s <= 5; ++s) EXPECT_TRUE(tried.contains(s));
}

}  // namespace
}  // namespace parley::transport::detail
