// A real Prometheus scrapes a real parley-echo process and reads back its request counter.
#include <gtest/gtest.h>

#include "parley/v1/echo.pb.h"
#include "shared/transport/client.h"
#include "tests/integration/prometheus/prometheus_harness.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley::testing {
namespace {

using namespace std::chrono_literals;

TEST(PrometheusScrapesEcho, RequestCountersReachPrometheus) {
  if (PrometheusProcess::binary().empty()) GTEST_SKIP() << "prometheus is not installed (tools/setup installs it)";
  int port = free_tcp_port(), http_port = free_tcp_port();
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  std::string dir = make_temp_dir("parley-prom-echo");
  ChildProcess echo({built_binary("services/echo/parley-echo"), "--transport.bind=" + endpoint,
                     "--http.port=" + std::to_string(http_port)},
                    dir + "/echo.log");
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = http_get(http_port, "/readyz");
        return r.ok() && r->status == 200;
      },
      10s))
      << echo.log();
  transport::ClientOptions options;
  options.targets = {endpoint};
  options.max_wait_for_replica = 2s;
  auto client = transport::Client::create(options);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 7; ++i) {
    v1::EchoRequest req;
    req.set_text("scrape me");
    v1::Envelope env;
    env.set_method("parley.v1.Echo/Echo");
    env.mutable_payload()->PackFrom(req);
    transport::CallOptions call;
    call.timeout = 2s;
    ASSERT_TRUE((*client)->call_sync(env, call).ok());
  }
  expect_prometheus_scrapes(
      "127.0.0.1:" + std::to_string(http_port),
      {{"parley_requests_total{service=\"echo\",method=\"parley.v1.Echo/Echo\",code=\"OK\"}", 7},
       {"parley_ready{service=\"echo\"}", 1},
       {"parley_queue_capacity{service=\"echo\"}", 1024}});
  echo.terminate();
  auto code = echo.wait_for(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace parley::testing
