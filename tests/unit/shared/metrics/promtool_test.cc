// promtool check metrics over everything a Parley process exports: must pass lint-clean.
// Skips (with a message) when promtool is not installed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "shared/metrics/process_metrics.h"
#include "shared/metrics/standard_metrics.h"

namespace parley::metrics {
namespace {

std::string promtool_path() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

// Pipes `text` into `promtool check metrics` and collects its combined output.
CheckResult promtool_check(const std::string& promtool, const std::string& text) {
  char path[] = "/tmp/parley-promtool-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  {
    std::ofstream f(path);
    f << text;
  }
  ::close(fd);
  std::string cmd = promtool + " check metrics < " + path + " 2>&1";
  CheckResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::unlink(path);
  return r;
}

TEST(Promtool, StandardAndProcessMetricsPassLintClean) {
  std::string promtool = promtool_path();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (Debian package 'prometheus'); lint not checked";
  Registry r;
  StandardMetrics standard(r);
  register_process_metrics(r);
  register_build_info(r, "echo");
  ServiceMetrics echo(standard, "echo");
  // One child in every labeled family, so samples (not just HELP/TYPE) are linted.
  echo.requests("parley.v1.Echo/Echo", "OK").inc(3);
  echo.requests("parley.v1.Echo/Echo", "DEADLINE_EXCEEDED").inc();
  echo.request_duration("parley.v1.Echo/Echo").observe(0.012);
  echo.queue_duration("parley.v1.Echo/Echo").observe(0.0004);
  echo.in_flight_requests.set(2);
  echo.queue_depth.set_function([] { return 5.0; });
  echo.queue_capacity.set(256);
  echo.mailbox_rejected.inc();
  echo.transport_malformed.inc();
  echo.send_failures("hwm").inc();
  echo.ready.set(1);
  std::string text = r.render();

  CheckResult result = promtool_check(promtool, text);
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(result.output, "") << "promtool lint findings:\n" << result.output;
}

// The check above can fail: promtool flags what our registry lets through (abbreviated units).
TEST(Promtool, CatchesALintProblem) {
  std::string promtool = promtool_path();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (Debian package 'prometheus'); lint not checked";
  Registry r;
  r.gauge("demo_latency_ms", "Latency in ms.").labels().set(3);
  CheckResult result = promtool_check(promtool, r.render());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("abbreviated units"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace parley::metrics
