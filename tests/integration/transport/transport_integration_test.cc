// The transport against real server processes: a replica killed (SIGKILL) under load, a replica
// drained by SIGTERM under load, and a replica restarted on the same endpoint.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "parley/v1/echo.pb.h"
#include "shared/transport/client.h"
#include "tests/support/process.h"

namespace parley::transport {
namespace {

using namespace std::chrono_literals;
using parley::testing::wait_until;
using Child = parley::testing::ChildProcess;

std::string server_binary() { return parley::testing::built_binary("tests/integration/transport/transport_test_server"); }

/// One transport_test_server process and the endpoint it bound.
class ServerProcess {
 public:
  ServerProcess(const std::string& dir, const std::string& name, int delay_ms,
                const std::string& endpoint = "tcp://127.0.0.1:*")
      : log_(dir + "/" + name + ".log"),
        process_({server_binary(), "--endpoint", endpoint, "--name", name, "--delay-ms", std::to_string(delay_ms)},
                 log_) {}

  /// The bound endpoint, read from the process's "LISTENING" line ("" if it did not come up).
  std::string wait_endpoint() {
    std::string found;
    wait_until(
        [&] {
          std::ifstream in(log_);
          std::string line;
          while (std::getline(in, line)) {
            if (line.rfind("LISTENING ", 0) == 0) found = line.substr(10);
          }
          return !found.empty() || !process_.running();
        },
        10s);
    return found;
  }
  Child& process() { return process_; }
  std::string log() const { return process_.log(); }

 private:
  std::string log_;
  Child process_;
};

Envelope echo(const std::string& text) {
  v1::EchoRequest req;
  req.set_text(text);
  Envelope env;
  env.set_method("t/Echo");
  env.mutable_payload()->PackFrom(req);
  return env;
}

std::string replica_of(const Envelope& reply) {
  v1::EchoReply r;
  return reply.payload().UnpackTo(&r) ? r.replica() : "";
}

ClientOptions client_options(std::vector<std::string> endpoints) {
  ClientOptions o;
  o.targets = std::move(endpoints);
  o.name = "echo";
  o.ping_interval = 50ms;
  o.dead_after = 1s;
  o.reconnect_interval = 20ms;
  o.reconnect_interval_max = 200ms;
  return o;
}

/// Keeps `in_flight` calls outstanding until `total` were issued; records every outcome.
class Load {
 public:
  Load(Client& client, int total, int in_flight, bool alternate_idempotent)
      : client_(client), total_(total), alternate_(alternate_idempotent) {
    for (int i = 0; i < in_flight; ++i) issue();
  }
  int completed() const { return completed_.load(); }
  bool wait_all(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return completed_.load() == total_; });
  }
  struct Outcome {
    bool idempotent;
    Result<Envelope> result;
    Clock::duration took;
  };
  std::vector<Outcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }

 private:
  void issue() {
    int n = issued_.fetch_add(1);
    if (n >= total_) return;
    bool idempotent = !alternate_ || n % 2 == 0;
    auto start = Clock::now();
    client_.call(echo(std::to_string(n)), {.timeout = 3s, .idempotent = idempotent},
                 [this, idempotent, start](Result<Envelope> r) {
                   {
                     std::lock_guard lock(mu_);
                     outcomes_.push_back({idempotent, std::move(r), Clock::now() - start});
                   }
                   if (completed_.fetch_add(1) + 1 == total_) {
                     std::lock_guard lock(mu_);
                     cv_.notify_all();
                   }
                   issue();  // from the client's I/O thread: call() only enqueues
                 });
  }

  Client& client_;
  const int total_;
  const bool alternate_;
  std::atomic<int> issued_{0};
  std::atomic<int> completed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Outcome> outcomes_;
};

class TransportIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(server_binary())) GTEST_SKIP() << "not built: " << server_binary();
    char tmpl[] = "/tmp/parley-transport-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(TransportIntegrationTest, KilledReplicaUnderLoad) {
  ServerProcess a(dir_, "a", 20), b(dir_, "b", 20), victim(dir_, "victim", 20);
  std::string ea = a.wait_endpoint(), eb = b.wait_endpoint(), ev = victim.wait_endpoint();
  ASSERT_FALSE(ea.empty() || eb.empty() || ev.empty()) << victim.log();
  auto client = Client::create(client_options({ea, eb, ev}));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->wait_for_live(3, 10s));

  constexpr int kTotal = 600;
  Load load(**client, kTotal, 30, /*alternate_idempotent=*/true);
  // Kill the victim while it certainly has calls in flight.
  ASSERT_TRUE(wait_until(
      [&] {
        if (load.completed() < 60) return false;
        for (const auto& r : (*client)->replicas()) {
          if (r.endpoint == ev && r.in_flight > 0) return true;
        }
        return false;
      },
      10s));
  victim.process().kill();
  ASSERT_TRUE(load.wait_all(20s)) << "completed " << load.completed() << " of " << kTotal << ": a call hung";

  int idempotent_ok = 0, failed = 0;
  for (auto& o : load.outcomes()) {
    EXPECT_LT(o.took, 3s + 500ms) << "every call ends by its deadline";
    if (o.idempotent) {
      EXPECT_TRUE(o.result.ok()) << o.result.status().to_string();
      if (o.result.ok()) ++idempotent_ok;
    } else if (!o.result.ok()) {
      ++failed;
      EXPECT_EQ(o.result.status().code(), StatusCode::kUnavailable) << o.result.status().to_string();
      EXPECT_NE(o.result.status().message().find(ev), std::string::npos) << o.result.status().message();
    }
  }
  EXPECT_EQ(idempotent_ok, kTotal / 2);
  const auto& stats = (*client)->stats();
  EXPECT_GE(stats.replica_deaths.load(), 1u);
  EXPECT_GE(stats.retries.load() + static_cast<std::uint64_t>(failed), 1u)
      << "the victim's calls were retried (idempotent) or failed (not)";
  EXPECT_EQ(stats.replicas_live.load(), 2u);
}

TEST_F(TransportIntegrationTest, SigtermDrainsWithoutLosingCalls) {
  ServerProcess a(dir_, "a", 30), drained(dir_, "drained", 30);
  std::string ea = a.wait_endpoint(), ed = drained.wait_endpoint();
  ASSERT_FALSE(ea.empty() || ed.empty());
  auto client = Client::create(client_options({ea, ed}));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->wait_for_live(2, 10s));

  constexpr int kTotal = 400;
  Load load(**client, kTotal, 20, /*alternate_idempotent=*/false);
  ASSERT_TRUE(wait_until([&] { return load.completed() >= 50; }, 10s));
  drained.process().terminate();
  auto exit_code = drained.process().wait_for(10s);
  ASSERT_TRUE(exit_code.has_value()) << "drain did not finish";
  EXPECT_EQ(*exit_code, 0) << drained.log();
  EXPECT_NE(drained.log().find("DRAINED active=0"), std::string::npos) << drained.log();
  ASSERT_TRUE(load.wait_all(20s));
  std::map<std::string, int> by_replica;
  for (auto& o : load.outcomes()) {
    ASSERT_TRUE(o.result.ok()) << o.result.status().to_string();
    by_replica[replica_of(*o.result)]++;
  }
  EXPECT_GT(by_replica["drained"], 0) << "it served before the drain";
  EXPECT_GT(by_replica["a"], by_replica["drained"]) << "and the rest went to the other replica";
}

TEST_F(TransportIntegrationTest, RestartedReplicaIsUsedAgain) {
  auto first = std::make_unique<ServerProcess>(dir_, "first", 0);
  std::string endpoint = first->wait_endpoint();
  ASSERT_FALSE(endpoint.empty());
  auto client = Client::create(client_options({endpoint}));
  ASSERT_TRUE(client.ok());
  Result<Envelope> r = (*client)->call_sync(echo("one"), {.timeout = 5s});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(replica_of(*r), "first");

  first->process().kill();
  first->process().wait_for(5s);
  r = (*client)->call_sync(echo("two"), {.timeout = 300ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();

  ServerProcess second(dir_, "second", 0, endpoint);
  ASSERT_EQ(second.wait_endpoint(), endpoint) << second.log();
  r = (*client)->call_sync(echo("three"), {.timeout = 5s});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(replica_of(*r), "second");
}

}  // namespace
}  // namespace parley::transport
