// Process metrics read from /proc: plausible values, and fd counting that follows reality.
#include "shared/metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace parley::metrics {
namespace {

TEST(ProcessStats, ReadsPlausibleValues) {
  auto s = read_process_stats();
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_GE(s->cpu_seconds, 0);
  EXPECT_GT(s->resident_memory_bytes, 1 << 20);  // a gtest binary holds more than 1 MiB
  EXPECT_GE(s->virtual_memory_bytes, s->resident_memory_bytes);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(s->start_time_seconds, now + 1);
  EXPECT_GT(s->start_time_seconds, now - 3600);  // started within the hour
  EXPECT_GE(s->open_fds, 3);
  EXPECT_GE(s->max_fds, s->open_fds);
}

TEST(ProcessStats, OpenFdsCountsNewDescriptors) {
  auto before = read_process_stats();
  ASSERT_TRUE(before.ok());
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(::open("/dev/null", O_RDONLY));
  auto during = read_process_stats();
  for (int fd : fds) ::close(fd);
  ASSERT_TRUE(during.ok());
  EXPECT_DOUBLE_EQ(during->open_fds, before->open_fds + 5);
}

TEST(ProcessMetrics, RegistersCallbackFamiliesIdempotently) {
  Registry r;
  register_process_metrics(r);
  register_process_metrics(r);
  std::string text = r.render();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_start_time_seconds ",
                           "process_open_fds ", "process_max_fds "}) {
    auto pos = text.find(std::string("\n") + name);
    ASSERT_NE(pos, std::string::npos) << name << " missing in:\n" << text;
    EXPECT_NE(text.substr(pos + 1, text.find('\n', pos + 1) - pos - 1).find_first_of("123456789"),
              std::string::npos)
        << name << " reads zero";
  }
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
}

}  // namespace
}  // namespace parley::metrics
