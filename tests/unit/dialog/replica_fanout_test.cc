// ReplicaFanout (services/dialog/engine/replica_fanout.h) against in-test fake NLU servers on the
// real transport: a put reaches every live replica; a replica that appears gets the catalog
// replayed and only then counts as in sync (what the shared client's filter reads); a replica
// the put never reached is out of sync, one that left loses its state; drop forgets an entry.
// Depends on services/dialog (parley_dialog_api), services/dialog/testing (fake services).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "parley/v1/nlu.pb.h"
#include "services/dialog/engine/replica_fanout.h"
#include "services/dialog/testing/fake_services.h"

namespace parley::dialog {
namespace {

using namespace std::chrono_literals;
using testing::FakeServiceServer;

transport::Envelope train(const std::string& bot) {
  v1::TrainRequest req;
  req.set_bot_id(bot);
  auto* intent = req.add_intents();
  intent->set_name("greet");
  intent->add_examples()->set_text("hello");
  transport::Envelope env;
  env.set_method("parley.v1.Nlu/Train");
  env.mutable_payload()->PackFrom(req);
  return env;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(ReplicaFanout, EveryReplicaGetsEveryEntryAndOnlyThenTakesTurns) {
  auto a = std::move(*FakeServiceServer::start("nlu"));
  // b's address is reserved: a server started there later is a replica that appears.
  auto b_probe = std::move(*FakeServiceServer::start("nlu"));
  const std::string b_endpoint = b_probe->endpoint();
  b_probe.reset();

  auto fanout = std::make_shared<ReplicaFanout>(ReplicaFanoutOptions{.name = "nlu", .poll_interval = 20ms});
  transport::ClientOptions co;
  co.targets = {a->endpoint(), b_endpoint};
  co.name = "nlu";
  co.replica_filter = [fanout](const std::string& ep) { return fanout->synced(ep); };
  auto client = std::move(*transport::Client::create(co));
  fanout->attach(client.get());
  ASSERT_TRUE(client->wait_for_live(1, 5s));

  auto r = fanout->put("demo", train("demo"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(a->calls.load(), 1);
  EXPECT_TRUE(fanout->synced(a->endpoint()));
  EXPECT_FALSE(fanout->synced(b_endpoint));

  // b appears: the catalog is replayed to it, then it is in sync.
  auto b = std::move(*FakeServiceServer::start("nlu", b_endpoint));
  ASSERT_TRUE(eventually([&] { return fanout->synced(b_endpoint); })) << "the new replica never got the catalog";
  EXPECT_EQ(b->calls.load(), 1);
  EXPECT_GE(fanout->replays(), 1u);

  // A new entry goes to both at once.
  ASSERT_TRUE(fanout->put("hotel", train("hotel"), 5s).ok());
  EXPECT_EQ(a->calls.load(), 2);
  EXPECT_EQ(b->calls.load(), 2);
  EXPECT_TRUE(fanout->synced(a->endpoint()) && fanout->synced(b_endpoint));

  // b goes away and comes back empty: it must get both entries again before it counts.
  b.reset();
  ASSERT_TRUE(eventually([&] { return !fanout->synced(b_endpoint); }));
  b = std::move(*FakeServiceServer::start("nlu", b_endpoint));
  ASSERT_TRUE(eventually([&] { return fanout->synced(b_endpoint); }));
  EXPECT_EQ(b->calls.load(), 2) << "demo and hotel replayed";

  // Drop: forgotten, and not replayed to later replicas.
  v1::DropBotRequest drop;
  drop.set_bot_id("hotel");
  transport::Envelope env;
  env.set_method("parley.v1.Nlu/DropBot");
  env.mutable_payload()->PackFrom(drop);
  EXPECT_TRUE(fanout->drop("hotel", env, 5s).is_ok());
  b.reset();
  ASSERT_TRUE(eventually([&] { return !fanout->synced(b_endpoint); }));
  b = std::move(*FakeServiceServer::start("nlu", b_endpoint));
  ASSERT_TRUE(eventually([&] { return fanout->synced(b_endpoint); }));
  EXPECT_EQ(b->calls.load(), 1) << "only demo replayed after hotel was dropped";
  fanout->stop();
}

TEST(ReplicaFanout, NoLiveReplicaIsUnavailableAndTheEntryWaitsInTheCatalog) {
  auto probe = std::move(*FakeServiceServer::start("nlu"));
  const std::string endpoint = probe->endpoint();
  probe.reset();
  auto fanout = std::make_shared<ReplicaFanout>(
      ReplicaFanoutOptions{.name = "nlu", .wait_for_replica = 100ms, .poll_interval = 20ms});
  transport::ClientOptions co;
  co.targets = {endpoint};
  auto client = std::move(*transport::Client::create(co));
  fanout->attach(client.get());
  auto r = fanout->put("demo", train("demo"), 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  auto s = std::move(*FakeServiceServer::start("nlu", endpoint));
  ASSERT_TRUE(eventually([&] { return s->calls.load() == 1; })) << "the entry was not replayed to the new replica";
  EXPECT_TRUE(fanout->synced(endpoint));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(s->calls.load(), 1) << "replayed more than once";
  fanout->stop();
}

TEST(ReplicaFanout, StopEndsAPutInFlightAtOnce) {
  // A replica that takes the call and never answers in time (it is shutting down, or hung): at
  // process shutdown the bot sync thread must not wait out the Train deadline (it once held
  // parley-dialog past its stop grace; services.sh check caught it).
  auto slow = std::move(*FakeServiceServer::start("nlu"));
  slow->delay_us = 3'000'000;
  auto fanout = std::make_shared<ReplicaFanout>(ReplicaFanoutOptions{.name = "nlu", .poll_interval = 20ms});
  transport::ClientOptions co;
  co.targets = {slow->endpoint()};
  auto client = std::move(*transport::Client::create(co));
  fanout->attach(client.get());
  ASSERT_TRUE(client->wait_for_live(1, 5s));
  Result<transport::Envelope> r = unavailable("not yet");
  std::thread caller([&] { r = fanout->put("demo", train("demo"), 60s); });
  // At least one Train in flight (the put's, and the sync thread may send the entry too). EXPECT,
  // not ASSERT: returning here would leave `caller` joinable and abort the whole binary.
  EXPECT_TRUE(eventually([&] { return slow->calls.load() >= 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  fanout->stop();
  caller.join();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, 1s) << "put() held the caller after stop()";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
  // Later calls fail the same way, without reaching a replica.
  auto later = fanout->put("hotel", train("hotel"), 60s);
  EXPECT_EQ(later.status().code(), StatusCode::kCancelled) << later.status().to_string();
  EXPECT_EQ(slow->calls.load(), 1);
}

}  // namespace
}  // namespace parley::dialog
