// Tests for QA text helpers: UTF-8 validation, sentence splitting, words, stems.
#include "services/qa/text_utils.h"

#include <gtest/gtest.h>

namespace parley::qa {
namespace {

std::vector<std::string> sentences(std::string_view text) {
  std::vector<std::string> out;
  for (Span s : split_sentences(text)) out.emplace_back(text.substr(s.begin, s.size()));
  return out;
}

TEST(Utf8, AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  std::size_t bad = 0;
  EXPECT_FALSE(valid_utf8("ab\xff", &bad));
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

TEST(Sentences, SplitsOnTerminatorsButNotAbbreviationsInitialsOrDecimals) {
  EXPECT_EQ(sentences("Rollo led the Vikings. He was baptised in 912! Was he? Yes."),
            (std::vector<std::string>{"Rollo led the Vikings.", "He was baptised in 912!", "Was he?", "Yes."}));
  EXPECT_EQ(sentences("Dr. Smith met J. R. Tolkien at St. Mary's, e.g. on Monday. It cost 3.5 pounds."),
            (std::vector<std::string>{"Dr. Smith met J. R. Tolkien at St. Mary's, e.g. on Monday.",
                                      "It cost 3.5 pounds."}));
  EXPECT_EQ(sentences("first paragraph without a dot\n\nsecond one"),
            (std::vector<std::string>{"first paragraph without a dot", "second one"}));
  EXPECT_EQ(sentences("He said \"go.\" Then he left."),
            (std::vector<std::string>{"He said \"go.\"", "Then he left."}));
}

TEST(Words, LowerCasesAndKeepsSpans) {
  auto w = words("The Normans' duke, Rollo (911)");
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0].norm, "the");
  EXPECT_EQ(w[1].norm, "normans");
  EXPECT_EQ(w[3].norm, "rollo");
  EXPECT_EQ(w[4].norm, "911");
  EXPECT_EQ(w[3].span.begin, 19u);
  EXPECT_EQ(count_words("  a b\n c  "), 3u);
}

TEST(Stem, MatchesSimpleInflections) {
  EXPECT_EQ(stem("centuries"), stem("century"));
  EXPECT_EQ(stem("ruled"), "rul");
  EXPECT_EQ(stem("normans"), "norman");
  EXPECT_EQ(stem("class"), "class");
  EXPECT_TRUE(is_stop_word("the"));
  EXPECT_FALSE(is_stop_word("normandy"));
}

}  // namespace
}  // namespace parley::qa
