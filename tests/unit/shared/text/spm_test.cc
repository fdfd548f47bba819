// Tests for the SentencePiece tokenizer: score-ordered merges, space prefix, byte fallback,
// specials, and the llama2.c stories260K vocabulary against llama.cpp's ids
// (data/stories260k_reference.txt from tools/reference/text_tokenize_reference.py).
// Depends on parley_text; the stories260K test skips without the shared test data.
#include <gtest/gtest.h>

#include <random>

#include "shared/text/factory.h"
#include "shared/text/spm.h"
#include "tests/unit/shared/text/gguf_vocab_reader.h"
#include "tests/unit/shared/text/test_util.h"

namespace parley::text {
namespace {

// <unk> <s> </s>, 256 byte tokens, then pieces with scores.
std::unique_ptr<SpmTokenizer> tiny_spm(const std::vector<std::pair<std::string, float>>& pieces,
                                       SpmConfig config = {}) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<TokenType> types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    scores.push_back(0);
    types.push_back(TokenType::kByte);
  }
  for (const auto& [piece, score] : pieces) {
    tokens.push_back(piece);
    scores.push_back(score);
    types.push_back(TokenType::kNormal);
  }
  SpecialTokens special;
  special.unk = 0;
  special.bos = 1;
  special.eos = 2;
  auto tok = SpmTokenizer::create(std::move(tokens), std::move(scores), std::move(types), special, config);
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return std::move(tok).value();
}

constexpr TokenId kFirstPiece = 259;

TEST(Spm, HighestScoreMergesFirstWithSpacePrefix) {
  // "▁" "h" "i" "▁h" "hi" "▁hi": "hi" (score -1) beats "▁h" (-2), then "▁hi" (-3).
  auto tok = tiny_spm({{"\xE2\x96\x81", -5}, {"h", -5}, {"i", -5}, {"\xE2\x96\x81h", -2}, {"hi", -1},
                       {"\xE2\x96\x81hi", -3}});
  const TokenId space_hi = kFirstPiece + 5;
  EXPECT_EQ(tok->encode("hi", {.add_special = false}).value(), (std::vector<TokenId>{space_hi}));
  EXPECT_EQ(tok->encode("hi", {.add_special = true}).value(), (std::vector<TokenId>{1, space_hi}));
  EXPECT_EQ(tok->decode(tok->encode("hi hi").value()), "hi hi");
}

TEST(Spm, ByteFallbackAndRoundTripOfAnyBytes) {
  auto tok = tiny_spm({{"\xE2\x96\x81", -5}, {"a", -1}});
  // "é" is not a piece: its two UTF-8 bytes become <0xC3> <0xA9>.
  const auto ids = tok->encode("\xC3\xA9", {.add_special = false}).value();
  EXPECT_EQ(ids, (std::vector<TokenId>{kFirstPiece, 3 + 0xC3, 3 + 0xA9}));
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::string s(static_cast<std::size_t>(rng() % 30), '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    ASSERT_EQ(tok->decode(tok->encode(s).value()), s) << "round " << round;
  }
}

TEST(Spm, SpecialsAndPrefixAfterThem) {
  auto tok = tiny_spm({{"\xE2\x96\x81", -5}, {"a", -1}, {"\xE2\x96\x81" "a", -0.5f}});
  const TokenId space_a = kFirstPiece + 2;
  // With parse_special, "</s>" is a token and the text after it gets a space prefix again.
  auto ids = tok->encode("a</s>a", {.add_special = false, .parse_special = true}).value();
  EXPECT_EQ(ids, (std::vector<TokenId>{space_a, 2, space_a}));
  ids = tok->encode("a</s>", {.add_special = false}).value();
  EXPECT_GT(ids.size(), 2u);  // spelled out, not the control token
  EXPECT_TRUE(tok->is_eog(2));
}

TEST(Spm, NoSpacePrefixWhenConfigured) {
  SpmConfig config;
  config.add_space_prefix = false;
  auto tok = tiny_spm({{"a", -1}}, config);
  EXPECT_EQ(tok->encode("a", {.add_special = false}).value(), (std::vector<TokenId>{kFirstPiece}));
}

TEST(Stories260K, MatchesLlamaCppIdsAndRoundTrips) {
  const std::string path = testing::testdata("models/llama2c_stories260K/stories260K.gguf");
  auto data = testing::GgufVocabReader::read(path);
  if (data.status().code() == StatusCode::kNotFound) GTEST_SKIP() << data.status().message();
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->kind(), TokenizerKind::kSentencePiece);
  EXPECT_EQ((*tok)->vocab_size(), 512u);
  EXPECT_TRUE((*tok)->add_bos());
  const auto cases =
      testing::read_reference(std::string(PARLEY_SOURCE_DIR) + "/tests/unit/shared/text/data/stories260k_reference.txt");
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    const auto ids = (*tok)->encode(c.text, {.add_special = false, .parse_special = c.parse_special}).value();
    EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(c.ids)) << "text: '" << c.text << "'";
    EXPECT_EQ((*tok)->decode(ids), c.text);
  }
  const auto with_bos = (*tok)->encode("Once upon a time").value();
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos[0], 1);
  EXPECT_EQ((*tok)->decode(with_bos), "Once upon a time");
}

}  // namespace
}  // namespace parley::text
