// ReplicaFanout (services/dialog/engine/replica_fanout.h) against in-test fake NLU servers on the
// real transport: a put reaches every live replica; a replica that appears gets the catalog
// replayed and only then counts as in sync (what the shared client's filter reads); a replica
// the put never reached is out of sync, one that left loses its state; drop forgets an entry;
// ask_each hears from every live replica by its deadline without recording anything.
// Depends on services/dialog (parley_dialog_api), services/dialog/testing (fake services).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
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

transport::Envelope training_status(const std::string& bot) {
  v1::TrainingStatusRequest req;
  req.set_bot_id(bot);
  transport::Envelope env;
  env.set_method("parley.v1.Nlu/TrainingStatus");
  env.mutable_payload()->PackFrom(req);
  return env;
}

std::vector<ReplicaFanout::ReplicaReply> ask(ReplicaFanout& fanout, const transport::Envelope& request,
                                             std::chrono::milliseconds within) {
  auto p = std::make_shared<std::promise<std::vector<ReplicaFanout::ReplicaReply>>>();
  auto f = p->get_future();
  fanout.ask_each(request, std::chrono::steady_clock::now() + within,
                  [p](std::vector<ReplicaFanout::ReplicaReply> r) { p->set_value(std::move(r)); });
  EXPECT_EQ(f.wait_for(within + 2s), std::future_status::ready) << "ask_each never finished";
  return f.get();
}

TEST(ReplicaFanout, AskEachHearsFromEveryLiveReplicaByItsDeadline) {
  auto a = std::move(*FakeServiceServer::start("nlu"));
  auto b = std::move(*FakeServiceServer::start("nlu"));
  auto fanout = std::make_shared<ReplicaFanout>(ReplicaFanoutOptions{.name = "nlu", .poll_interval = 20ms});
  transport::ClientOptions co;
  co.targets = {a->endpoint(), b->endpoint()};
  auto client = std::move(*transport::Client::create(co));
  fanout->attach(client.get());
  ASSERT_TRUE(client->wait_for_live(2, 5s));
  ASSERT_TRUE(fanout->put("demo", train("demo"), 5s).ok());
  const int puts = a->calls.load();

  auto replies = ask(*fanout, training_status("demo"), 5s);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::min(a->endpoint(), b->endpoint()), replies[0].endpoint) << "in endpoint order";
  EXPECT_EQ(std::max(a->endpoint(), b->endpoint()), replies[1].endpoint);
  for (const auto& r : replies) {
    ASSERT_TRUE(r.reply.ok()) << r.endpoint << ": " << r.reply.status().to_string();
    v1::TrainingStatusResponse st;
    ASSERT_TRUE(r.reply->payload().UnpackTo(&st));
    EXPECT_EQ(st.fine_tune().serving(), "frozen");
  }
  EXPECT_EQ(a->calls.load(), puts + 1);

  // A replica that does not answer in time is that replica's error; the other still answers, and
  // the whole answer comes by the deadline.
  b->delay_us = 1'500'000;
  const auto t0 = std::chrono::steady_clock::now();
  replies = ask(*fanout, training_status("demo"), 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  ASSERT_EQ(replies.size(), 2u);
  const auto& slow = replies[0].endpoint == b->endpoint() ? replies[0] : replies[1];
  const auto& quick = replies[0].endpoint == b->endpoint() ? replies[1] : replies[0];
  ASSERT_FALSE(slow.reply.ok());
  EXPECT_EQ(slow.reply.status().code(), StatusCode::kDeadlineExceeded) << slow.reply.status().to_string();
  EXPECT_TRUE(quick.reply.ok()) << quick.reply.status().to_string();
  b->delay_us = 0;

  // After stop(): every entry CANCELLED at once, no call made.
  fanout->stop();
  replies = ask(*fanout, training_status("demo"), 1s);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].reply.status().code(), StatusCode::kCancelled) << "after stop(): cancelled, no call made";

  // No live replica: an empty answer at once.
  ReplicaFanout alone(ReplicaFanoutOptions{.name = "nlu"});
  EXPECT_TRUE(ask(alone, training_status("demo"), 1s).empty());
}

}  // namespace
}  // namespace parley::dialog
