// Cutting a streamed reply into pieces to synthesize: the first clause early, later ones longer,
// no cuts inside numbers, a cap on piece length.
#include "services/dialog/voice/clauses.h"

#include <gtest/gtest.h>

namespace parley::dialog::voice {
namespace {

std::vector<std::string> feed(ClauseSplitter& s, const std::vector<std::string>& deltas) {
  std::vector<std::string> out;
  for (const auto& d : deltas) {
    for (auto& p : s.push(d)) out.push_back(p);
  }
  return out;
}

TEST(ClauseSplitter, FirstClauseAsSoonAsItEnds) {
  ClauseSplitter s;
  auto pieces = feed(s, {"Sure", ",", " I", " can", " help", " with", " that."});
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0], "Sure,");
  EXPECT_EQ(s.flush(), "I can help with that.");
}

TEST(ClauseSplitter, LaterPiecesGatherShortClauses) {
  ClauseSplitter s(4, 30);
  auto pieces = feed(s, {"Yes. ", "The pool opens at 7.30 am, ", "and it closes at 10 pm. ", "Enjoy! ", "Bye"});
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0], "Yes.");
  EXPECT_EQ(pieces[1], "The pool opens at 7.30 am, and it closes at 10 pm.");
  EXPECT_EQ(s.flush(), "Enjoy! Bye");
  EXPECT_EQ(s.pieces(), 3u);
}

TEST(ClauseSplitter, PunctuationInsideTokensDoesNotCut) {
  ClauseSplitter s(1, 1);
  auto pieces = feed(s, {"It costs 3.50 or 4,20 e.g.", "x"});
  EXPECT_TRUE(pieces.empty());
  EXPECT_EQ(s.flush(), "It costs 3.50 or 4,20 e.g.x");
}

TEST(ClauseSplitter, LongTextWithoutPunctuationIsCutAtASpace) {
  ClauseSplitter s(4, 30, 40);
  std::string text;
  for (int i = 0; i < 20; ++i) text += "word ";
  auto pieces = s.push(text);
  ASSERT_FALSE(pieces.empty());
  for (const auto& p : pieces) {
    EXPECT_LE(p.size(), 40u);
    EXPECT_NE(p.back(), ' ');
  }
}

TEST(ClauseSplitter, NewlinesEndClauses) {
  ClauseSplitter s(4, 4);
  auto pieces = feed(s, {"First line\nSecond line\n"});
  EXPECT_EQ(pieces, (std::vector<std::string>{"First line", "Second line"}));
}

}  // namespace
}  // namespace parley::dialog::voice
