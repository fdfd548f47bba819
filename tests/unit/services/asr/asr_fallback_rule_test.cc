// Whisper's fallback signals as AsrEngine applies them to short-context windows
// (services/asr/asr_engine.h: compression_ratio, degenerate_result).
#include <gtest/gtest.h>

#include <string>

#include "services/asr/asr_engine.h"

namespace parley::asr {
namespace {

whisper::WindowResult result(const std::string& text, double avg_logprob, std::size_t tokens) {
  whisper::WindowResult r;
  r.text = text;
  r.avg_logprob = avg_logprob;
  r.tokens.assign(tokens, 1);
  return r;
}

TEST(AsrFallbackRule, CompressionRatioSeparatesLoopsFromSpeech) {
  EXPECT_EQ(compression_ratio(""), 0.0);
  const std::string speech =
      "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
  EXPECT_LT(compression_ratio(speech), 2.4) << compression_ratio(speech);
  std::string loop;
  for (int i = 0; i < 9; ++i) loop += "Go forward 10 meters. ";  // the loop seen on a 1 s context
  EXPECT_GT(compression_ratio(loop), 2.4) << compression_ratio(loop);
}

TEST(AsrFallbackRule, DegenerateOnLoopsLowConfidenceOrTheTokenCap) {
  const std::string ok = "Go forward 10 meters.";
  EXPECT_FALSE(degenerate_result(result(ok, -0.2, 8), 40));
  std::string loop;
  for (int i = 0; i < 9; ++i) loop += ok + " ";
  EXPECT_TRUE(degenerate_result(result(loop, -0.1, 39), 120)) << "repetition";
  EXPECT_TRUE(degenerate_result(result(ok, -1.3, 8), 40)) << "average log-probability below -1";
  EXPECT_TRUE(degenerate_result(result(ok, -0.2, 40), 40)) << "ran into the token cap";
  whisper::WindowResult silent = result("", -2.0, 0);
  silent.silence = true;
  EXPECT_FALSE(degenerate_result(silent, 40)) << "silence is an answer, not a failure";
}

}  // namespace
}  // namespace parley::asr
