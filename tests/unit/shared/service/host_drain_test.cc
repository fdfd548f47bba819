// Host::on_drain: work served outside the transport (the dialog's HTTP turns) is drained within
// service.drain_grace, not cut. The hook runs once readiness is already false (/readyz 503 and
// load reports say draining), gets the drain deadline, and stop() waits for it; a hook that
// overruns does not extend the grace given to transport calls beyond the same deadline.
// Depends on shared/service, shared/config, tests/support/net.h (HTTP client for /readyz).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "shared/config/base_schema.h"
#include "shared/service/host.h"
#include "tests/support/net.h"

namespace parley::service {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int readyz(int port) {
  auto r = testing::http_get(port, "/readyz");
  return r.ok() ? r->status : -1;
}

std::unique_ptr<Host> make_host(const char* grace) {
  config::Schema schema = config::service_base_schema("drain-test", "test");
  std::string g = std::string("--service.drain_grace=") + grace;
  const char* argv[] = {"drain-test", "--transport.bind=tcp://127.0.0.1:*", "--http.port=0", "--log.level=warn",
                        g.c_str()};
  return Host::create("drain", schema, 5, argv);
}

TEST(HostDrain, HookRunsNotReadyWithTheDrainDeadlineAndStopWaitsForIt) {
  auto host = make_host("3s");
  std::atomic<int> calls{0};
  std::atomic<int> ready_status{0};
  Clock::time_point got_deadline{};
  host->on_drain([&](Clock::time_point deadline) {
    ++calls;
    got_deadline = deadline;
    ready_status = readyz(host->http_port());
    std::this_thread::sleep_for(700ms);  // an in-flight HTTP turn finishing
  });
  ASSERT_TRUE(host->start().is_ok());
  ASSERT_EQ(readyz(host->http_port()), 200);
  const auto t0 = Clock::now();
  host->stop();
  const auto took = Clock::now() - t0;
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(ready_status.load(), 503) << "the pod must be out of the endpoints while it drains";
  EXPECT_GE(took, 700ms) << "stop() returned before the drain hook's work finished";
  EXPECT_LT(took, 3s);
  EXPECT_GE(got_deadline - t0, 2900ms);
  EXPECT_LE(got_deadline - t0, 3100ms);
  host->stop();  // idempotent: the hook is not run again
  EXPECT_EQ(calls.load(), 1);
}

TEST(HostDrain, ZeroGraceStillCallsTheHookWithANowDeadline) {
  auto host = make_host("0s");
  std::atomic<bool> expired{false};
  host->on_drain([&](Clock::time_point deadline) { expired = deadline <= Clock::now(); });
  ASSERT_TRUE(host->start().is_ok());
  host->stop();
  EXPECT_TRUE(expired.load());
}

}  // namespace
}  // namespace parley::service
