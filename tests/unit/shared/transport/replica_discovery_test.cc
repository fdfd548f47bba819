// Replica discovery: the reconciliation of a resolution with the known replicas (pure), and one
// resolution pass with a fake resolver (resolve_once, no thread, no sleeps); the thread itself
// only once, woken by refresh().
// Depends on shared/transport/replica_discovery.h, GoogleTest.
#include "shared/transport/replica_discovery.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace parley::transport::detail {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Replica> replica(std::string endpoint, std::string target, bool retired = false) {
  auto r = std::make_unique<Replica>();
  r->endpoint = std::move(endpoint);
  r->target = std::move(target);
  r->retired = retired;
  return r;
}

const std::string kTarget = "dns://nlu-headless:7101";

TEST(ReplicaDiscoveryTest, NewEndpointsAreAddedVanishedOnesRetired) {
  std::vector<std::unique_ptr<Replica>> rs;
  rs.push_back(replica("tcp://10.0.0.1:7101", kTarget));
  rs.push_back(replica("tcp://10.0.0.2:7101", kTarget));
  Reconciliation c = reconcile(rs, kTarget, {"tcp://10.0.0.2:7101", "tcp://10.0.0.3:7101"});
  EXPECT_EQ(c.add, std::vector<std::string>{"tcp://10.0.0.3:7101"});
  ASSERT_EQ(c.retire.size(), 1u);
  EXPECT_EQ(c.retire[0], rs[0].get());
}

TEST(ReplicaDiscoveryTest, RetiredEndpointThatComesBackIsAddedAgain) {
  std::vector<std::unique_ptr<Replica>> rs;
  rs.push_back(replica("tcp://10.0.0.1:7101", kTarget, /*retired=*/true));
  Reconciliation c = reconcile(rs, kTarget, {"tcp://10.0.0.1:7101"});
  EXPECT_EQ(c.add, std::vector<std::string>{"tcp://10.0.0.1:7101"});
  EXPECT_TRUE(c.retire.empty()) << "already retired";
}

TEST(ReplicaDiscoveryTest, OtherTargetsAndDuplicatesAreLeftAlone) {
  std::vector<std::unique_ptr<Replica>> rs;
  rs.push_back(replica("tcp://10.0.0.1:7101", "tcp://10.0.0.1:7101"));  // a static target
  rs.push_back(replica("tcp://10.0.0.9:7101", "dns://other:7101"));
  Reconciliation c = reconcile(rs, kTarget, {"tcp://10.0.0.1:7101", "tcp://10.0.0.1:7101"});
  EXPECT_TRUE(c.add.empty()) << "known under another target: one replica per endpoint";
  EXPECT_TRUE(c.retire.empty()) << "replicas of other targets are not this resolution's business";
}

TEST(ReplicaDiscoveryTest, EmptyResolutionRetiresEveryReplicaOfTheTarget) {
  std::vector<std::unique_ptr<Replica>> rs;
  rs.push_back(replica("tcp://10.0.0.1:7101", kTarget));
  rs.push_back(replica("tcp://10.0.0.2:7101", kTarget));
  EXPECT_EQ(reconcile(rs, kTarget, {}).retire.size(), 2u);
}

struct Reports {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::vector<std::string>>> got;
  ReplicaDiscovery::OnResolved callback() {
    return [this](std::string target, std::vector<std::string> eps) {
      {
        std::lock_guard lock(mu);
        got.emplace_back(std::move(target), std::move(eps));
      }
      cv.notify_all();
    };
  }
};

TEST(ReplicaDiscoveryTest, ResolveOnceReportsSuccessesAndKeepsQuietOnFailures) {
  Reports reports;
  int calls = 0;
  Resolver resolver = [&](const std::string& target) -> Result<std::vector<std::string>> {
    ++calls;
    if (target == "dns://broken:1") return unavailable("SERVFAIL");
    if (target == "dns://throws:1") throw std::runtime_error("resolver bug");
    return std::vector<std::string>{"tcp://10.0.0.1:7101"};
  };
  ReplicaDiscovery d("nlu", {kTarget, "dns://broken:1", "dns://throws:1"}, resolver, 5s, reports.callback());
  d.resolve_once();
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(reports.got.size(), 1u) << "a failed resolution reports nothing: the known set stays";
  EXPECT_EQ(reports.got[0].first, kTarget);
  EXPECT_EQ(reports.got[0].second, std::vector<std::string>{"tcp://10.0.0.1:7101"});
}

TEST(ReplicaDiscoveryTest, ThreadResolvesAtStartAndOnRefresh) {
  Reports reports;
  ReplicaDiscovery d("nlu", {kTarget}, [](const std::string&) -> Result<std::vector<std::string>> {
    return std::vector<std::string>{"tcp://10.0.0.1:7101"};
  }, std::chrono::hours(1), reports.callback());
  d.start(nullptr);
  {
    std::unique_lock lock(reports.mu);
    ASSERT_TRUE(reports.cv.wait_for(lock, 10s, [&] { return reports.got.size() == 1; }));
  }
  d.refresh();  // the interval is an hour: only refresh() can cause the second pass
  {
    std::unique_lock lock(reports.mu);
    ASSERT_TRUE(reports.cv.wait_for(lock, 10s, [&] { return reports.got.size() == 2; }));
  }
  d.stop();
}

TEST(ReplicaDiscoveryTest, NoTargetsNoThread) {
  Reports reports;
  ReplicaDiscovery d("echo", {}, nullptr, 1s, reports.callback());
  EXPECT_FALSE(d.has_targets());
  d.start(nullptr);
  d.refresh();
  d.stop();
  EXPECT_TRUE(reports.got.empty());
}

}  // namespace
}  // namespace parley::transport::detail
