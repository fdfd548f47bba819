// The standard families: names, labels, per-service children, bug counter and build info.
#include "shared/metrics/standard_metrics.h"

#include <gtest/gtest.h>

#include "shared/common/check.h"

namespace parley::metrics {
namespace {

TEST(StandardMetrics, DeclaresEveryFamilyWithItsLabels) {
  Registry r;
  StandardMetrics m(r);
  EXPECT_EQ(m.requests_total.label_names(), (std::vector<std::string>{"service", "method", "code"}));
  EXPECT_EQ(m.request_duration_seconds.label_names(), (std::vector<std::string>{"service", "method"}));
  EXPECT_EQ(m.transport_send_failures_total.label_names(), (std::vector<std::string>{"service", "reason"}));
  EXPECT_TRUE(m.bugs_total.label_names().empty());
  EXPECT_EQ(r.family_names(),
            (std::vector<std::string>{
                "parley_bugs_total", "parley_in_flight_requests", "parley_mailbox_rejected_total",
                "parley_queue_capacity", "parley_queue_depth", "parley_queue_duration_seconds",
                "parley_ready", "parley_request_duration_seconds", "parley_requests_total",
                "parley_transport_malformed_total", "parley_transport_send_failures_total"}));
  StandardMetrics again(r);  // a second host in the same process shares the families
  EXPECT_EQ(&again.requests_total, &m.requests_total);
}

TEST(StandardMetrics, ServiceMetricsFillTheServiceLabel) {
  Registry r;
  StandardMetrics m(r);
  ServiceMetrics echo(m, "echo");
  echo.in_flight_requests.inc();
  echo.requests("parley.v1.Echo/Echo", "OK").inc();
  echo.request_duration("parley.v1.Echo/Echo").observe(0.002);
  echo.send_failures("hwm").inc();
  echo.ready.set(1);
  std::string text = r.render();
  EXPECT_NE(text.find("parley_in_flight_requests{service=\"echo\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("parley_requests_total{service=\"echo\",method=\"parley.v1.Echo/Echo\",code=\"OK\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("parley_request_duration_seconds_bucket{service=\"echo\",method=\"parley.v1.Echo/Echo\","
                      "le=\"0.0025\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("parley_transport_send_failures_total{service=\"echo\",reason=\"hwm\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("parley_ready{service=\"echo\"} 1\n"), std::string::npos);
}

TEST(StandardMetrics, BugsTotalFollowsParleyBug) {
  Registry r;
  StandardMetrics m(r);
  double before = m.bugs_total.labels().value();
  PARLEY_BUG() << "test bug, expected in this test's log";
  EXPECT_DOUBLE_EQ(m.bugs_total.labels().value(), before + 1);
}

TEST(BuildInfo, ExportsVersionAndService) {
  Registry r;
  register_build_info(r, "echo");
  EXPECT_FALSE(build_version().empty());
  EXPECT_NE(build_version(), "unknown");
  std::string expected =
      "parley_build_info{version=\"" + std::string(build_version()) + "\",service=\"echo\"} 1\n";
  EXPECT_NE(r.render().find(expected), std::string::npos) << r.render();
}

}  // namespace
}  // namespace parley::metrics
