// A real Prometheus scrapes a Parley /metrics endpoint: the text format, label escaping and
// histograms are accepted by the real parser, and values arrive intact.
#include <gtest/gtest.h>

#include "shared/http/health.h"
#include "shared/metrics/process_metrics.h"
#include "shared/metrics/standard_metrics.h"
#include "tests/integration/prometheus/prometheus_harness.h"

namespace parley {
namespace {

TEST(PrometheusScrape, InProcessServerIsScrapedWithExactValues) {
  if (testing::PrometheusProcess::binary().empty()) {
    GTEST_SKIP() << "prometheus is not installed (Debian package 'prometheus'); end-to-end scrape not checked";
  }
  metrics::Registry registry;
  metrics::StandardMetrics standard(registry);
  metrics::register_process_metrics(registry);
  metrics::register_build_info(registry, "it");
  auto& probe = registry.counter("parley_it_probe_total", "Probe counter for the scrape test.");
  for (int i = 0; i < 42; ++i) probe.labels().inc();
  metrics::ServiceMetrics svc(standard, "it");
  svc.requests("parley.v1.Echo/Echo", "OK").inc(3);
  svc.requests("we\"ird\\method\nname", "OK").inc(5);  // escaping must survive the real parser
  svc.request_duration("parley.v1.Echo/Echo").observe(0.02);
  svc.request_duration("parley.v1.Echo/Echo").observe(0.2);
  svc.queue_depth.set_function([] { return 7.0; });

  http::ServerOptions options;
  options.host = "127.0.0.1";
  http::Server server(options);
  http::add_health_routes(server, registry, nullptr);
  ASSERT_TRUE(server.start().is_ok());

  testing::expect_prometheus_scrapes(
      server.address(),
      {
          {"parley_it_probe_total", 42},
          {R"(parley_requests_total{service="it",method="parley.v1.Echo/Echo",code="OK"})", 3},
          {R"(parley_requests_total{method="we\"ird\\method\nname"})", 5},
          {R"(parley_request_duration_seconds_count{service="it"})", 2},
          {R"(parley_request_duration_seconds_bucket{service="it",le="0.025"})", 1},
          {R"(parley_queue_depth{service="it"})", 7},
          {R"(count(parley_build_info{service="it"}))", 1},
          {"count(process_start_time_seconds > 0)", 1},
          {R"(up{job="parley"})", 1},
      });
  server.stop();
}

}  // namespace
}  // namespace parley
