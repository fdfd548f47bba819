// llama.cpp's tokenizer test vectors (test-tokenizer-0: ggml-vocab-*.gguf + .inp/.out) against our
// WordPiece (bert-bge), byte-level BPE (gpt-2) and SentencePiece (llama-spm) tokenizers, plus
// decode round trips on the same texts. Depends on parley_text; skips without the test data.
#include <gtest/gtest.h>

#include "shared/text/factory.h"
#include "tests/unit/shared/text/gguf_vocab_reader.h"
#include "tests/unit/shared/text/test_util.h"

namespace parley::text {
namespace {

struct VectorParam {
  const char* file;
  TokenizerKind kind;
};

class LlamaCppVectors : public ::testing::TestWithParam<VectorParam> {};

TEST_P(LlamaCppVectors, MatchReferenceIds) {
  const std::string path = testing::testdata(std::string("models/ggml_vocab/") + GetParam().file);
  auto data = testing::GgufVocabReader::read(path);
  if (data.status().code() == StatusCode::kNotFound) GTEST_SKIP() << data.status().message();
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  const auto cases = testing::read_vocab_cases(path);
  ASSERT_EQ(cases.size(), 46u) << "unexpected .inp/.out format";
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->kind(), GetParam().kind);
  int failures = 0;
  for (const auto& c : cases) {
    const auto ids = (*tok)->encode(c.text, {.add_special = false});
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(testing::ids_to_string(*ids), testing::ids_to_string(c.ids)) << "text: '" << c.text << "'";
    failures += *ids != c.ids;
  }
  EXPECT_EQ(failures, 0);
}

// Lossless tokenizers only: WordPiece lowercases and strips accents, so it is not instantiated here.
class LosslessVectors : public LlamaCppVectors {};

TEST_P(LosslessVectors, DecodeRoundTrips) {
  const std::string path = testing::testdata(std::string("models/ggml_vocab/") + GetParam().file);
  auto data = testing::GgufVocabReader::read(path);
  if (data.status().code() == StatusCode::kNotFound) GTEST_SKIP() << data.status().message();
  ASSERT_TRUE(data.ok()) << data.status().to_string();
  auto tok = tokenizer_from_vocab(std::move(*data));
  ASSERT_TRUE(tok.ok());
  for (const auto& c : testing::read_vocab_cases(path)) {
    const auto ids = (*tok)->encode(c.text, {.add_special = true}).value();
    std::string expected = c.text;
    EXPECT_EQ((*tok)->decode(ids), expected) << "text: '" << c.text << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaCppVectors,
                         ::testing::Values(VectorParam{"ggml-vocab-bert-bge.gguf", TokenizerKind::kWordPiece},
                                           VectorParam{"ggml-vocab-gpt-2.gguf", TokenizerKind::kBpe},
                                           VectorParam{"ggml-vocab-llama-spm.gguf", TokenizerKind::kSentencePiece}),
                         [](const auto& info) {
                           return std::string(tokenizer_kind_name(info.param.kind));
                         });
INSTANTIATE_TEST_SUITE_P(Vocabs, LosslessVectors,
                         ::testing::Values(VectorParam{"ggml-vocab-gpt-2.gguf", TokenizerKind::kBpe},
                                           VectorParam{"ggml-vocab-llama-spm.gguf", TokenizerKind::kSentencePiece}),
                         [](const auto& info) {
                           return std::string(tokenizer_kind_name(info.param.kind));
                         });

}  // namespace
}  // namespace parley::text
