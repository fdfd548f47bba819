// Tests for the byte-level BPE tokenizer and its pre-tokenizers: hand-checked splits per rule,
// merge order, specials, invalid UTF-8 round trips, and SmolLM2 and Qwen2.5 against llama.cpp's ids
// (tests/unit/shared/text/data/{smollm2,qwen2}_reference.txt, from
// tools/reference/text_tokenize_reference.py). Depends on parley_text; the real-vocabulary tests
// skip without their model file.
#include <gtest/gtest.h>

#include <random>

#include "shared/text/bpe.h"
#include "shared/text/factory.h"
#include "shared/text/pretokenize.h"
#include "shared/text/unicode.h"
#include "tests/unit/shared/text/gguf_vocab_reader.h"
#include "tests/unit/shared/text/test_util.h"

namespace parley::text {
namespace {

std::vector<std::string> split(PreTokenizer pre, std::string_view text) {
  std::vector<std::string> out;
  std::size_t expect_begin = 0;
  for (const auto& [b, e] : pre_tokenize(pre, text)) {
    EXPECT_EQ(b, expect_begin) << "pieces must tile the text";
    expect_begin = e;
    out.emplace_back(text.substr(b, e - b));
  }
  EXPECT_EQ(expect_begin, text.size());
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenize, Gpt2) {
  EXPECT_EQ(split(PreTokenizer::kGpt2, "Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "I've it's 'RE"), (Pieces{"I", "'ve", " it", "'s", " '", "RE"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "  a"), (Pieces{" ", " a"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "a  \n b"), (Pieces{"a", "  \n", " b"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "x2024 !!?"), (Pieces{"x", "2024", " !!?"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "end  "), (Pieces{"end", "  "}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "\tb"), (Pieces{"\t", "b"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "Grüße 日本"), (Pieces{"Grüße", " 日本"}));
  EXPECT_TRUE(split(PreTokenizer::kGpt2, "").empty());
}

TEST(PreTokenize, SmollmIsolatesDigits) {
  EXPECT_EQ(split(PreTokenizer::kSmollm, "x2024 3"), (Pieces{"x", "2", "0", "2", "4", " ", "3"}));
  EXPECT_EQ(split(PreTokenizer::kSmollm, "Hello world"), (Pieces{"Hello", " world"}));
}

TEST(PreTokenize, Llama3AndQwen2) {
  EXPECT_EQ(split(PreTokenizer::kLlama3, "12345 abc"), (Pieces{"123", "45", " abc"}));
  EXPECT_EQ(split(PreTokenizer::kQwen2, "123"), (Pieces{"1", "2", "3"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "Hello\n\nworld"), (Pieces{"Hello", "\n\n", "world"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "don'T 'Ll"), (Pieces{"don", "'T", " '", "Ll"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "x !!\n\ny"), (Pieces{"x", " !!\n\n", "y"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "a  \n  b"), (Pieces{"a", "  \n", " ", " b"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "(hello)"), (Pieces{"(hello", ")"}));
}

TEST(PreTokenize, InvalidBytesAreTheirOwnCodePoints) {
  const std::string text = "ab\xFF\xFE cd\xC3";
  const auto pieces = split(PreTokenizer::kGpt2, text);
  EXPECT_EQ(pieces, (Pieces{"ab", "\xFF\xFE", " cd", "\xC3"}));
}

TEST(PreTokenize, Names) {
  EXPECT_EQ(pre_tokenizer_from_name("smollm").value(), PreTokenizer::kSmollm);
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe").value(), PreTokenizer::kLlama3);
  EXPECT_EQ(pre_tokenizer_from_name("qwen2").value(), PreTokenizer::kQwen2);
  EXPECT_EQ(pre_tokenizer_from_name("gpt-2").value(), PreTokenizer::kGpt2);
  EXPECT_EQ(pre_tokenizer_from_name("").value(), PreTokenizer::kGpt2);
  const auto bad = pre_tokenizer_from_name("klingon");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("klingon"), std::string::npos);
}

// GPT-2's byte -> char mapping, written independently of bpe.cc for the tests.
std::string byte_char(int b) {
  int n = 0;
  for (int i = 0; i < 256; ++i) {
    const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
    if (i == b) {
      std::string s;
      unicode::append_utf8(s, printable ? static_cast<char32_t>(i) : static_cast<char32_t>(256 + n));
      return s;
    }
    if (!printable) ++n;
  }
  return {};
}

// A vocabulary of the 256 byte tokens plus `extra` tokens and merges.
std::unique_ptr<BpeTokenizer> tiny_bpe(std::vector<std::string> extra, const std::vector<std::string>& merges,
                                       std::vector<TokenType> extra_types = {}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
  std::vector<TokenType> types(256, TokenType::kNormal);
  for (std::size_t i = 0; i < extra.size(); ++i) {
    tokens.push_back(extra[i]);
    types.push_back(i < extra_types.size() ? extra_types[i] : TokenType::kNormal);
  }
  SpecialTokens special;
  auto tok = BpeTokenizer::create(std::move(tokens), std::move(types), merges, special, BpeConfig{});
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return std::move(tok).value();
}

TEST(Bpe, MergesApplyByRankLeftmostFirst) {
  auto tok = tiny_bpe({"aa", "aaa", "he", "ll", "hell", "hello", "\xC4\xA0w"},
                      {"a a", "aa a", "h e", "l l", "he ll", "hell o", "\xC4\xA0 w"});
  const TokenId aa = 256, aaa = 257, hello = 261, space_w = 262;
  EXPECT_EQ(tok->encode("aa", {}).value(), (std::vector<TokenId>{aa}));
  // "aaaa": a-a merges leftmost first twice -> aa aa; "aa a" needs a lone "a" on the right.
  EXPECT_EQ(tok->encode("aaaa", {}).value(), (std::vector<TokenId>{aa, aa}));
  EXPECT_EQ(tok->encode("aaa", {}).value(), (std::vector<TokenId>{aaa}));
  EXPECT_EQ(tok->encode("hello w", {}).value(), (std::vector<TokenId>{hello, space_w}));
  EXPECT_EQ(tok->decode(tok->encode("hello w", {}).value()), "hello w");
}

TEST(Bpe, InvalidUtf8RoundTripsByteForByte) {
  auto tok = tiny_bpe({"aa"}, {"a a"});
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string s(static_cast<std::size_t>(rng() % 40), '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    const auto ids = tok->encode(s, {}).value();
    ASSERT_EQ(tok->decode(ids), s) << "round " << round;
  }
}

TEST(Bpe, SpecialTokensMatchOnlyWhenParsed) {
  auto tok = tiny_bpe({"<|im_start|>", "<tool>"}, {}, {TokenType::kControl, TokenType::kUserDefined});
  const TokenId im_start = 256, tool = 257;
  auto ids = tok->encode("<|im_start|>x", {.parse_special = true}).value();
  EXPECT_EQ(ids.front(), im_start);
  EXPECT_EQ(ids.size(), 2u);
  ids = tok->encode("<|im_start|>x", {.parse_special = false}).value();
  EXPECT_EQ(ids.size(), 13u);  // every byte on its own
  // User-defined tokens always match.
  ids = tok->encode("a<tool>b", {.parse_special = false}).value();
  EXPECT_EQ(ids, (std::vector<TokenId>{'a', tool, 'b'}));  // byte b is token b here
  // skip_special hides control tokens only.
  EXPECT_EQ(tok->decode(std::vector<TokenId>{im_start, tool}), "<tool>");
  EXPECT_EQ(tok->decode(std::vector<TokenId>{im_start, tool}, {.skip_special = false}), "<|im_start|><tool>");
}

TEST(Bpe, RejectsInconsistentInput) {
  EXPECT_FALSE(BpeTokenizer::create({}, {}, {}, {}, {}).ok());
  EXPECT_FALSE(BpeTokenizer::create({"a"}, {TokenType::kNormal, TokenType::kNormal}, {}, {}, {}).ok());
  SpecialTokens bad;
  bad.eos = 5;
  EXPECT_FALSE(BpeTokenizer::create({"a"}, {}, {}, bad, {}).ok());
  VocabData data;
  data.model = "wordpiece?";
  data.tokens = {"a"};
  const auto r = tokenizer_from_vocab(data);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported tokenizer model"), std::string::npos);
}

TEST(Bpe, LargeInputIsFastEnoughAndExact) {
  auto tok = tiny_bpe({"aa", "aaa"}, {"a a", "aa a"});
  // One 200 KB "word" is the worst case for merging: must stay n log n (this would take minutes
  // if quadratic); exactness is checked by the round trip.
  const std::string big(200000, 'a');
  const auto ids = tok->encode(big, {}).value();
  EXPECT_EQ(tok->decode(ids), big);
}

// ---- SmolLM2 (real GGUF) vs llama.cpp ----

TEST(SmolLm2, MatchesLlamaCppIdsAndRoundTrips) {
  const std::string model = testing::smollm2_path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (PARLEY_MODEL_DIR/lm-smollm2/...)";
  auto data = testing::GgufVocabReader::read(model);
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  const std::string chat_template = data->chat_template;
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->vocab_size(), 49152u);
  EXPECT_FALSE((*tok)->add_bos());
  EXPECT_TRUE((*tok)->is_eog(2));  // <|im_end|>
  EXPECT_TRUE((*tok)->is_eog(0));  // <|endoftext|>
  EXPECT_FALSE((*tok)->is_eog(1));
  const auto cases = testing::read_reference(std::string(PARLEY_SOURCE_DIR) + "/tests/unit/shared/text/data/smollm2_reference.txt");
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    const auto ids = (*tok)->encode(c.text, {.add_special = false, .parse_special = c.parse_special}).value();
    EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(c.ids)) << "text: '" << c.text << "'";
    EXPECT_EQ((*tok)->decode(ids, {.skip_special = false}), c.text);
  }
}

// ---- Qwen2.5 (real GGUF, "qwen2" pre-tokenizer, 151k vocab) vs llama.cpp ----

TEST(Qwen2, MatchesLlamaCppIdsAndRoundTrips) {
  const std::string model = testing::qwen_path();
  if (model.empty()) GTEST_SKIP() << "Qwen2.5-Coder GGUF not found (tools/models/fetch --only lm-qwen2.5-coder)";
  auto data = testing::GgufVocabReader::read(model);
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  EXPECT_EQ(data->pre, "qwen2");
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_FALSE((*tok)->add_bos());
  const auto cases = testing::read_reference(std::string(PARLEY_SOURCE_DIR) + "/tests/unit/shared/text/data/qwen2_reference.txt");
  ASSERT_GE(cases.size(), 15u);
  for (const auto& c : cases) {
    const auto ids = (*tok)->encode(c.text, {.add_special = false, .parse_special = c.parse_special}).value();
    EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(c.ids)) << "text: '" << c.text << "'";
    EXPECT_EQ((*tok)->decode(ids, {.skip_special = false}), c.text);
  }
}

}  // namespace
}  // namespace parley::text
