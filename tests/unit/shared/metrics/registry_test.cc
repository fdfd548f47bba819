// Registry: golden exposition, families and children, validation errors, callbacks, concurrency.
#include "shared/metrics/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shared/common/check.h"

namespace parley::metrics {
namespace {

TEST(Exposition, GoldenSmallRegistry) {
  Registry r;
  auto& requests = r.counter("demo_requests_total", "Requests handled.", {"method", "code"});
  requests.labels({"POST", "500"}).inc();
  requests.labels({"GET", "200"}).inc(3);
  r.gauge("demo_temperature_celsius", "Temperature of \"the\" room\\now.\nSecond line.").labels().set(-2.5);
  auto& latency = r.histogram("demo_latency_seconds", "Latency.", {"path"}, {0.1, 0.5, 1});
  Histogram& a = latency.labels({"/a"});
  for (double v : {0.0625, 0.25, 0.25, 4.0}) a.observe(v);
  r.gauge("demo_empty", "No children yet.", {"x"});

  const char* expected =
      "# HELP demo_empty No children yet.\n"
      "# TYPE demo_empty gauge\n"
      "# HELP demo_latency_seconds Latency.\n"
      "# TYPE demo_latency_seconds histogram\n"
      "demo_latency_seconds_bucket{path=\"/a\",le=\"0.1\"} 1\n"
      "demo_latency_seconds_bucket{path=\"/a\",le=\"0.5\"} 3\n"
      "demo_latency_seconds_bucket{path=\"/a\",le=\"1\"} 3\n"
      "demo_latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 4\n"
      "demo_latency_seconds_sum{path=\"/a\"} 4.5625\n"
      "demo_latency_seconds_count{path=\"/a\"} 4\n"
      "# HELP demo_requests_total Requests handled.\n"
      "# TYPE demo_requests_total counter\n"
      "demo_requests_total{method=\"GET\",code=\"200\"} 3\n"
      "demo_requests_total{method=\"POST\",code=\"500\"} 1\n"
      "# HELP demo_temperature_celsius Temperature of \"the\" room\\\\now.\\nSecond line.\n"
      "# TYPE demo_temperature_celsius gauge\n"
      "demo_temperature_celsius -2.5\n";
  EXPECT_EQ(r.render(), expected);
}

TEST(Exposition, LabelValuesAreEscaped) {
  Registry r;
  r.counter("demo_errors_total", "Errors.", {"message"}).labels({"C:\\tmp \"x\"\nnext"}).inc(2);
  EXPECT_EQ(r.render(),
            "# HELP demo_errors_total Errors.\n"
            "# TYPE demo_errors_total counter\n"
            "demo_errors_total{message=\"C:\\\\tmp \\\"x\\\"\\nnext\"} 2\n");
}

TEST(Exposition, UnlabeledHistogramAndSpecialValues) {
  Registry r;
  auto& h = r.histogram("demo_size_bytes", "Sizes.", {}, {10});
  h.labels().observe(std::nan(""));
  r.gauge("demo_ratio", "Ratio.").labels().set(std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.render(),
            "# HELP demo_ratio Ratio.\n"
            "# TYPE demo_ratio gauge\n"
            "demo_ratio +Inf\n"
            "# HELP demo_size_bytes Sizes.\n"
            "# TYPE demo_size_bytes histogram\n"
            "demo_size_bytes_bucket{le=\"10\"} 0\n"
            "demo_size_bytes_bucket{le=\"+Inf\"} 1\n"
            "demo_size_bytes_sum NaN\n"
            "demo_size_bytes_count 1\n");
}

TEST(Histogram, BucketsAreCumulativeAndBoundsInclusive) {
  Registry r;
  Histogram& h = r.histogram("demo_seconds", "x", {}, {1, 2, 3}).labels();
  for (double v : {0.5, 1.0, 1.5, 2.0, 2.0, 3.5, -1.0}) h.observe(v);
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{3, 6, 6, 7}));  // le is inclusive
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 9.5);
}

TEST(Histogram, DefaultAndGeneratedBuckets) {
  auto d = default_latency_buckets();
  ASSERT_FALSE(d.empty());
  EXPECT_DOUBLE_EQ(d.front(), 0.001);
  EXPECT_DOUBLE_EQ(d.back(), 60);
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(linear_buckets(0.5, 0.5, 3), (std::vector<double>{0.5, 1, 1.5}));
  Registry r;
  EXPECT_EQ(r.histogram("demo_default_seconds", "x").buckets(), d);
}

TEST(Family, ChildrenAreStableReferences) {
  Registry r;
  auto& f = r.counter("demo_total", "x", {"a"});
  Counter& first = f.labels({"one"});
  for (int i = 0; i < 100; ++i) f.labels({std::to_string(i)});
  EXPECT_EQ(&f.labels({"one"}), &first);
  std::vector<std::string> values{"one"};
  EXPECT_EQ(&f.labels(values), &first);
  EXPECT_EQ(f.series_count(), 101u);
}

TEST(Family, WrongArityIsABugAndNotExported) {
  Registry r;
  auto& f = r.counter("demo_total", "x", {"a", "b"});
  auto bugs = bug_count();
  f.labels({"only-one"}).inc();
  EXPECT_EQ(bug_count(), bugs + 1);
  EXPECT_EQ(f.series_count(), 0u);
  EXPECT_EQ(r.render().find("only-one"), std::string::npos);
}

TEST(Family, SeriesLimitStopsNewChildren) {
  Registry r;
  auto& f = r.gauge("demo_gauge", "x", {"id"});
  f.set_max_series(2);
  f.labels({"a"}).set(1);
  f.labels({"b"}).set(2);
  f.labels({"c"}).set(3);
  EXPECT_EQ(f.series_count(), 2u);
  EXPECT_EQ(r.render().find("id=\"c\""), std::string::npos);
  EXPECT_DOUBLE_EQ(f.labels({"a"}).value(), 1);  // existing children still work
}

TEST(Counter, RejectsNegativeIncrements) {
  Registry r;
  Counter& c = r.counter("demo_total", "x").labels();
  auto bugs = bug_count();
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_DOUBLE_EQ(c.value(), 2);
  EXPECT_EQ(bug_count(), bugs + 2);
}

TEST(Gauge, SetIncDec) {
  Registry r;
  Gauge& g = r.gauge("demo_gauge", "x").labels();
  g.set(5);
  g.inc();
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 3.5);
}

TEST(Gauge, CallbackIsEvaluatedAtScrapeTimeUntilCleared) {
  Registry r;
  std::atomic<int> depth{3};
  Gauge& g = r.gauge("demo_queue_depth", "x", {"service"}).labels({"echo"});
  g.set(-1);
  g.set_function([&depth] { return static_cast<double>(depth.load()); });
  EXPECT_NE(r.render().find("demo_queue_depth{service=\"echo\"} 3\n"), std::string::npos);
  depth = 7;
  EXPECT_NE(r.render().find("demo_queue_depth{service=\"echo\"} 7\n"), std::string::npos);
  g.clear_function();
  EXPECT_NE(r.render().find("demo_queue_depth{service=\"echo\"} -1\n"), std::string::npos);
}

TEST(Gauge, ThrowingCallbackReadsNaNAndCountsABug) {
  Registry r;
  r.gauge("demo_broken", "x").labels().set_function([]() -> double { throw std::runtime_error("boom"); });
  auto bugs = bug_count();
  EXPECT_NE(r.render().find("demo_broken NaN\n"), std::string::npos);
  EXPECT_EQ(bug_count(), bugs + 1);
}

TEST(Counter, CallbackCounter) {
  Registry r;
  double source = 41;
  r.counter("demo_external_total", "x").labels().set_function([&source] { return source; });
  source = 42;
  EXPECT_NE(r.render().find("demo_external_total 42\n"), std::string::npos);
}

TEST(Registration, InvalidNamesAndLabels) {
  Registry r;
  EXPECT_EQ(r.try_counter("demo_requests", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("demo_things_total", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("1demo", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("__demo", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("demo_gauge", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("demo_gauge", "x", {"__a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_gauge("demo_gauge", "x", {"a-b"}).status().code(), StatusCode::kInvalidArgument);
  auto dup = r.try_gauge("demo_gauge", "x", {"a", "a"});
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("repeated"), std::string::npos);
  EXPECT_EQ(r.try_histogram("demo_seconds", "x", {"le"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_histogram("demo_seconds", "x", {}, {1, 1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_histogram("demo_seconds", "x", {}, {2, 1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.try_histogram("demo_seconds", "x", {}, {1, std::numeric_limits<double>::infinity()})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.family_names().empty());  // nothing half-registered
}

TEST(Registration, SameDeclarationReturnsSameFamilyConflictsAreErrors) {
  Registry r;
  auto a = r.try_counter("demo_total", "x", {"service"});
  ASSERT_TRUE(a.ok());
  auto again = r.try_counter("demo_total", "other help", {"service"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*a, *again);

  auto other_labels = r.try_counter("demo_total", "x", {"service", "method"});
  EXPECT_EQ(other_labels.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(other_labels.status().message().find("demo_total"), std::string::npos);

  ASSERT_TRUE(r.try_histogram("demo_seconds", "x", {}, {1, 2}).ok());
  EXPECT_EQ(r.try_histogram("demo_seconds", "x", {}, {1, 3}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.try_gauge("demo_seconds", "x").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.family_names(), (std::vector<std::string>{"demo_seconds", "demo_total"}));
}

TEST(RegistrationDeathTest, PlainFormStopsTheProcessWithTheReason) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  EXPECT_DEATH(r.counter("demo_requests", "x"), "must end in '_total'");
}

// 8 threads hammer shared and per-thread children while another thread scrapes: totals are exact.
TEST(Concurrency, EightThreadsGiveExactTotals) {
  Registry r;
  auto& counters = r.counter("demo_ops_total", "x", {"kind"});
  auto& gauges = r.gauge("demo_level", "x");
  auto& hist = r.histogram("demo_op_seconds", "x", {"kind"}, {0.5});
  constexpr int kThreads = 8;
  constexpr int kIters = 20000;
  const std::vector<std::string> kinds{"t0", "t1", "t2", "t3"};
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      std::string text = r.render();
      ASSERT_NE(text.find("demo_ops_total"), std::string::npos);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Counter& shared = counters.labels({"shared"});
      for (int i = 0; i < kIters; ++i) {
        shared.inc();
        counters.labels({kinds[t % 4]}).inc(0.5);  // lookup path, racing creation
        gauges.labels().inc();
        gauges.labels().dec();
        hist.labels({"shared"}).observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();

  EXPECT_DOUBLE_EQ(counters.labels({"shared"}).value(), kThreads * kIters);
  for (int k = 0; k < 4; ++k) {
    EXPECT_DOUBLE_EQ(counters.labels({kinds[k]}).value(), 2 * kIters * 0.5);
  }
  EXPECT_DOUBLE_EQ(gauges.labels().value(), 0);
  auto s = hist.labels({"shared"}).snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads * kIters));
  EXPECT_EQ(s.cumulative[0], static_cast<std::uint64_t>(kThreads * kIters / 2));
  EXPECT_DOUBLE_EQ(s.sum, kThreads * kIters / 2 * 1.25);
  EXPECT_EQ(counters.series_count(), 5u);
}

}  // namespace
}  // namespace parley::metrics
