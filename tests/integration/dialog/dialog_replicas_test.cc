// Every NLU replica can serve every bot (issue 16): real parley-nlu processes (hash featurizer:
// no model needed) behind one real parley-dialog, turns running all the time from 4 clients.
// Two replicas at first; a third comes up (scale-out: it must get the bots before it gets turns,
// and then get turns within seconds); then one of the first two is terminated (scale-in, an
// eviction, a rolling update). No turn may fail or report a service error. QA and LM are the
// in-test fakes (they hold no per-bot state the test is about). Also: SIGTERM drains the public
// API's in-flight turns within service.drain_grace (issue 16 item 7). GET /v1/bots/demo lists
// every live NLU replica's training state, the newcomer included.
// Depends on tests/support, services/dialog/testing (fake QA/LM).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/testing/fake_services.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;
using Clock = std::chrono::steady_clock;

struct Nlu {
  int zmq_port = 0, http_port = 0;
  std::unique_ptr<ChildProcess> process;
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(zmq_port); }
};

/// Parse calls a replica has served (its parley_requests_total for parley.v1.Nlu/Parse).
double parses_served(const Nlu& n) {
  auto r = testing::http_get(n.http_port, "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  static const std::regex line(R"(^parley_requests_total\{[^}]*Nlu/Parse[^}]*\} ([0-9.e+]+))");
  double total = 0;
  std::istringstream in(r->body);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) total += std::stod(m[1]);
  }
  return total;
}

class DialogReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("parley-dialog-replicas");
    qa_ = std::move(*FakeServiceServer::start("qa"));
    lm_ = std::move(*FakeServiceServer::start("lm"));
    for (auto& n : nlu_) {
      n.zmq_port = testing::free_tcp_port();
      n.http_port = testing::free_tcp_port();
    }
  }

  void start_nlu(int i) {
    Nlu& n = nlu_[i];
    n.process = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::built_binary("services/nlu/parley-nlu"), "--nlu.featurizer=hash",
                                 "--transport.bind=" + n.endpoint(), "--http.port=" + std::to_string(n.http_port),
                                 "--service.drain_grace=5s", "--log.level=warn"},
        dir_ + "/nlu" + std::to_string(i) + ".log");
    ASSERT_TRUE(testing::wait_until(
        [&] {
          auto r = testing::http_get(n.http_port, "/readyz");
          return r.ok() && r->status == 200;
        },
        30s))
        << n.process->log();
  }

  Result<testing::HttpReply> call(const std::string& method, const std::string& target, const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return testing::http_request(method, api_port_, target, body, 10s, headers);
  }

  /// One client: sessions of 3 turns, again and again, until stop_. Every failure is recorded.
  void client_loop() {
    static const char* kTexts[] = {"hello", "book a table for 4 at 7pm", "what are your opening hours?"};
    while (!stop_) {
      auto s = call("POST", "/v1/bots/demo/sessions");
      v1::Session session;
      if (!s.ok() || s->status != 201 || !google::protobuf::util::JsonStringToMessage(s->body, &session).ok()) {
        fail("create: " + (s.ok() ? std::to_string(s->status) + " " + s->body : s.status().to_string()));
        continue;
      }
      for (const char* text : kTexts) {
        if (stop_) break;
        auto r = call("POST", "/v1/sessions/" + session.id() + "/turns", std::string("{\"text\": \"") + text + "\"}");
        v1::TurnResponse turn;
        if (!r.ok() || r->status != 200 || !google::protobuf::util::JsonStringToMessage(r->body, &turn).ok()) {
          fail("turn: " + (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().to_string()));
          continue;
        }
        if (turn.errors_size() > 0 || turn.outcome() == "error") {
          fail("turn with service errors: " + r->body);
          continue;
        }
        turns_.fetch_add(1);
      }
    }
  }
  void fail(const std::string& what) {
    failures_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (failure_samples_.size() < 5) failure_samples_.push_back(what);
  }

  std::string dir_;
  std::unique_ptr<FakeServiceServer> qa_, lm_;
  Nlu nlu_[3];
  int api_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> turns_{0}, failures_{0};
  std::mutex mu_;
  std::vector<std::string> failure_samples_;
};

TEST_F(DialogReplicasTest, ScaleOutAndInUnderLoadFailsNoTurn) {
  start_nlu(0);
  start_nlu(1);
  api_port_ = testing::free_tcp_port();
  const int dialog_http = testing::free_tcp_port();
  // The third replica's address is known from the start (like a headless Service's next pod);
  // nothing listens there yet.
  ChildProcess dialog({testing::built_binary("services/dialog/parley-dialog"), "--api.port=" + std::to_string(api_port_),
                       "--http.port=" + std::to_string(dialog_http),
                       "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                       "--dialog.nlu_targets=" + nlu_[0].endpoint() + "," + nlu_[1].endpoint() + "," + nlu_[2].endpoint(),
                       "--dialog.qa_targets=" + qa_->endpoint(), "--dialog.lm_targets=" + lm_->endpoint(),
                       "--dialog.asr_targets=", "--dialog.tts_targets=", "--dialog.sync_interval=200ms",
                       "--log.level=warn"},
                      dir_ + "/dialog.log");
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto r = call("GET", "/v1/bots/demo");
        v1::Bot bot;
        return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &bot).ok() &&
               bot.nlu_trained() && bot.kb_ingested();
      },
      30s))
      << dialog.log();

  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back([this] { client_loop(); });
  std::this_thread::sleep_for(1500ms);
  const int before_scale_out = turns_.load();

  // Scale-out: the new replica takes turns within seconds, and none of them fails.
  const auto t0 = Clock::now();
  start_nlu(2);
  const bool got_load = testing::wait_until([&] { return parses_served(nlu_[2]) > 0; }, 10s);
  const auto took = Clock::now() - t0;
  std::this_thread::sleep_for(1500ms);
  const double served_by_new = parses_served(nlu_[2]);
  // GET /v1/bots/demo asks every live replica for the bot's training state, the newcomer too.
  v1::Bot described;
  auto d = call("GET", "/v1/bots/demo");
  ASSERT_TRUE(d.ok() && d->status == 200);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(d->body, &described).ok()) << d->body;
  std::set<std::string> asked;
  for (const auto& r : described.nlu_replicas()) {
    asked.insert(r.replica());
    EXPECT_EQ(r.error(), "") << r.replica();
    EXPECT_EQ(r.fine_tune().serving(), "frozen") << r.replica();
  }
  EXPECT_EQ(asked, (std::set<std::string>{nlu_[0].endpoint(), nlu_[1].endpoint(), nlu_[2].endpoint()})) << d->body;
  // The dialog's autoscaling signal counts the turns under way (4 clients: between 0 and 4).
  double in_flight_max = -1;
  for (int i = 0; i < 20; ++i) {
    auto m = testing::http_get(dialog_http, "/metrics");
    std::smatch g;
    static const std::regex gauge(R"((?:^|\n)parley_dialog_turns_in_flight ([0-9.e+-]+))");
    if (m.ok() && std::regex_search(m->body, g, gauge)) in_flight_max = std::max(in_flight_max, std::stod(g[1]));
  }

  // Scale-in: SIGTERM (what Kubernetes sends) to one of the first two, under load.
  nlu_[0].process->terminate();
  const auto code = nlu_[0].process->wait_for(15s);
  std::this_thread::sleep_for(1500ms);
  const int after = turns_.load();
  stop_ = true;
  for (auto& t : clients) t.join();

  std::string samples;
  for (const auto& s : failure_samples_) samples += "\n  " + s;
  EXPECT_EQ(failures_.load(), 0) << "failed turns:" << samples << "\n" << dialog.log();
  EXPECT_GT(in_flight_max, 0) << "parley_dialog_turns_in_flight missing or never above 0 under load";
  EXPECT_LE(in_flight_max, 4);
  auto idle = testing::http_get(dialog_http, "/metrics");
  ASSERT_TRUE(idle.ok());
  EXPECT_NE(idle->body.find("\nparley_dialog_turns_in_flight 0\n"), std::string::npos) << "turns in flight after the load stopped";
  EXPECT_TRUE(got_load) << "the new replica got no Parse call in 10 s";
  EXPECT_LT(took, 5s) << "from start to first served turn";
  EXPECT_GT(served_by_new, 0);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << nlu_[0].process->log();
  EXPECT_GT(before_scale_out, 10);
  EXPECT_GT(after, before_scale_out + 20) << "turns stopped flowing";
  std::printf("turns: %d (%d before scale-out); new replica served its first Parse %.0f ms after it started, "
              "%.0f Parse calls in its first ~1.5 s; failures: %d\n",
              after, before_scale_out, std::chrono::duration<double, std::milli>(took).count(), served_by_new,
              failures_.load());
}

// Issue 16 item 7: SIGTERM (a scale-down) lets the public API's in-flight turns finish within
// service.drain_grace instead of cutting them after 2 s; new connections are refused meanwhile.
TEST_F(DialogReplicasTest, SigtermDrainsInFlightHttpTurns) {
  auto nlu = std::move(*FakeServiceServer::start("nlu"));
  api_port_ = testing::free_tcp_port();
  const int http = testing::free_tcp_port();
  ChildProcess dialog({testing::built_binary("services/dialog/parley-dialog"), "--api.port=" + std::to_string(api_port_),
                       "--http.port=" + std::to_string(http),
                       "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                       "--dialog.nlu_targets=" + nlu->endpoint(), "--dialog.qa_targets=" + qa_->endpoint(),
                       "--dialog.lm_targets=" + lm_->endpoint(), "--dialog.asr_targets=", "--dialog.tts_targets=",
                       "--dialog.nlu_timeout=20s", "--service.drain_grace=15s", "--log.level=warn"},
                      dir_ + "/dialog-drain.log");
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto r = call("GET", "/v1/bots/demo");
        v1::Bot bot;
        return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &bot).ok() &&
               bot.nlu_trained();
      },
      20s))
      << dialog.log();
  // Two sessions (a session runs its turns one at a time; the fake NLU has 2 workers).
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto s = call("POST", "/v1/bots/demo/sessions");
    ASSERT_TRUE(s.ok() && s->status == 201);
    v1::Session session;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(s->body, &session).ok());
    ids.push_back(session.id());
  }
  nlu->delay_us = 4'000'000;  // every Parse now takes 4 s: longer than the old 2 s cut
  const auto t0 = Clock::now();
  std::vector<std::future<Result<testing::HttpReply>>> turns;
  for (const auto& id : ids) {
    turns.push_back(std::async(std::launch::async, [this, id] {
      return call("POST", "/v1/sessions/" + id + "/turns", "{\"text\": \"book a table for 4 at 7pm\"}");
    }));
  }
  std::this_thread::sleep_for(500ms);
  dialog.terminate();
  std::this_thread::sleep_for(300ms);
  auto late = testing::http_request("GET", api_port_, "/v1/bots/demo", "", 2s);
  EXPECT_FALSE(late.ok() && late->status == 200) << "a new request was served while draining";
  for (auto& f : turns) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string() << "\n" << dialog.log();
    EXPECT_EQ(r->status, 200) << r->body;
    v1::TurnResponse turn;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &turn).ok()) << r->body;
    EXPECT_EQ(turn.errors_size(), 0) << r->body;
  }
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 3s) << "the turns cannot have been answered by the slow NLU";
  const auto code = dialog.wait_for(20s);
  ASSERT_TRUE(code.has_value()) << "still running long after its turns were answered";
  EXPECT_EQ(*code, 0) << dialog.log();
}

}  // namespace
}  // namespace parley
