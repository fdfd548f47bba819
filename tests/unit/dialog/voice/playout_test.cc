// Pacing the bot's audio in real time with a lead, segments in order, and the played-text
// estimate a barge-in cuts the history to.
#include "services/dialog/voice/playout.h"

#include <gtest/gtest.h>

namespace parley::dialog::voice {
namespace {

using namespace std::chrono_literals;

std::string samples(int n) { return std::string(static_cast<std::size_t>(n) * 2, '\x01'); }

std::size_t total(const std::vector<std::string>& frames) {
  std::size_t n = 0;
  for (const auto& f : frames) n += f.size();
  return n;
}

TEST(Playout, SendsNoMoreThanTheLeadAhead) {
  Playout p(100ms, 20ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1s;
  auto seg = p.add_segment("hello there");
  ASSERT_TRUE(p.add_audio(seg, 1000, samples(1000)));  // 1 s at 1 kHz
  p.end_segment(seg);
  auto f = p.due(t0);
  EXPECT_EQ(total(f), 100u * 2) << "100 ms of lead";
  EXPECT_EQ(f.size(), 5u);
  EXPECT_TRUE(p.due(t0).empty()) << "nothing more until some is played";
  EXPECT_EQ(total(p.due(t0 + 40ms)), 40u * 2);
  EXPECT_EQ(p.played_samples(t0 + 40ms), 40);
  // Later, all of it.
  std::size_t sent = 140 * 2;
  for (int ms = 60; ms <= 1000; ms += 20) sent += total(p.due(t0 + std::chrono::milliseconds(ms)));
  EXPECT_EQ(sent, 1000u * 2);
  EXPECT_TRUE(p.all_sent());
  EXPECT_FALSE(p.finished(t0 + 950ms));
  EXPECT_TRUE(p.finished(t0 + 1001ms));
}

TEST(Playout, SegmentsInOrderAndWaitingForAudio) {
  Playout p(1000ms, 100ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1s;
  auto a = p.add_segment("one");
  auto b = p.add_segment("two");
  ASSERT_TRUE(p.add_audio(b, 1000, samples(100)));
  p.end_segment(b);
  EXPECT_TRUE(p.due(t0).empty()) << "segment two waits for segment one";
  ASSERT_TRUE(p.add_audio(a, 1000, samples(150)));
  EXPECT_EQ(total(p.due(t0)), 100u * 2) << "a whole frame; the rest waits for more of segment one";
  p.end_segment(a);
  EXPECT_EQ(total(p.due(t0)), (50u + 100u) * 2);
  EXPECT_FALSE(p.add_audio(a, 2000, samples(10))) << "another rate is refused";
}

TEST(Playout, PlayedTextIsWholeSegmentsThenWholeWords) {
  Playout p(10000ms, 10ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1s;
  auto a = p.add_segment("Sure.");
  auto b = p.add_segment("What time would you like the table?");
  ASSERT_TRUE(p.add_audio(a, 1000, samples(500)));
  p.end_segment(a);
  ASSERT_TRUE(p.add_audio(b, 1000, samples(1000)));
  p.end_segment(b);
  (void)p.due(t0);  // everything sent at once (large lead)
  EXPECT_EQ(p.played_text(t0), "");
  EXPECT_EQ(p.played_text(t0 + 300ms), "") << "'Sure.' is one word, not heard whole";
  EXPECT_EQ(p.played_text(t0 + 500ms), "Sure.");
  // 400 of 1000 ms of the second: 40% of 35 characters = 14 -> "What time woul" -> whole words.
  EXPECT_EQ(p.played_text(t0 + 900ms), "Sure. What time");
  EXPECT_EQ(p.played_text(t0 + 1500ms), "Sure. What time would you like the table?");
  EXPECT_EQ(p.played(t0 + 900ms), 900ms);
}

TEST(Playout, TheSynthesizersTextRangesPlaceTheCut) {
  Playout p(10000ms, 10ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1s;
  // "Sure, we have a pool." spoken as two chunks: "Sure," (bytes 0-5, 800 ms: a long pause after
  // it) and "we have a pool." (6-21, 400 ms).
  auto a = p.add_segment("Sure, we have a pool.");
  ASSERT_TRUE(p.add_audio(a, 1000, samples(800), 0, 5));
  ASSERT_TRUE(p.add_audio(a, 1000, samples(400), 6, 21));
  p.end_segment(a);
  (void)p.due(t0);
  // 900 ms heard: into the second chunk by 25% -> "we h" -> whole words "Sure, we".
  EXPECT_EQ(p.played_text(t0 + 900ms), "Sure, we");
  // Spread over the whole text instead, 900 / 1200 of 21 bytes would claim "Sure, we have a".
  EXPECT_EQ(p.played_text(t0 + 1200ms), "Sure, we have a pool.");
}

}  // namespace
}  // namespace parley::dialog::voice
