// StopMatcher (hold-back of stop-string prefixes, UTF-8 safety) and per-sequence sampling
// (greedy, repetition penalty, seeded reproducibility, validation).
#include <gtest/gtest.h>

#include <vector>

#include "services/lm/sampling.h"
#include "services/lm/stop_matcher.h"

namespace parley::lm {
namespace {

TEST(StopMatcherTest, NoStopsPassesEverythingThrough) {
  StopMatcher m;
  EXPECT_EQ(m.push("hello").text, "hello");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcherTest, HoldsBackAPossiblePrefixAndCutsAtTheStop) {
  StopMatcher m({"</s>"});
  auto a = m.push("answer <");
  EXPECT_EQ(a.text, "answer ");
  EXPECT_EQ(m.held_bytes(), 1u);
  auto b = m.push("/");
  EXPECT_EQ(b.text, "");
  auto c = m.push("s> more");
  EXPECT_TRUE(c.stopped);
  EXPECT_EQ(c.text, "");
  EXPECT_TRUE(m.push("x").text.empty()) << "nothing after a stop";
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcherTest, ReleasesAPrefixThatDidNotComplete) {
  StopMatcher m({"User:"});
  EXPECT_EQ(m.push("Use").text, "");
  auto r = m.push("d it");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "Used it");
  EXPECT_EQ(m.push("\nUs").text, "\n");
  EXPECT_EQ(m.flush(), "Us");
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo w"});
  auto r = m.push("hello world");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "hel");
  EXPECT_EQ(r.stop_index, 1u);
}

TEST(StopMatcherTest, MultiByteStopAcrossPushesKeepsUtf8Whole) {
  StopMatcher m({"\xC3\xA9t\xC3\xA9"});  // "été"
  auto a = m.push("caf\xC3\xA9");         // "café": é could start the stop
  EXPECT_EQ(a.text, "caf");
  auto b = m.push("s");
  EXPECT_EQ(b.text, "\xC3\xA9s");
  auto c = m.push(" \xC3\xA9t\xC3\xA9!");
  EXPECT_TRUE(c.stopped);
  EXPECT_EQ(c.text, " ");
}

TEST(SamplingTest, GreedyPicksTheArgmax) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  auto t = sample_token(logits, {}, SamplingOptions{}, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1);
}

TEST(SamplingTest, RepetitionPenaltyDemotesSeenTokens) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  SamplingOptions o;
  o.repetition_penalty = 1.5f;
  const std::vector<std::int32_t> recent = {1, 1, 2};
  auto t = sample_token(logits, recent, o, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 3);
  EXPECT_FLOAT_EQ(logits[1], 2.0f / 1.5f) << "penalized once, though seen twice";
  EXPECT_FLOAT_EQ(logits[2], -1.5f) << "negative logits are multiplied";
  // Only the last penalty_last_n tokens count.
  std::vector<float> l2 = {0.1f, 2.0f, -1.0f, 1.9f};
  o.penalty_last_n = 1;
  auto t2 = sample_token(l2, recent, o, 0);
  EXPECT_EQ(*t2, 1);
}

TEST(SamplingTest, SeedAndStepMakeDrawsReproducible) {
  std::vector<float> base(50);
  for (std::size_t i = 0; i < base.size(); ++i) base[i] = static_cast<float>(i % 7) * 0.3f;
  SamplingOptions o;
  o.temperature = 1.0f;
  o.seed = 1234;
  std::vector<std::int32_t> a, b, c;
  for (std::uint64_t step = 0; step < 40; ++step) {
    auto l1 = base, l2 = base, l3 = base;
    a.push_back(*sample_token(l1, {}, o, step));
    b.push_back(*sample_token(l2, {}, o, step));
    SamplingOptions other = o;
    other.seed = 4321;
    c.push_back(*sample_token(l3, {}, other, step));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SamplingTest, ValidationRejectsBadValues) {
  SamplingOptions o;
  o.temperature = -1.0f;
  EXPECT_EQ(validate(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.top_p = 0.0f;
  EXPECT_EQ(validate(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.top_k = -3;
  EXPECT_EQ(validate(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.repetition_penalty = 0.0f;
  EXPECT_NE(validate(o).message().find("repetition_penalty"), std::string::npos);
  EXPECT_TRUE(validate(SamplingOptions{}).is_ok());
}

}  // namespace
}  // namespace parley::lm
