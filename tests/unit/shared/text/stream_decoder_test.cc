// Tests for StreamDecoder: chunks are always complete UTF-8, their concatenation equals decode(),
// specials are skipped, and broken sequences come out as U+FFFD instead of invalid bytes.
// Depends on parley_text (and the shared gpt-2 test vocab for the real-vocabulary case).
#include "shared/text/stream_decoder.h"

#include <gtest/gtest.h>

#include "shared/text/factory.h"
#include "shared/text/spm.h"
#include "shared/text/unicode.h"
#include "tests/unit/shared/text/gguf_vocab_reader.h"
#include "tests/unit/shared/text/test_util.h"

namespace parley::text {
namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t pos = 0; pos < s.size();) {
    const auto d = unicode::decode_utf8(s, pos);
    if (!d.valid) return false;
    pos += d.len;
  }
  return true;
}

// A byte-only SentencePiece vocabulary: every byte is its own token (worst case for streaming).
std::unique_ptr<SpmTokenizer> byte_vocab() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<TokenType> types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    types.push_back(TokenType::kByte);
  }
  SpecialTokens special{.bos = 1, .eos = 2, .unk = 0};
  SpmConfig config;
  config.add_space_prefix = false;
  return std::move(SpmTokenizer::create(tokens, {}, types, special, config)).value();
}

TEST(StreamDecoder, HoldsBackPartialCharacters) {
  auto tok = byte_vocab();
  StreamDecoder dec(*tok);
  const std::string text = "a\xC3\xA9\xF0\x9F\xA6\x99";  // "aé🦙"
  const auto ids = tok->encode(text).value();
  ASSERT_EQ(ids.size(), 8u);  // BOS + 7 bytes
  std::vector<std::string> chunks;
  for (TokenId id : ids) chunks.push_back(dec.push(id));
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "a", "", "\xC3\xA9", "", "", "", "\xF0\x9F\xA6\x99"}));
  EXPECT_EQ(dec.pending_bytes(), 0u);
  EXPECT_EQ(dec.finish(), "");
}

TEST(StreamDecoder, BrokenSequencesBecomeReplacementCharacters) {
  auto tok = byte_vocab();
  StreamDecoder dec(*tok);
  std::string out;
  // A lead byte followed by ASCII, a stray continuation byte, then a truncated tail at the end.
  const auto ids = tok->encode("\xE2" "x\x80y\xF0\x9F", {.add_special = false}).value();
  for (TokenId id : ids) out += dec.push(id);
  EXPECT_EQ(dec.pending_bytes(), 2u);
  out += dec.finish();
  EXPECT_TRUE(valid_utf8(out));
  EXPECT_EQ(out, "\xEF\xBF\xBDx\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StreamDecoder, SkipsSpecialsAndMatchesDecodeOnRealVocab) {
  const std::string path = testing::testdata("models/ggml_vocab/ggml-vocab-gpt-2.gguf");
  auto data = testing::GgufVocabReader::read(path);
  if (data.status().code() == StatusCode::kNotFound) GTEST_SKIP() << data.status().message();
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok());
  for (const auto& c : testing::read_vocab_cases(path)) {
    auto ids = (*tok)->encode(c.text, {.add_special = false}).value();
    ids.push_back(50256);  // <|endoftext|>: skipped by default
    StreamDecoder dec(**tok);
    std::string streamed;
    for (TokenId id : ids) {
      const std::string chunk = dec.push(id);
      EXPECT_TRUE(valid_utf8(chunk));
      streamed += chunk;
    }
    streamed += dec.finish();
    EXPECT_EQ(streamed, (*tok)->decode(ids)) << c.text;
    EXPECT_EQ(streamed, c.text);
  }
}

TEST(StreamDecoder, ResetRestartsFirstTokenRules) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81hi"};
  std::vector<TokenType> types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl,
                                  TokenType::kNormal};
  auto tok = std::move(SpmTokenizer::create(tokens, {}, types, SpecialTokens{.bos = 1, .eos = 2, .unk = 0}, {})).value();
  StreamDecoder dec(*tok);
  EXPECT_EQ(dec.push(3), "hi");   // SentencePiece's prefix space is dropped on the first piece
  EXPECT_EQ(dec.push(3), " hi");
  dec.reset();
  EXPECT_EQ(dec.push(1), "");     // BOS skipped
  EXPECT_EQ(dec.push(3), "hi");
  EXPECT_EQ(dec.push(99), "");    // out of range: ignored
}

}  // namespace
}  // namespace parley::text
