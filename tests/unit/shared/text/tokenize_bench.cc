// Tokenizer throughput: encode/decode of ~100 KB texts with each family (figures, no assertions
// beyond correctness of the round trip). Prints MB/s and tokens/s; the worst case (one 100 KB
// "word") shows merging stays n log n. Depends on parley_text and the shared test vocabularies.
#include <chrono>
#include <cstdio>
#include <string>

#include "shared/text/factory.h"
#include "shared/text/wordpiece.h"
#include "tests/unit/shared/text/gguf_vocab_reader.h"
#include "tests/unit/shared/text/test_util.h"

namespace {

using parley::text::Tokenizer;
namespace testing = parley::text::testing;

std::string sample_text(std::size_t bytes) {
  const std::string para =
      "Book a table for 4 people at 7:30pm, please! I've been told the café on Grüner Weg 12 is great. "
      "нещо на Български, 我想在apple工作1314151天～ and emoji 🚀😶‍🌫️✅ too.\n\tdef f(x): return x ** 2\n";
  std::string s;
  while (s.size() < bytes) s += para;
  return s;
}

void run(const char* name, const Tokenizer& tok, const std::string& text) {
  const int reps = 5;
  std::size_t n_tokens = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<parley::text::TokenId> ids;
  for (int r = 0; r < reps; ++r) {
    ids = tok.encode(text, {.add_special = false}).value();
    n_tokens += ids.size();
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::string back;
  for (int r = 0; r < reps; ++r) back = tok.decode(ids);
  const auto t2 = std::chrono::steady_clock::now();
  const double enc_s = std::chrono::duration<double>(t1 - t0).count() / reps;
  const double dec_s = std::chrono::duration<double>(t2 - t1).count() / reps;
  std::printf("%-28s %7zu bytes %7zu tokens  encode %7.2f ms (%6.1f MB/s, %5.2f Mtok/s)  decode %6.2f ms  %s\n",
              name, text.size(), ids.size(), enc_s * 1e3, text.size() / enc_s / 1e6, ids.size() / enc_s / 1e6,
              dec_s * 1e3, tok.kind() == parley::text::TokenizerKind::kWordPiece ? "" : (back == text ? "round-trip ok" : "ROUND-TRIP MISMATCH"));
}

}  // namespace

int main() {
  const std::string text = sample_text(100 * 1024);
  const std::string one_word(100 * 1024, 'a');
  auto from_gguf = [](const std::string& path) -> std::unique_ptr<Tokenizer> {
    auto data = testing::GgufVocabReader::read(path);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.status().to_string().c_str());
      return nullptr;
    }
    auto tok = parley::text::tokenizer_from_vocab(std::move(*data));
    return tok.ok() ? std::move(tok).value() : nullptr;
  };
  if (auto t = from_gguf(testing::smollm2_path())) {
    run("bpe smollm2", *t, text);
    run("bpe smollm2 (one 100KB word)", *t, one_word);
  }
  if (auto t = from_gguf(testing::testdata("models/ggml_vocab/ggml-vocab-gpt-2.gguf"))) run("bpe gpt-2", *t, text);
  if (auto t = from_gguf(testing::testdata("models/ggml_vocab/ggml-vocab-llama-spm.gguf"))) {
    run("spm llama", *t, text);
    run("spm llama (one 100KB word)", *t, one_word);
  }
  if (auto t = from_gguf(testing::testdata("models/ggml_vocab/ggml-vocab-bert-bge.gguf"))) run("wordpiece bert", *t, text);
  return 0;
}
