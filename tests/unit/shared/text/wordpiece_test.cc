// Tests for WordPieceTokenizer: BERT normalization, offsets into the original text, word ids,
// truncation, pairs, special-token parsing, invalid input; and the real MiniLM vocabulary against
// llama.cpp's bert-bge test vectors (same 30522-token uncased vocabulary).
// Depends on parley_text; the real-vocab tests skip without the encoder model files.
#include "shared/text/wordpiece.h"

#include <gtest/gtest.h>

#include "tests/unit/shared/text/test_util.h"

namespace parley::text {
namespace {

std::vector<std::string> tiny_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "book", "a", "table", "for", "4", "at", "7", "##pm",
          "un", "##aff", "##able", "fu", "##hrer", "cafe", ",", "!", ".", "hello", "world", "中", "[", "]",
          "i", "##\xCC\x87", "'", "s", "sep"};
}

std::unique_ptr<WordPieceTokenizer> tiny(WordPieceConfig config = {}) {
  auto tok = WordPieceTokenizer::create(tiny_vocab(), std::move(config));
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return std::move(tok).value();
}

TokenId id_of(const Tokenizer& t, std::string_view s) { return t.find_token(s).value_or(-99); }

TEST(WordPiece, OffsetsAndWordIds) {
  auto tok = tiny();
  const std::string text = "Book a table for 4 at 7pm";
  const Encoding e = tok->encode_with_offsets(text);
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"[CLS]", "book", "a", "table", "for", "4", "at", "7", "##pm", "[SEP]"}));
  const std::vector<TokenSpan> expected = {{0, 0}, {0, 4}, {5, 6}, {7, 12}, {13, 16}, {17, 18},
                                           {19, 21}, {22, 23}, {23, 25}, {0, 0}};
  EXPECT_EQ(e.offsets, expected);
  EXPECT_EQ(e.word_ids, (std::vector<std::int32_t>{-1, 0, 1, 2, 3, 4, 5, 6, 6, -1}));
  EXPECT_EQ(e.special_mask, (std::vector<std::uint8_t>{1, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(text.substr(e.offsets[8].begin, e.offsets[8].end - e.offsets[8].begin), "pm");
}

TEST(WordPiece, AccentsAreStrippedAndOffsetsStayInOriginalBytes) {
  auto tok = tiny();
  const std::string text = "Caf\xC3\xA9 F\xC3\xBChrer";  // "Café Führer"
  const Encoding e = tok->encode_with_offsets(text, {.add_special = false});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e.ids[0], id_of(*tok, "cafe"));
  EXPECT_EQ(e.ids[1], id_of(*tok, "fu"));
  EXPECT_EQ(e.ids[2], id_of(*tok, "##hrer"));
  EXPECT_EQ(e.offsets[0], (TokenSpan{0, 5}));   // "Café" is 5 bytes
  EXPECT_EQ(e.offsets[1], (TokenSpan{6, 9}));   // "Fü"
  EXPECT_EQ(e.offsets[2], (TokenSpan{9, 13}));  // "hrer"
}

TEST(WordPiece, StripAccentsOffKeepsThem) {
  WordPieceConfig config;
  config.strip_accents = false;
  auto tok = tiny(config);
  const Encoding e = tok->encode_with_offsets("Caf\xC3\xA9", {.add_special = false});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e.ids[0], tok->special().unk);
}

TEST(WordPiece, CasedConfigDoesNotLowercase) {
  WordPieceConfig config;
  config.lowercase = false;
  auto tok = tiny(config);
  const Encoding e = tok->encode_with_offsets("Book book", {.add_special = false});
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e.ids[0], tok->special().unk);
  EXPECT_EQ(e.ids[1], id_of(*tok, "book"));
}

TEST(WordPiece, PunctuationChineseAndControlCharacters) {
  auto tok = tiny();
  // Punctuation is its own word; ideographs too; control characters vanish; tabs split.
  const std::string text = "hello,world!\xE4\xB8\xAD" "a\tbo\x01ok";
  const Encoding e = tok->encode_with_offsets(text, {.add_special = false});
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"hello", ",", "world", "!", "中", "a", "book"}));
  EXPECT_EQ(e.word_ids, (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(e.offsets[4], (TokenSpan{12, 15}));
  EXPECT_EQ(e.offsets[6], (TokenSpan{17, 22}));  // "bo\x01ok" spans the dropped control byte
}

TEST(WordPiece, DottedCapitalILowercasesToTwoCodePoints) {
  auto tok = tiny(WordPieceConfig{.strip_accents = false});
  // İ -> "i" + U+0307 (Rust to_lowercase), which the vocabulary has as "i", "##̇".
  const Encoding e = tok->encode_with_offsets("\xC4\xB0", {.add_special = false});
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e.ids[0], id_of(*tok, "i"));
  EXPECT_EQ(e.offsets[0], (TokenSpan{0, 2}));
  EXPECT_EQ(e.offsets[1], (TokenSpan{0, 2}));
}

TEST(WordPiece, UnknownWordsAndOverlongWords) {
  auto tok = tiny();
  Encoding e = tok->encode_with_offsets("unaffable xyz", {.add_special = false});
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"un", "##aff", "##able", "[UNK]"}));
  EXPECT_EQ(e.offsets[3], (TokenSpan{10, 13}));
  // A word of 101 characters is [UNK] even though it would split into known pieces.
  std::string long_word;
  for (int i = 0; i < 101; ++i) long_word += "a";
  e = tok->encode_with_offsets(long_word, {.add_special = false});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e.ids[0], tok->special().unk);
  EXPECT_EQ(e.offsets[0], (TokenSpan{0, 101}));
  // Partially matched words are entirely [UNK] (HF), not "un" + [UNK].
  e = tok->encode_with_offsets("unxyz", {.add_special = false});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e.ids[0], tok->special().unk);
}

TEST(WordPiece, InvalidUtf8IsDroppedNotFatal) {
  auto tok = tiny();
  const std::string text = "a\xFF \xC3 a\xE2\x82";
  const Encoding e = tok->encode_with_offsets(text, {.add_special = false});
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e.ids[0], id_of(*tok, "a"));
  EXPECT_EQ(e.ids[1], id_of(*tok, "a"));
  EXPECT_EQ(e.offsets[0], (TokenSpan{0, 1}));  // dropped bytes belong to no token
  EXPECT_EQ(e.offsets[1], (TokenSpan{5, 6}));
  // Only garbage: no content tokens, never a crash.
  EXPECT_EQ(tok->encode_with_offsets("\xFF\xFE\x80", {}).size(), 2u);
}

TEST(WordPiece, TruncationKeepsSpecials) {
  auto tok = tiny();
  const Encoding e = tok->encode_with_offsets("book a table for 4", {.max_length = 4});
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"[CLS]", "book", "a", "[SEP]"}));
  EXPECT_EQ(e.truncated_tokens, 3u);
  const Encoding all = tok->encode_with_offsets("book a table for 4", {.max_length = 4, .truncate = false});
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(all.truncated_tokens, 0u);
}

TEST(WordPiece, DefaultTruncationIsModelMaxLength) {
  WordPieceConfig config;
  config.model_max_length = 5;
  auto tok = tiny(config);
  EXPECT_EQ(tok->encode_with_offsets("book a table for 4").size(), 5u);
  // The generic encode() never truncates.
  EXPECT_EQ(tok->encode("book a table for 4")->size(), 7u);
}

TEST(WordPiece, PairsHaveSegmentsAndLongestFirstTruncation) {
  auto tok = tiny();
  Encoding e = tok->encode_pair("book a", "table for 4");
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"[CLS]", "book", "a", "[SEP]", "table", "for", "4", "[SEP]"}));
  EXPECT_EQ(e.type_ids, (std::vector<std::uint8_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(e.offsets[4], (TokenSpan{0, 5}));  // offsets are into the second text
  EXPECT_EQ(e.word_ids[4], 0);
  e = tok->encode_pair("book a", "table for 4", {.max_length = 6});
  pieces.clear();
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  // Budget 3 for 2 + 3 tokens: the longer second text loses one, then at the 2:2 tie the second
  // loses again (HF longest_first).
  EXPECT_EQ(pieces, (std::vector<std::string>{"[CLS]", "book", "a", "[SEP]", "table", "[SEP]"}));
  EXPECT_EQ(e.truncated_tokens, 2u);
}

TEST(WordPiece, ParseSpecialOnlyWhenAsked) {
  auto tok = tiny();
  Encoding e = tok->encode_with_offsets("hello [SEP] world", {.add_special = false, .parse_special = true});
  std::vector<std::string> pieces;
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"hello", "[SEP]", "world"}));
  EXPECT_EQ(e.offsets[1], (TokenSpan{6, 11}));
  e = tok->encode_with_offsets("hello [SEP] world", {.add_special = false});
  pieces.clear();
  for (TokenId id : e.ids) pieces.emplace_back(tok->token_text(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"hello", "[", "sep", "]", "world"}));
}

TEST(WordPiece, DecodeJoinsPiecesAndCleansUp) {
  auto tok = tiny();
  const auto ids = tok->encode("Book a table for 7pm, at 4! unaffable").value();
  EXPECT_EQ(tok->decode(ids), "book a table for 7pm, at 4! unaffable");
  EXPECT_EQ(tok->decode(ids, {.skip_special = false}), "[CLS] book a table for 7pm, at 4! unaffable [SEP]");
  EXPECT_EQ(tok->token_piece(id_of(*tok, "##pm")), "pm");
  EXPECT_EQ(tok->token_piece(id_of(*tok, "book")), " book");
}

TEST(WordPiece, ErrorsAreStatuses) {
  EXPECT_FALSE(WordPieceTokenizer::create({}).ok());
  EXPECT_FALSE(WordPieceTokenizer::create({"a", "b"}).ok());  // no [UNK]
  auto missing = WordPieceTokenizer::from_vocab_txt("/nonexistent/vocab.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(WordPieceTokenizer::from_directory("/nonexistent").ok());
}

// ---- real vocabulary (all-MiniLM-L6-v2) ----

class MiniLmVocab : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::encoder_dir();
    if (dir_.empty()) GTEST_SKIP() << "encoder model not found: set PARLEY_ENCODER_DIR (dir with vocab.txt)";
  }
  std::string dir_;
};

TEST_F(MiniLmVocab, DirectoryLoadsTokenizerJsonWithConfig) {
  auto tok = WordPieceTokenizer::from_directory(dir_);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->vocab_size(), 30522u);
  EXPECT_EQ((*tok)->special().cls, 101);
  EXPECT_EQ((*tok)->special().sep, 102);
  EXPECT_EQ((*tok)->special().unk, 100);
  EXPECT_EQ((*tok)->special().pad, 0);
  EXPECT_TRUE((*tok)->config().lowercase);
  EXPECT_EQ((*tok)->config().model_max_length, 512u);
  const auto ids = (*tok)->encode("Hello, world!").value();
  EXPECT_EQ(ids, (std::vector<TokenId>{101, 7592, 1010, 2088, 999, 102}));
}

TEST_F(MiniLmVocab, VocabTxtAndTokenizerJsonAgreeOnLlamaCppVectors) {
  auto from_txt = WordPieceTokenizer::from_vocab_txt(dir_ + "/vocab.txt");
  ASSERT_TRUE(from_txt.ok()) << from_txt.status().to_string();
  const auto cases = testing::read_vocab_cases(testing::testdata("models/ggml_vocab/ggml-vocab-bert-bge.gguf"));
  if (cases.empty()) GTEST_SKIP() << "llama.cpp vocab test vectors not found under " << PARLEY_TESTDATA;
  std::unique_ptr<WordPieceTokenizer> from_json;
  if (testing::file_exists(dir_ + "/tokenizer.json")) {
    auto j = WordPieceTokenizer::from_tokenizer_json(dir_ + "/tokenizer.json");
    ASSERT_TRUE(j.ok()) << j.status().to_string();
    from_json = std::move(j).value();
  }
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    const auto ids = (*from_txt)->encode(c.text, {.add_special = false}).value();
    EXPECT_EQ(testing::ids_to_string(ids), testing::ids_to_string(c.ids)) << "text: '" << c.text << "'";
    if (from_json) {
      EXPECT_EQ(from_json->encode(c.text, {.add_special = false}).value(), ids);
    }
  }
}

TEST_F(MiniLmVocab, OffsetsOnRealSentence) {
  auto tok = WordPieceTokenizer::from_directory(dir_);
  ASSERT_TRUE(tok.ok());
  const std::string text = "Book a table at Caf\xC3\xA9 Lumi\xC3\xA8re for 4 people";
  const Encoding e = (*tok)->encode_with_offsets(text);
  ASSERT_GT(e.size(), 2u);
  for (std::size_t i = 1; i + 1 < e.size(); ++i) {
    ASSERT_LE(e.offsets[i].begin, e.offsets[i].end);
    ASSERT_LE(e.offsets[i].end, text.size());
    if (i > 1) {
      EXPECT_GE(e.word_ids[i], e.word_ids[i - 1]);
    }
  }
  // Reassembling the words from offsets gives back the original words.
  const auto words = (*tok)->pre_tokenize(text);
  ASSERT_EQ(words.size(), 9u);
  EXPECT_EQ(text.substr(words[4].span.begin, words[4].span.end - words[4].span.begin), "Caf\xC3\xA9");
  EXPECT_EQ(words[4].normalized, "cafe");
}

}  // namespace
}  // namespace parley::text
