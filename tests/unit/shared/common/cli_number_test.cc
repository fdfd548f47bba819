// shared/common/cli_number.h: a tool's numeric option is all number and in range, or a usage
// error (exit 2) naming the flag — never atoi's silent 0 (issue 17's evaluator fixes).
#include "shared/common/cli_number.h"

#include <gtest/gtest.h>

namespace parley::cli {
namespace {

TEST(CliNumber, WholeTextInRange) {
  EXPECT_EQ(parse_number("0.25", 0, 1), 0.25);
  EXPECT_EQ(parse_number("-3", -5, 5), -3.0);
  EXPECT_EQ(parse_number("1e3", 0, 1e4), 1000.0);
  EXPECT_FALSE(parse_number("", 0, 1));
  EXPECT_FALSE(parse_number("abc", 0, 1));
  EXPECT_FALSE(parse_number("5x", 0, 10));
  EXPECT_FALSE(parse_number("2", 0, 1));
  EXPECT_FALSE(parse_number("nan", -1e9, 1e9));
  EXPECT_FALSE(parse_number("inf", -1e9, 1e9));
  EXPECT_FALSE(parse_number("1e999", -1e9, 1e9));
}

TEST(CliNumber, BadValuesExitWithUsage) {
  EXPECT_EXIT(number_or_exit("--threshold", "x", 0, 1), testing::ExitedWithCode(2), "--threshold: 'x' is not a number");
  EXPECT_EXIT(integer_or_exit("--top-k", "2.5", 1, 100), testing::ExitedWithCode(2), "--top-k: '2.5' is not a whole");
  EXPECT_EXIT(integer_or_exit("--top-k", "0", 1, 100), testing::ExitedWithCode(2), "in \\[1, 100\\]");
  EXPECT_EQ(integer_or_exit("--top-k", "7", 1, 100), 7);
  EXPECT_EQ(number_or_exit("--threshold", "-0.5", -10, 10), -0.5);
}

}  // namespace
}  // namespace parley::cli
