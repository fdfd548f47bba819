// Logging: level parsing and the rate limiter that guards hostile-input log lines.
#include "shared/common/log.h"

#include <gtest/gtest.h>

#include <thread>

#include "shared/common/check.h"

namespace parley::log {
namespace {

TEST(LogTest, ParsesLevels) {
  Level l = Level::kInfo;
  EXPECT_TRUE(parse_level("DEBUG", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_TRUE(parse_level("warning", &l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(parse_level("loud", &l));
  EXPECT_EQ(l, Level::kWarn);
}

TEST(LogTest, RateLimiterAllowsOncePerPeriod) {
  RateLimiter rl(std::chrono::hours(1));
  EXPECT_TRUE(rl.allow());
  EXPECT_FALSE(rl.allow());
  EXPECT_FALSE(rl.allow());
  EXPECT_EQ(rl.take_suppressed(), 2u);
  EXPECT_EQ(rl.take_suppressed(), 0u);
}

TEST(LogTest, BugIsCountedAndSurvived) {
  auto before = bug_count();
  PARLEY_BUG() << "test bug " << 1;
  EXPECT_EQ(bug_count(), before + 1);
}

TEST(LogDeathTest, CheckAbortsWithCondition) {
  EXPECT_DEATH({ PARLEY_CHECK(1 + 1 == 3) << "math"; }, "CHECK failed: 1 \\+ 1 == 3");
}

}  // namespace
}  // namespace parley::log
