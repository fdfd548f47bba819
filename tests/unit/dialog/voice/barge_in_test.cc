// The barge-in rule: backchannels, fillers, short noises and wordless sounds do not interrupt
// the bot; real speech does.
#include "services/dialog/voice/barge_in.h"

#include <gtest/gtest.h>

namespace parley::dialog::voice {
namespace {

using namespace std::chrono_literals;

TEST(BargeIn, WordsAreLowerCasedAndSplitOnPunctuationAndHyphens) {
  EXPECT_EQ(words_of("Uh-huh. Wait, STOP!"), (std::vector<std::string>{"uh", "huh", "wait", "stop"}));
  EXPECT_EQ(words_of("I'm  here"), (std::vector<std::string>{"i'm", "here"}));
  EXPECT_TRUE(words_of(" ... ").empty());
}

TEST(BargeIn, BackchannelsDoNotInterrupt) {
  const BargeInRule rule;
  for (const char* said : {"mhm", "Mm-hmm.", "uh-huh", "yeah", "Yeah, yeah.", "okay", "right", "I see", "got it", "oh wow", "um"}) {
    EXPECT_EQ(barge_in_refusal(rule, 800ms, said), "backchannel") << said;
  }
}

TEST(BargeIn, RealSpeechInterruptsOnceLongEnough) {
  const BargeInRule rule;
  EXPECT_TRUE(interrupts(rule, 500ms, "wait"));
  EXPECT_TRUE(interrupts(rule, 400ms, "okay stop"));
  EXPECT_TRUE(interrupts(rule, 900ms, "no I said seven"));
  EXPECT_EQ(barge_in_refusal(rule, 399ms, "stop stop stop"), "too_short");
  EXPECT_EQ(barge_in_refusal(rule, 2s, ""), "no_words") << "noise the recognizer finds no words in";
  EXPECT_EQ(barge_in_refusal(rule, 2s, " ?! "), "no_words");
}

TEST(BargeIn, RuleIsConfigurable) {
  BargeInRule rule{.min_speech = 200ms, .min_words = 2};
  EXPECT_EQ(barge_in_refusal(rule, 300ms, "stop"), "backchannel");
  EXPECT_TRUE(interrupts(rule, 300ms, "stop please"));
}

}  // namespace
}  // namespace parley::dialog::voice
