// The TTS text front end: number words, normalisation (the issue's sentence included), clause and
// piece splitting with byte offsets, SSML-lite, the Piper voice config and phoneme ids.
// Why: what the voice says is decided here; every rule is pinned. Depends on parley_tts_lib.
#include <gtest/gtest.h>

#include "services/tts/number_words.h"
#include "services/tts/piper_voice.h"
#include "services/tts/ssml.h"
#include "services/tts/text_normalizer.h"
#include "services/tts/text_splitter.h"

namespace parley::tts {
namespace {

TEST(NumberWords, CardinalsOrdinalsYears) {
  EXPECT_EQ(cardinal_words(0), "zero");
  EXPECT_EQ(cardinal_words(42), "forty-two");
  EXPECT_EQ(cardinal_words(115), "one hundred fifteen");
  EXPECT_EQ(cardinal_words(1234567), "one million two hundred thirty-four thousand five hundred sixty-seven");
  EXPECT_EQ(cardinal_words(-5), "minus five");
  EXPECT_EQ(ordinal_words(1), "first");
  EXPECT_EQ(ordinal_words(5), "fifth");
  EXPECT_EQ(ordinal_words(22), "twenty-second");
  EXPECT_EQ(ordinal_words(30), "thirtieth");
  EXPECT_EQ(ordinal_words(100), "one hundredth");
  EXPECT_EQ(year_words(2026), "twenty twenty-six");
  EXPECT_EQ(year_words(2005), "two thousand five");
  EXPECT_EQ(year_words(1999), "nineteen ninety-nine");
  EXPECT_EQ(year_words(1900), "nineteen hundred");
  EXPECT_EQ(year_words(1905), "nineteen oh five");
  EXPECT_EQ(digit_words("0512"), "zero five one two");
}

TEST(Normalizer, TheIssueSentence) {
  EXPECT_EQ(normalize_for_speech("Your table for 4 at 19:30 on 2026-12-05 costs €20"),
            "Your table for four at seven thirty PM on December fifth, twenty twenty-six costs twenty euros");
}

TEST(Normalizer, Rules) {
  EXPECT_EQ(normalize_for_speech("at 7:05 am"), "at seven oh five AM");
  EXPECT_EQ(normalize_for_speech("at 9:00"), "at nine o'clock");
  EXPECT_EQ(normalize_for_speech("at 12:00 pm"), "at twelve PM");
  EXPECT_EQ(normalize_for_speech("on 12/25/2026"), "on December twenty-fifth, twenty twenty-six");
  EXPECT_EQ(normalize_for_speech("$5.50"), "five dollars and fifty cents");
  EXPECT_EQ(normalize_for_speech("$1"), "one dollar");
  EXPECT_EQ(normalize_for_speech("£3"), "three pounds");
  EXPECT_EQ(normalize_for_speech("20 EUR"), "twenty euros");
  EXPECT_EQ(normalize_for_speech("$2.5k"), "two point five thousand dollars");
  EXPECT_EQ(normalize_for_speech("50% off"), "fifty percent off");
  EXPECT_EQ(normalize_for_speech("the 1st and 22nd"), "the first and twenty-second");
  EXPECT_EQ(normalize_for_speech("1,234 guests"), "one thousand two hundred thirty-four guests");
  EXPECT_EQ(normalize_for_speech("pi is 3.14"), "pi is three point one four");
  EXPECT_EQ(normalize_for_speech("it is -5 outside"), "it is minus five outside");
  EXPECT_EQ(normalize_for_speech("since 1999"), "since nineteen ninety-nine");
  EXPECT_EQ(normalize_for_speech("5 km away"), "five kilometers away");
  EXPECT_EQ(normalize_for_speech("1 kg"), "one kilogram");
  EXPECT_EQ(normalize_for_speech("Dr. Smith & Mr. Jones"), "Doctor Smith and Mister Jones");
  EXPECT_EQ(normalize_for_speech("room No. 5"), "room number five");
  EXPECT_EQ(normalize_for_speech("apples, pears etc."), "apples, pears et cetera");
  EXPECT_EQ(normalize_for_speech("A4 paper"), "A four paper");
  EXPECT_EQ(normalize_for_speech("no digits here"), "no digits here");
}

TEST(Splitter, ClausesAndOffsets) {
  const std::string t = "Hello there, Dr. Smith. Your table is ready! Is 3.5 hours OK?";
  const auto c = split_clauses(t);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(t.substr(c[0].begin, c[0].body_end - c[0].begin), "Hello there");
  EXPECT_EQ(c[0].terminator, ',');
  EXPECT_FALSE(c[0].end_of_sentence);
  EXPECT_EQ(t.substr(c[1].begin, c[1].end - c[1].begin), "Dr. Smith.");
  EXPECT_TRUE(c[1].end_of_sentence);
  EXPECT_EQ(c[2].terminator, '!');
  EXPECT_EQ(t.substr(c[3].begin, c[3].body_end - c[3].begin), "Is 3.5 hours OK");
  EXPECT_EQ(c[3].terminator, '?');
  EXPECT_EQ(c[3].end, t.size());
}

TEST(Splitter, PunctuationAloneIsNotAClause) {
  EXPECT_TRUE(split_clauses("... !!! ???").empty());
  const auto c = split_clauses("Well... OK!");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].terminator, '!');
  EXPECT_EQ(split_clauses("& more").size(), 1u);
}

TEST(Splitter, FirstPieceIsTheFirstClauseWhenLongEnough) {
  const std::string t = "Welcome to the hotel, we hope you enjoy your stay. Breakfast is at eight.";
  const auto p = split_pieces(t);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(t.substr(p[0].begin, p[0].end - p[0].begin), "Welcome to the hotel,");
  EXPECT_EQ(t.substr(p[1].begin, p[1].end - p[1].begin), "we hope you enjoy your stay.");
  EXPECT_EQ(t.substr(p[2].begin, p[2].end - p[2].begin), "Breakfast is at eight.");
  // Short first clause: the whole sentence goes together.
  const auto q = split_pieces("Yes, of course. Thanks.");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].clauses.size(), 2u);
}

TEST(Splitter, LongSentencesAreCutAtClauses) {
  std::string t;
  for (int i = 0; i < 12; ++i) t += "this clause has some words in it, ";
  t += "and it ends.";
  SplitOptions o;
  o.max_piece_bytes = 100;
  o.first_piece_min_words = 0;
  const auto p = split_pieces(t, o);
  ASSERT_GT(p.size(), 3u);
  std::size_t covered = 0;
  for (const TextPiece& piece : p) {
    EXPECT_LE(piece.end - piece.begin, 100u);
    EXPECT_GE(piece.begin, covered);
    covered = piece.end;
  }
  EXPECT_EQ(covered, t.size());
}

TEST(Ssml, BreaksProsodyAndOffsets) {
  const std::string t = "<speak>Hello <break time=\"500ms\"/><prosody rate=\"slow\">Tom &amp; Jerry</prosody></speak>";
  auto p = parse_ssml(t);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_EQ(p->text.size(), t.size());
  ASSERT_EQ(p->items.size(), 3u);
  EXPECT_EQ(p->items[0].kind, SpeechItem::Kind::kText);
  EXPECT_EQ(t.substr(p->items[0].begin, p->items[0].end - p->items[0].begin), "Hello ");
  EXPECT_EQ(p->items[1].kind, SpeechItem::Kind::kBreak);
  EXPECT_EQ(p->items[1].break_ms, 500);
  EXPECT_FLOAT_EQ(p->items[2].rate, 0.75f);
  EXPECT_EQ(p->text.substr(p->items[2].begin, p->items[2].end - p->items[2].begin), "Tom &     Jerry");
}

TEST(Ssml, ErrorsNameTheProblem) {
  EXPECT_NE(parse_ssml("<speak><foo/></speak>").status().message().find("unsupported tag <foo>"), std::string::npos);
  EXPECT_NE(parse_ssml("<speak>hi").status().message().find("<speak> is never closed"), std::string::npos);
  EXPECT_NE(parse_ssml("<break time=\"fast\"/>").status().message().find("break time 'fast'"), std::string::npos);
  EXPECT_NE(parse_ssml("<prosody rate=\"900%\">x</prosody>").status().message().find("outside 25%..400%"), std::string::npos);
  EXPECT_NE(parse_ssml("a &nbsp; b").status().message().find("unknown entity"), std::string::npos);
  auto capped = parse_ssml("<break time=\"60s\"/>", 10000);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->items[0].break_ms, 10000);
}

const char* kConfig = R"({"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"},
  "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8}, "phoneme_type": "espeak",
  "num_speakers": 1, "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], ".": [10], "h": [20],
  "\u0259": [59], "l": [24], "\u02c8": [120], "o": [27], "\u028a": [100], "e": [18], "\u0303": [141]}})";

TEST(PiperVoice, ConfigAndPhonemeIds) {
  auto c = parse_voice_config(kConfig, "test-voice");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->sample_rate, 22050);
  EXPECT_FLOAT_EQ(c->noise_w, 0.8f);
  int unknown = 0;
  // "həlˈoʊ." -> ^ _ h _ ə _ l _ ˈ _ o _ ʊ _ . _ $
  EXPECT_EQ(phonemes_to_ids(*c, "h\u0259l\u02c8o\u028a.", &unknown),
            (std::vector<std::int64_t>{1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 10, 0, 2}));
  EXPECT_EQ(unknown, 0);
  // NFD: ẽ (U+1EBD) splits into e + U+0303; an unknown symbol is skipped and counted.
  EXPECT_EQ(phonemes_to_ids(*c, "\u1ebdz", &unknown), (std::vector<std::int64_t>{1, 0, 18, 0, 141, 0, 2}));
  EXPECT_EQ(unknown, 1);
}

TEST(PiperVoice, BadConfigs) {
  EXPECT_NE(parse_voice_config("{", "v").status().message().find("v: json"), std::string::npos);
  EXPECT_NE(parse_voice_config(R"({"phoneme_id_map": {"a": [1]}})", "v").status().message().find("BOS/PAD/EOS"),
            std::string::npos);
  EXPECT_NE(parse_voice_config(R"({"num_speakers": 4, "phoneme_id_map": {}})", "v").status().message().find("multi-speaker"),
            std::string::npos);
  EXPECT_NE(parse_voice_config(R"({"phoneme_id_map": {"ab": [1]}})", "v").status().message().find("not one code point"),
            std::string::npos);
}

}  // namespace
}  // namespace parley::tts
