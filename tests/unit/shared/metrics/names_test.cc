// Metric and label name validation (Prometheus grammar plus the promtool lint rules we enforce).
#include "shared/metrics/names.h"

#include <gtest/gtest.h>

namespace parley::metrics {
namespace {

TEST(Names, PrometheusGrammar) {
  EXPECT_TRUE(is_valid_metric_name("http_requests_total"));
  EXPECT_TRUE(is_valid_metric_name("job:rate5m"));
  EXPECT_TRUE(is_valid_metric_name("_x"));
  EXPECT_TRUE(is_valid_metric_name("Abc"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("1abc"));
  EXPECT_FALSE(is_valid_metric_name("a-b"));
  EXPECT_FALSE(is_valid_metric_name("a b"));
  EXPECT_FALSE(is_valid_metric_name("__reserved"));
  EXPECT_TRUE(is_valid_label_name("method"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("9a"));
  EXPECT_FALSE(is_valid_label_name("__name__"));
}

TEST(Names, FamilyRules) {
  EXPECT_TRUE(validate_family_name("parley_requests_total", MetricType::kCounter).is_ok());
  EXPECT_TRUE(validate_family_name("parley_queue_depth", MetricType::kGauge).is_ok());
  EXPECT_TRUE(validate_family_name("parley_request_duration_seconds", MetricType::kHistogram).is_ok());

  Status s = validate_family_name("parley_requests", MetricType::kCounter);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("_total"), std::string::npos) << s.message();
  EXPECT_FALSE(validate_family_name("parley_depth_total", MetricType::kGauge).is_ok());
  EXPECT_FALSE(validate_family_name("parley_x_total", MetricType::kHistogram).is_ok());
  EXPECT_FALSE(validate_family_name("parley_things_count", MetricType::kGauge).is_ok());
  EXPECT_FALSE(validate_family_name("parley_latency_sum", MetricType::kGauge).is_ok());
  EXPECT_FALSE(validate_family_name("parley_x_bucket", MetricType::kHistogram).is_ok());
  EXPECT_FALSE(validate_family_name("parleyRequests_total", MetricType::kCounter).is_ok());
  EXPECT_FALSE(validate_family_name("job:rate_total", MetricType::kCounter).is_ok());
  EXPECT_FALSE(validate_family_name("__x_total", MetricType::kCounter).is_ok());
  EXPECT_FALSE(validate_family_name("bad-name_total", MetricType::kCounter).is_ok());
}

TEST(Names, LabelRules) {
  EXPECT_TRUE(validate_label_name("service").is_ok());
  EXPECT_FALSE(validate_label_name("le").is_ok());
  EXPECT_FALSE(validate_label_name("quantile").is_ok());
  EXPECT_FALSE(validate_label_name("__x").is_ok());
  EXPECT_FALSE(validate_label_name("Method").is_ok());
  EXPECT_FALSE(validate_label_name("a-b").is_ok());
  EXPECT_FALSE(validate_label_name("").is_ok());
}

}  // namespace
}  // namespace parley::metrics
