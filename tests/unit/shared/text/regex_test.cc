// shared/text/regex.h: bot patterns on RE2 — linear-time matching of patterns that make a
// backtracking engine explode ("(a+)+$" on "aaaa...a!": 2^n steps for std::regex, one pass
// here), limits on pattern size and program size, clear errors for what RE2 does not do
// (backreferences, lookaround), search/find_all offsets, and the deadline of find_all.
#include "shared/text/regex.h"

#include <gtest/gtest.h>

namespace parley::text {
namespace {

TEST(RegexTest, MatchesLikeAPerlEngine) {
  auto re = Regex::compile("[A-Z]{2}[0-9]{4}");
  ASSERT_TRUE(re.ok()) << re.status().to_string();
  EXPECT_TRUE(re->full_match("AB1234"));
  EXPECT_FALSE(re->full_match("AB12345"));
  auto m = re->search("order AB1234 please");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->begin, 6u);
  EXPECT_EQ(m->end, 12u);
  auto all = re->find_all("AB1234 and CD5678, EF9");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].begin, 11u);
  // Leftmost-first alternation, as in ECMAScript and Perl.
  auto alt = Regex::compile("a|ab");
  ASSERT_TRUE(alt.ok());
  EXPECT_EQ(alt->search("ab")->end, 1u);
  // Empty matches do not stall find_all.
  auto star = Regex::compile("x*");
  ASSERT_TRUE(star.ok());
  EXPECT_TRUE(star->find_all("abc").empty());
  EXPECT_EQ(star->find_all("axxb").size(), 1u);
}

TEST(RegexTest, CatastrophicBacktrackingPatternsRunInLinearTime) {
  // Each of these takes 2^n steps on a backtracking engine for n = the length of the run; with
  // n = 100,000 a backtracking engine never finishes (this test would time out), RE2 scans once.
  const std::string run(100000, 'a');
  for (const char* pattern : {"(a+)+$", "(a|a)*b", "(a*)*b", "(x+x+)+y", "^(a|aa)+$"}) {
    auto re = Regex::compile(pattern);
    ASSERT_TRUE(re.ok()) << pattern << ": " << re.status().to_string();
    RegexLimits big;
    big.max_input_bytes = 1 << 20;
    auto unbounded = Regex::compile(pattern, big);
    ASSERT_TRUE(unbounded.ok());
    EXPECT_FALSE(unbounded->full_match(run + "!")) << pattern;
    (void)unbounded->search(run + "!");
    (void)unbounded->find_all(run + "!");
  }
}

TEST(RegexTest, WhatALinearEngineCannotDoIsRefusedClearly) {
  auto back = Regex::compile("(a)\\1");
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("backreferences are not supported"), std::string::npos)
      << back.status().to_string();
  auto look = Regex::compile("a(?=b)");
  ASSERT_FALSE(look.ok());
  EXPECT_NE(look.status().message().find("lookaround is not supported"), std::string::npos) << look.status().to_string();
  auto bad = Regex::compile("([A-Z");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("missing"), std::string::npos) << bad.status().to_string();
}

TEST(RegexTest, PatternAndProgramSizesAreBounded) {
  auto long_pattern = Regex::compile(std::string(2000, 'a'));
  ASSERT_FALSE(long_pattern.ok());
  EXPECT_NE(long_pattern.status().message().find("the limit is 1024"), std::string::npos);
  // A short pattern with a big program: counted repetition of a class.
  RegexLimits small;
  small.max_memory_bytes = 4096;
  auto huge = Regex::compile("[a-z]{500}", small);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("too large"), std::string::npos) << huge.status().to_string();
  EXPECT_FALSE(Regex::compile("\xFF").ok());  // not UTF-8
}

TEST(RegexTest, InputIsBoundedAndFindAllStopsAtTheDeadline) {
  RegexLimits limits;
  limits.max_input_bytes = 10;
  auto re = Regex::compile("a+", limits);
  ASSERT_TRUE(re.ok());
  auto m = re->search(std::string(50, 'a'));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->end, 10u);  // only the first max_input_bytes are seen
  auto word = Regex::compile("[a-z]+");
  ASSERT_TRUE(word.ok());
  std::string many;
  for (int i = 0; i < 100; ++i) many += "word ";
  EXPECT_EQ(word->find_all(many, 5).size(), 5u);
  EXPECT_TRUE(word->find_all(many, 1000, std::chrono::steady_clock::now() - std::chrono::seconds(1)).empty());
}

}  // namespace
}  // namespace parley::text
