// Two real parley-dialog replicas sharing a real redis-server (fake NLU/QA/LM on the real
// transport): the demo booking forms alternating between them with exact replies and slots, one
// replica SIGKILLed between turns and one in the middle of a turn, and Redis itself going down
// and coming back. (Helper "web"'s tests/integration/store_failover covers generic alternation,
// concurrent turns on both replicas and TTL expiry; not repeated here.) Depends on tests/support,
// tests/integration/store's RedisServer, services/dialog/testing (fake services).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <future>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/testing/fake_services.h"
#include "tests/integration/store/redis_server.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;
using testing::HttpReply;

/// One parley-dialog replica; restart() brings it back on the same ports (a pod restarting).
struct Replica {
  std::vector<std::string> argv;
  std::string log_path;
  int api_port = 0;
  std::unique_ptr<ChildProcess> process;

  bool start() {
    process = std::make_unique<ChildProcess>(argv, log_path);
    return testing::wait_until(
        [&] {
          auto r = testing::http_request("GET", api_port, "/v1/bots/demo", "", 2s);
          v1::Bot bot;
          return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &bot).ok() &&
                 bot.nlu_trained() && bot.kb_ingested();
        },
        20s);
  }
  void sigkill() {
    process->kill();
    process->wait_for(5s);
  }
};

class DialogRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::redis_server_binary().empty()) GTEST_SKIP() << "redis-server not found (apt-get install redis-server)";
    ASSERT_TRUE(redis_.start()) << redis_.log();
    dir_ = testing::make_temp_dir("parley-dialog-redis");
    nlu_ = std::move(*FakeServiceServer::start("nlu"));
    qa_ = std::move(*FakeServiceServer::start("qa"));
    lm_ = std::move(*FakeServiceServer::start("lm"));
  }

  Replica make_replica(const std::string& name, std::vector<std::string> extra = {}) {
    Replica r;
    r.api_port = testing::free_tcp_port();
    r.log_path = dir_ + "/" + name + ".log";
    r.argv = {testing::built_binary("services/dialog/parley-dialog"),
              "--api.port=" + std::to_string(r.api_port),
              "--http.port=" + std::to_string(testing::free_tcp_port()),
              "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
              "--dialog.nlu_targets=" + nlu_->endpoint(),
              "--dialog.qa_targets=" + qa_->endpoint(),
              "--dialog.lm_targets=" + lm_->endpoint(),
              "--dialog.sync_interval=200ms",
              "--dialog.store=" + redis_.url()};
    for (auto& e : extra) r.argv.push_back(e);
    return r;
  }

  static Result<HttpReply> call(const Replica& r, const std::string& method, const std::string& target,
                                const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return testing::http_request(method, r.api_port, target, body, 10s, headers);
  }

  template <typename M>
  static M parse(const std::string& json) {
    M m;
    auto s = google::protobuf::util::JsonStringToMessage(json, &m);
    EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
    return m;
  }

  static std::string create(const Replica& r) {
    auto reply = call(r, "POST", "/v1/bots/demo/sessions");
    EXPECT_TRUE(reply.ok() && reply->status == 201) << (reply.ok() ? reply->body : reply.status().to_string());
    return reply.ok() ? parse<v1::Session>(reply->body).id() : "";
  }

  static v1::TurnResponse turn(const Replica& r, const std::string& id, const std::string& text) {
    auto reply = call(r, "POST", "/v1/sessions/" + id + "/turns", "{\"text\": \"" + text + "\"}");
    EXPECT_TRUE(reply.ok()) << reply.status().to_string();
    if (!reply.ok()) return {};
    EXPECT_EQ(reply->status, 200) << reply->body;
    return parse<v1::TurnResponse>(reply->body);
  }

  static std::string texts(const v1::TurnResponse& r) {
    std::string s;
    for (const auto& m : r.messages()) s += (s.empty() ? "" : " | ") + m.text();
    return s;
  }

  testing::RedisServer redis_;
  std::string dir_;
  std::unique_ptr<FakeServiceServer> nlu_, qa_, lm_;
};

TEST_F(DialogRedisTest, ReplicasAlternateTurnsAndSurviveAKill) {
  Replica a = make_replica("a");
  Replica b = make_replica("b");
  ASSERT_TRUE(a.start()) << a.process->log();
  ASSERT_TRUE(b.start()) << b.process->log();

  std::string id = create(a);
  ASSERT_FALSE(id.empty());
  // Two slots in one utterance on A, the third asked for; answered on B.
  auto r = turn(a, id, "I need a double room for 3 nights");
  EXPECT_EQ(texts(r), "From which date?");
  r = turn(b, id, "starting friday");
  EXPECT_EQ(texts(r), "A double room for 3 nights from friday — shall I book it?");
  r = turn(a, id, "yes");
  EXPECT_EQ(texts(r), "Done! Your double room from friday for 3 nights is booked.");
  r = turn(b, id, "reserve a table for 2");
  EXPECT_EQ(r.requested_slot(), "time");

  // A dies between turns; B carries on alone; A comes back and takes the next turn.
  a.sigkill();
  r = turn(b, id, "at 7pm");
  EXPECT_EQ(texts(r), "A table for 2 at 7pm — shall I book it?");
  ASSERT_TRUE(a.start()) << a.process->log();
  r = turn(a, id, "make it 4");
  EXPECT_EQ(texts(r), "A table for 4 at 7pm — shall I book it?");

  // B dies in the middle of a turn (the NLU is slow): the client retries on A; the turn counts
  // once, nothing half-done is left behind.
  nlu_->delay_us = 2'000'000;
  const int calls_before = nlu_->calls;
  auto in_flight = std::async(std::launch::async, [&] {
    return call(b, "POST", "/v1/sessions/" + id + "/turns", R"({"text": "yes"})");
  });
  // The turn is inside B, waiting on the NLU's reply.
  ASSERT_TRUE(testing::wait_until([&] { return nlu_->calls.load() > calls_before; }, 5s));
  b.sigkill();
  auto lost = in_flight.get();
  EXPECT_FALSE(lost.ok() && lost->status == 200) << "the killed replica cannot have answered";
  nlu_->delay_us = 0;
  r = turn(a, id, "yes");
  EXPECT_EQ(texts(r), "Done! Your table for 4 at 7pm is booked.");
  EXPECT_EQ(r.turn(), 7);

  // The whole conversation is in Redis: every turn once, every slot there, read from either.
  ASSERT_TRUE(b.start()) << b.process->log();
  for (const Replica* rep : {&a, &b}) {
    auto s = call(*rep, "GET", "/v1/sessions/" + id);
    ASSERT_TRUE(s.ok() && s->status == 200) << (s.ok() ? s->body : s.status().to_string());
    auto session = parse<v1::Session>(s->body);
    EXPECT_EQ(session.turns(), 7);
    ASSERT_EQ(session.history_size(), 7);
    EXPECT_EQ(session.history(3).user_text(), "reserve a table for 2");
    EXPECT_EQ(session.history(6).user_text(), "yes");
    EXPECT_EQ(session.slots().at("room_type"), "double");
    EXPECT_EQ(session.slots().at("party_size"), "4");
    EXPECT_EQ(session.slots().at("time"), "7pm");
  }
}

TEST_F(DialogRedisTest, RedisDownAnswersUnavailableThenRecovers) {
  Replica a = make_replica("down", {"--store.timeout=300ms"});
  ASSERT_TRUE(a.start()) << a.process->log();
  std::string id = create(a);
  turn(a, id, "reserve a table for 2");
  redis_.kill();
  auto r = call(a, "POST", "/v1/sessions/" + id + "/turns", R"({"text": "at 7pm"})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("session store"), std::string::npos) << r->body;
  // Redis comes back (its append-only file kept the session): the same turn now works.
  ASSERT_TRUE(redis_.start()) << redis_.log();
  v1::TurnResponse ok;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto again = call(a, "POST", "/v1/sessions/" + id + "/turns", R"({"text": "at 7pm"})");
        if (!again.ok() || again->status != 200) return false;
        ok = parse<v1::TurnResponse>(again->body);
        return true;
      },
      10s));
  EXPECT_EQ(texts(ok), "A table for 2 at 7pm — shall I book it?");
  EXPECT_EQ(ok.turn(), 2);
}

}  // namespace
}  // namespace parley

namespace parley {
namespace {

TEST_F(DialogRedisTest, UploadedBotsReachEveryReplicaAndSurviveARestart) {
  // Issue 15: bots PUT over HTTP lived in one process's memory: other replicas never had them
  // and a restart lost them. They are kept in the session store now.
  Replica a = make_replica("bots-a"), b = make_replica("bots-b");
  ASSERT_TRUE(a.start()) << a.process->log();
  ASSERT_TRUE(b.start()) << b.process->log();
  const std::string yaml =
      "bot: {id: shared}\nintents: {greet: [hello, hi there], bye: [goodbye]}\nresponses: {hi: [Hi from the store!]}\n"
      "rules: [{intent: greet, actions: [hi]}]\n";
  auto put = testing::http_request("PUT", a.api_port, "/v1/bots/shared", yaml, 10s, {{"Content-Type", "application/yaml"}});
  ASSERT_TRUE(put.ok());
  ASSERT_EQ(put->status, 201) << put->body;
  EXPECT_TRUE(parse<v1::Bot>(put->body).persisted());
  // The other replica loads it at its next sync; a session there talks to it.
  ASSERT_TRUE(testing::wait_until([&] { return call(b, "GET", "/v1/bots/shared")->status == 200; }, 10s))
      << b.process->log();
  auto created = call(b, "POST", "/v1/bots/shared/sessions");
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string id = parse<v1::Session>(created->body).id();
  ASSERT_TRUE(testing::wait_until([&] { return texts(turn(b, id, "hello")) == "Hi from the store!"; }, 10s));
  // A replica that restarts has it again.
  a.sigkill();
  ASSERT_TRUE(a.start()) << a.process->log();
  auto again = call(a, "GET", "/v1/bots/shared");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200) << a.process->log();
  // A delete on one replica reaches the other.
  auto del = call(a, "DELETE", "/v1/bots/shared");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 204) << del->body;
  EXPECT_TRUE(testing::wait_until([&] { return call(b, "GET", "/v1/bots/shared")->status == 404; }, 10s));
}

}  // namespace
}  // namespace parley
