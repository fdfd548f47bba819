// Tests for the chunker: Markdown headings as context, word budgets, sentence overlap.
#include "services/qa/chunker.h"

#include <gtest/gtest.h>

namespace parley::qa {
namespace {

TEST(Chunker, MarkdownHeadingsBecomeContextAndSyntaxIsStripped) {
  std::string doc =
      "# Opening hours\n"
      "We open at **9am** on weekdays. See [the map](http://x/map).\n\n"
      "## Holidays\n"
      "- Closed on Christmas.\n"
      "- Open on `Easter` Monday.\n";
  auto chunks = chunk_document("Shop", doc, {});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].context, "Shop > Opening hours");
  EXPECT_EQ(chunks[0].text, "We open at 9am on weekdays. See the map.");
  EXPECT_EQ(chunks[1].context, "Shop > Opening hours > Holidays");
  EXPECT_EQ(chunks[1].text, "Closed on Christmas. Open on Easter Monday.");
  ASSERT_EQ(chunks[1].sentences.size(), 2u);
  EXPECT_EQ(chunks[1].text.substr(chunks[1].sentences[1].begin, chunks[1].sentences[1].size()), "Open on Easter Monday.");
}

TEST(Chunker, PlainTextIsCutByWordBudgetWithSentenceOverlap) {
  // Six sentences of 4 words each; budget 10 words → 2 sentences per chunk; overlap 4 words →
  // each chunk repeats the previous chunk's last sentence.
  std::string doc = "One aa bb cc. Two aa bb cc. Three aa bb cc. Four aa bb cc. Five aa bb cc. Six aa bb cc.";
  auto chunks = chunk_document("", doc, {.chunk_words = 10, .overlap_words = 4});
  ASSERT_EQ(chunks.size(), 5u);
  EXPECT_EQ(chunks[0].text, "One aa bb cc. Two aa bb cc.");
  EXPECT_EQ(chunks[1].text, "Two aa bb cc. Three aa bb cc.");
  EXPECT_EQ(chunks[4].text, "Five aa bb cc. Six aa bb cc.");
  EXPECT_EQ(chunks[0].context, "");
  auto no_overlap = chunk_document("", doc, {.chunk_words = 10, .overlap_words = 0});
  ASSERT_EQ(no_overlap.size(), 3u);
  EXPECT_EQ(no_overlap[2].text, "Five aa bb cc. Six aa bb cc.");
}

TEST(Chunker, OverlongSentenceIsCut) {
  std::string doc;
  for (int i = 0; i < 50; ++i) doc += "word" + std::to_string(i) + " ";
  auto chunks = chunk_document("", doc, {.chunk_words = 20, .overlap_words = 0, .max_sentence_words = 20});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(count_words(chunks[0].text), 20u);
  EXPECT_EQ(count_words(chunks[2].text), 10u);
}

TEST(Chunker, HashInsideTextOrFenceIsNotAHeading) {
  auto chunks = chunk_document("", "Use #hashtags here.\n```\n# not a heading\n```\n", {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].context, "");
  EXPECT_NE(chunks[0].text.find("# not a heading"), std::string::npos) << chunks[0].text;
}

}  // namespace
}  // namespace parley::qa
