// A real Prometheus server for integration tests: generated config, temp TSDB, HTTP query API.
// Exists so any Parley /metrics endpoint (an in-process server today, a real service later) can
// be checked end to end by the scraper that matters. Depends on shared/common and POSIX only.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "shared/common/status.h"

namespace parley::testing {

/// One Prometheus process scraping `targets` ("host:port", path /metrics) every second.
/// Owned by the test; the destructor stops it and removes its temp directory.
///
///   auto prom = PrometheusProcess::start({"127.0.0.1:9101"});
///   if (!prom.ok()) FAIL() << prom.status().to_string();
///   auto v = (*prom)->wait_for_value("parley_requests_total", 3, std::chrono::seconds(30));
class PrometheusProcess {
 public:
  /// Path of the prometheus binary, "" when not installed.
  static std::string binary();

  /// Starts Prometheus on 127.0.0.1:<free port> and waits (up to `ready_timeout`) for /-/ready.
  static Result<std::unique_ptr<PrometheusProcess>> start(
      const std::vector<std::string>& targets,
      std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));

  ~PrometheusProcess();
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  int port() const { return port_; }
  /// Instant query; the first result's value, nullopt when the result is empty.
  Result<std::optional<double>> query(const std::string& promql);
  /// Polls query(promql) until it returns `expected` or `timeout` passes; returns the last value
  /// seen (kDeadlineExceeded, with that value in the message, on timeout).
  Result<double> wait_for_value(const std::string& promql, double expected, std::chrono::milliseconds timeout);
  /// "up", "down" or "unknown" for `target` from /api/v1/targets; kNotFound while discovery has
  /// not listed it yet.
  Result<std::string> target_health(const std::string& target);
  /// Stops the process (SIGTERM, then SIGKILL) and removes the temp directory. Idempotent.
  void stop();
  /// Prometheus's own log (for failure messages).
  std::string log() const;

 private:
  PrometheusProcess() = default;

  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

/// The whole end-to-end check for one target: starts Prometheus scraping `target`, waits (~30 s at
/// most) until each `expectations` query returns its value, and checks the target's health is
/// "up". Reports through gtest assertions; skips (GTEST_SKIP in the caller, see the test) when
/// Prometheus is absent — call PrometheusProcess::binary() first.
struct PromExpectation {
  std::string promql;
  double value;
};
void expect_prometheus_scrapes(const std::string& target, const std::vector<PromExpectation>& expectations);

/// Percent-encodes a query-string value (PromQL has braces, quotes and spaces).
std::string url_encode(const std::string& s);

/// A minimal HTTP/1.0 GET to 127.0.0.1:port (the reply body ends at close, never chunked).
struct SimpleReply {
  int status = 0;
  std::string body;
};
Result<SimpleReply> simple_get(int port, const std::string& target, std::chrono::milliseconds timeout);

}  // namespace parley::testing
