// ReplicaLiveness: the client's liveness rules, driven with made-up times (no sockets, no sleeps).
// Depends on shared/transport/replica_liveness.h, GoogleTest.
#include "shared/transport/replica_liveness.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace parley::transport::detail {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1));

struct Fixture {
  explicit Fixture(int n, LivenessOptions o = {.ping_interval = 1000ms, .dead_after = 3000ms, .probe_interval = 50ms})
      : liveness(o) {
    for (int i = 0; i < n; ++i) {
      replicas.push_back(std::make_unique<Replica>());
      view.push_back(replicas.back().get());
    }
    liveness.start(kT0);
  }
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<Replica*> view;
  ReplicaLiveness liveness;
};

TEST(ReplicaLivenessTest, ProbesAtOnceThenEveryProbeIntervalWhileNotLive) {
  Fixture f(2);
  auto w = f.liveness.due(kT0, f.view);
  EXPECT_EQ(w.ping, (std::vector<std::size_t>{0, 1}));
  EXPECT_TRUE(w.died.empty());
  EXPECT_TRUE(w.retry_parked);
  EXPECT_EQ(f.liveness.next_due(/*all_live=*/false, false), kT0 + 50ms);
  // Not due yet: nothing.
  w = f.liveness.due(kT0 + 49ms, f.view);
  EXPECT_TRUE(w.ping.empty());
  EXPECT_FALSE(w.retry_parked);
  w = f.liveness.due(kT0 + 50ms, f.view);
  EXPECT_EQ(w.ping.size(), 2u);
}

TEST(ReplicaLivenessTest, FirstMessageMakesLiveAndProbesStopForIt) {
  Fixture f(2);
  (void)f.liveness.due(kT0, f.view);
  EXPECT_TRUE(f.liveness.heard(f.replicas[0]->health, kT0 + 1ms));
  EXPECT_FALSE(f.liveness.heard(f.replicas[0]->health, kT0 + 2ms)) << "already live";
  EXPECT_EQ(f.replicas[0]->health.last_heard, kT0 + 2ms);
  auto w = f.liveness.due(kT0 + 50ms, f.view);
  EXPECT_EQ(w.ping, std::vector<std::size_t>{1}) << "a probe goes only to the replica that is not live";
}

TEST(ReplicaLivenessTest, WhenAllAreLiveOnlyThePingTimerWakesTheLoop) {
  Fixture f(1);
  (void)f.liveness.due(kT0, f.view);
  f.liveness.heard(f.replicas[0]->health, kT0);
  EXPECT_EQ(f.liveness.next_due(/*all_live=*/true, /*calls_parked=*/false), kT0 + 1000ms);
  EXPECT_EQ(f.liveness.next_due(true, /*calls_parked=*/true), kT0 + 50ms) << "parked calls are retried each probe";
}

TEST(ReplicaLivenessTest, PingTickPingsEveryReplica) {
  Fixture f(3);
  (void)f.liveness.due(kT0, f.view);
  for (auto& r : f.replicas) f.liveness.heard(r->health, kT0 + 10ms);
  auto w = f.liveness.due(kT0 + 1000ms, f.view);
  EXPECT_EQ(w.ping, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_TRUE(w.died.empty());
  EXPECT_EQ(f.liveness.next_due(true, false), kT0 + 2000ms);
}

TEST(ReplicaLivenessTest, SilentLiveReplicaDiesAtThePingTickAfterDeadAfter) {
  Fixture f(2);
  (void)f.liveness.due(kT0, f.view);
  f.liveness.heard(f.replicas[0]->health, kT0);
  f.liveness.heard(f.replicas[1]->health, kT0);
  // Replica 1 keeps talking, replica 0 goes silent (a hung process).
  for (auto t : {1000ms, 2000ms}) {
    f.liveness.heard(f.replicas[1]->health, kT0 + t);
    auto w = f.liveness.due(kT0 + t, f.view);
    EXPECT_TRUE(w.died.empty()) << "silent for " << t.count() << " ms only";
  }
  f.liveness.heard(f.replicas[1]->health, kT0 + 3000ms);
  auto w = f.liveness.due(kT0 + 3000ms, f.view);
  EXPECT_TRUE(w.died.empty()) << "exactly dead_after is not beyond it";
  f.liveness.heard(f.replicas[1]->health, kT0 + 4000ms);
  w = f.liveness.due(kT0 + 4000ms, f.view);
  ASSERT_EQ(w.died.size(), 1u);
  EXPECT_EQ(w.died[0].first, 0u);
  EXPECT_EQ(w.died[0].second, 4000ms);
  EXPECT_FALSE(f.replicas[0]->live());
  EXPECT_TRUE(f.replicas[1]->live());
  EXPECT_EQ(w.ping, (std::vector<std::size_t>{0, 1})) << "the dead one is still pinged: its pong revives it";
  EXPECT_TRUE(f.liveness.heard(f.replicas[0]->health, kT0 + 4001ms));
}

TEST(ReplicaLivenessTest, DisconnectKillsOnlyALiveReplica) {
  Fixture f(1);
  EXPECT_FALSE(f.liveness.lost(f.replicas[0]->health)) << "not live: nothing to report";
  f.liveness.heard(f.replicas[0]->health, kT0);
  EXPECT_TRUE(f.liveness.lost(f.replicas[0]->health));
  EXPECT_FALSE(f.replicas[0]->live());
  EXPECT_FALSE(f.liveness.lost(f.replicas[0]->health));
}

TEST(ReplicaLivenessTest, ProbeAndPingDueTogetherPingOnce) {
  Fixture f(1, {.ping_interval = 100ms, .dead_after = 300ms, .probe_interval = 100ms});
  (void)f.liveness.due(kT0, f.view);
  auto w = f.liveness.due(kT0 + 100ms, f.view);
  EXPECT_EQ(w.ping, std::vector<std::size_t>{0});
}

}  // namespace
}  // namespace parley::transport::detail
