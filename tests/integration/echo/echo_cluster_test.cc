// The core proven with real processes: parley-echo replicas on loopback behind one client.
// Load spreading, a replica killed mid-load, a replica added later, deadlines, a flood beyond the
// queue bound (backpressure visible in /metrics), and SIGTERM drain.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "parley/v1/echo.pb.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

struct Replica {
  int port;
  int http_port;
  std::unique_ptr<ChildProcess> process;
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port); }
};

class EchoClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("parley-echo"); }

  Replica start_replica(std::vector<std::string> extra = {}) {
    Replica r{testing::free_tcp_port(), testing::free_tcp_port(), nullptr};
    start(r, std::move(extra));
    return r;
  }
  void start(Replica& r, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testing::built_binary("services/echo/parley-echo"),
                                     "--transport.bind=" + r.endpoint(), "--http.port=" + std::to_string(r.http_port),
                                     "--service.drain_grace=5s"};
    for (auto& e : extra) argv.push_back(e);
    std::string log = dir_;
    log.append("/echo-").append(std::to_string(r.port)).append(".log");
    r.process = std::make_unique<ChildProcess>(argv, log);
    bool ready = testing::wait_until(
        [&] {
          auto reply = testing::http_get(r.http_port, "/readyz");
          return reply.ok() && reply->status == 200;
        },
        10s);
    ASSERT_TRUE(ready) << r.process->log();
  }

  std::unique_ptr<transport::Client> client_for(const std::vector<Replica*>& replicas) {
    transport::ClientOptions options;
    for (auto* r : replicas) options.targets.push_back(r->endpoint());
    options.ping_interval = 100ms;
    options.dead_after = 500ms;
    options.max_wait_for_replica = 2s;
    auto client = transport::Client::create(options);
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return std::move(*client);
  }

  static v1::Envelope echo_request(const std::string& text, int delay_ms = 0) {
    v1::EchoRequest req;
    req.set_text(text);
    req.set_delay_ms(delay_ms);
    v1::Envelope env;
    env.set_method("parley.v1.Echo/Echo");
    env.mutable_payload()->PackFrom(req);
    return env;
  }

  static transport::CallOptions opts(std::chrono::milliseconds timeout, bool idempotent = true) {
    transport::CallOptions o;
    o.timeout = timeout;
    o.idempotent = idempotent;
    return o;
  }

  /// Fires `n` calls at once and waits for every callback; returns code -> count and replica -> count.
  struct Outcome {
    std::map<StatusCode, int> codes;
    std::map<std::string, int> replicas;
  };
  static Outcome burst(transport::Client& client, int n, int delay_ms, std::chrono::milliseconds timeout,
                       std::function<void(int)> after_send = {}) {
    std::mutex mu;
    std::condition_variable cv;
    Outcome out;
    int done = 0;
    for (int i = 0; i < n; ++i) {
      std::string text = "m";
      text.append(std::to_string(i));
      client.call(echo_request(text, delay_ms), opts(timeout),
                  [&](Result<v1::Envelope> reply) {
                    std::lock_guard lock(mu);
                    if (reply.ok() && !reply->end_of_stream()) return;
                    out.codes[reply.ok() ? reply->status().code() == 0 ? StatusCode::kOk
                                                                        : status_code_from_int(reply->status().code())
                                         : reply.status().code()]++;
                    if (reply.ok()) out.replicas[reply->replica()]++;
                    ++done;
                    cv.notify_all();
                  });
      if (after_send) after_send(i);
    }
    std::unique_lock lock(mu);
    bool all = cv.wait_for(lock, timeout + 5s, [&] { return done == n; });
    EXPECT_TRUE(all) << "only " << done << " of " << n << " calls completed: a call hung";
    return out;
  }

  std::string dir_;
};

TEST_F(EchoClusterTest, SpreadsLoadOverThreeReplicas) {
  Replica a = start_replica(), b = start_replica(), c = start_replica();
  auto client = client_for({&a, &b, &c});
  ASSERT_TRUE(client->wait_for_live(3, 5s));
  Outcome out = burst(*client, 90, 20, 10s);
  EXPECT_EQ(out.codes[StatusCode::kOk], 90);
  EXPECT_EQ(out.replicas.size(), 3u) << "every replica should get a share";
  for (const auto& [replica, n] : out.replicas) EXPECT_GE(n, 10) << replica;
}

TEST_F(EchoClusterTest, ReplicaKilledMidLoadCostsRetriesNotRequests) {
  Replica a = start_replica(), b = start_replica(), c = start_replica();
  auto client = client_for({&a, &b, &c});
  ASSERT_TRUE(client->wait_for_live(3, 5s));
  auto start = std::chrono::steady_clock::now();
  Outcome out = burst(*client, 120, 30, 8s, [&](int i) {
    if (i != 40) return;
    // Kill b only once it holds calls: on a loaded machine the client's I/O thread can lag the
    // caller by the whole burst, and a replica that dies before it gets any call costs no retry
    // (its sends are refused and go elsewhere), which is not the case this test pins.
    bool holds_calls = testing::wait_until(
        [&] {
          for (const auto& info : client->replicas())
            if (info.endpoint == b.endpoint() && info.in_flight > 0) return true;
          return false;
        },
        5s);
    EXPECT_TRUE(holds_calls) << "replica b never had a call in flight";
    b.process->kill();
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  // Idempotent calls are retried on the survivors: every one succeeds.
  EXPECT_EQ(out.codes[StatusCode::kOk], 120) << "codes: " << out.codes.size();
  // b's calls cost either a retry (sent, then b died) or a refused send moved to a survivor (b
  // counted them in flight while they waited in its batch, and died before the batch went out:
  // seen under load, 2026-12-06). Both are the re-routing this test pins; a lost call is not.
  EXPECT_GT(client->stats().retries.load() + client->stats().send_failures.load(), 0u);
}

TEST_F(EchoClusterTest, ReplicaStartedLaterReceivesTraffic) {
  Replica a = start_replica(), b = start_replica(), c = start_replica();
  Replica d{testing::free_tcp_port(), testing::free_tcp_port(), nullptr};
  auto client = client_for({&a, &b, &c, &d});  // d is known but not running yet
  ASSERT_TRUE(client->wait_for_live(3, 5s));
  Outcome before = burst(*client, 30, 5, 5s);
  EXPECT_EQ(before.codes[StatusCode::kOk], 30);
  start(d);
  ASSERT_TRUE(client->wait_for_live(4, 5s)) << "the fourth replica was never seen live";
  Outcome after = burst(*client, 80, 20, 5s);
  EXPECT_EQ(after.codes[StatusCode::kOk], 80);
  EXPECT_EQ(after.replicas.size(), 4u);
}

TEST_F(EchoClusterTest, SlowHandlerPastDeadlineIsDeadlineExceeded) {
  Replica a = start_replica();
  auto client = client_for({&a});
  ASSERT_TRUE(client->wait_for_live(1, 5s));
  auto start = std::chrono::steady_clock::now();
  auto reply = client->call_sync(echo_request("slow", 3000), opts(300ms, false));
  ASSERT_FALSE(reply.ok() && reply->status().code() == 0);
  StatusCode code = reply.ok() ? status_code_from_int(reply->status().code()) : reply.status().code();
  EXPECT_EQ(code, StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // The service counted it too, and still answers.
  ASSERT_TRUE(client->call_sync(echo_request("fast"), opts(2s)).ok());
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto m = testing::http_get(a.http_port, "/metrics");
        return m.ok() && testing::metric_value(m->body, "parley_requests_total", "DEADLINE_EXCEEDED") >= 1;
      },
      5s));
}

TEST_F(EchoClusterTest, FloodBeyondQueueIsBackpressureNotACrash) {
  Replica a = start_replica({"--service.workers=1", "--service.queue_capacity=4"});
  auto client = client_for({&a});
  ASSERT_TRUE(client->wait_for_live(1, 5s));
  Outcome out = burst(*client, 60, 50, 10s);
  EXPECT_GT(out.codes[StatusCode::kResourceExhausted], 0) << "a full queue must refuse explicitly";
  EXPECT_GT(out.codes[StatusCode::kOk], 0);
  auto metrics = testing::http_get(a.http_port, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_GT(testing::metric_value(metrics->body, "parley_mailbox_rejected_total"), 0);
  EXPECT_EQ(testing::metric_value(metrics->body, "parley_requests_total", "RESOURCE_EXHAUSTED"),
            out.codes[StatusCode::kResourceExhausted]);
  auto health = testing::http_get(a.http_port, "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(client->call_sync(echo_request("after the flood"), opts(2s)).ok());
  EXPECT_TRUE(a.process->running());
}

TEST_F(EchoClusterTest, BadWireRequestsGetClearErrorsAndServiceKeepsServing) {
  Replica a = start_replica();
  auto client = client_for({&a});
  ASSERT_TRUE(client->wait_for_live(1, 5s));
  auto code_of = [](const Result<v1::Envelope>& r) {
    return r.ok() ? status_code_from_int(r->status().code()) : r.status().code();
  };
  v1::Envelope wrong_type;
  wrong_type.set_method("parley.v1.Echo/Echo");
  wrong_type.mutable_payload()->PackFrom(v1::LoadReport());
  auto r1 = client->call_sync(wrong_type, opts(2s));
  EXPECT_EQ(code_of(r1), StatusCode::kInvalidArgument);
  std::string message = r1.ok() ? r1->status().message() : r1.status().message();
  EXPECT_NE(message.find("parley.v1.EchoRequest"), std::string::npos) << message;
  v1::Envelope unknown = echo_request("x");
  unknown.set_method("parley.v1.Echo/Nope");
  auto r2 = client->call_sync(unknown, opts(2s));
  EXPECT_EQ(code_of(r2), StatusCode::kUnimplemented);
  v1::Envelope too_big = echo_request(std::string(100 * 1024, 'x'));
  EXPECT_EQ(code_of(client->call_sync(too_big, opts(2s))), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client->call_sync(echo_request("still here"), opts(2s)).ok());
}

TEST_F(EchoClusterTest, SigtermDrainsInFlightWorkAndExitsZero) {
  Replica a = start_replica();
  auto client = client_for({&a});
  ASSERT_TRUE(client->wait_for_live(1, 5s));
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<v1::Envelope>> result;
  client->call(echo_request("in flight", 600), opts(5s, false), [&](Result<v1::Envelope> r) {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  std::this_thread::sleep_for(150ms);  // let the call reach a worker
  a.process->terminate();
  EXPECT_TRUE(testing::wait_until(
      [&] {
        auto r = testing::http_get(a.http_port, "/readyz");
        return !r.ok() || r->status == 503;
      },
      2s))
      << "readiness must turn false at once on SIGTERM";
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 6s, [&] { return result.has_value(); }));
    ASSERT_TRUE(result->ok()) << result->status().to_string();
    EXPECT_EQ((*result)->status().code(), 0) << (*result)->status().message();
  }
  auto code = a.process->wait_for(10s);
  ASSERT_TRUE(code.has_value()) << "did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << a.process->log();
}

}  // namespace
}  // namespace parley
