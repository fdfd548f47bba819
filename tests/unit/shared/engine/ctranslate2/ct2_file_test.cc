// Tests for shared/engine/ctranslate2: round trip of written files, aliases, scalars, every
// truncation, corrupt fields, a deterministic corruption fuzz, and the real Whisper model.bin
// when it has been fetched (tools/models/fetch --for tests).
// Why: model.bin comes from outside; a bad one must be a Status, never a wild read.
// Depends on shared/engine/ctranslate2, shared/common/model_paths.h, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "shared/common/model_paths.h"
#include "shared/engine/ctranslate2/ct2_file.h"

namespace parley::engine::ct2 {
namespace {

std::string sample() {
  std::vector<VariableData> vars;
  vars.push_back(scalar_variable("encoder/num_heads", Ct2Type::kI16, 6));
  vars.push_back(scalar_variable("decoder/pre_norm", Ct2Type::kI8, 1));
  vars.push_back(f32_variable("encoder/conv1/bias", {3}, {1.0f, -2.0f, 0.5f}));
  vars.push_back(f16_variable("decoder/embeddings/weight", {2, 2}, {0.25f, -1.0f, 2.0f, 0.0f}));
  VariableData q{"w", Ct2Type::kI8, {2, 3}, std::string("\x01\xff\x7f\x80\x00\x02", 6)};
  vars.push_back(q);
  auto bytes = serialize("WhisperSpec", 3, vars, {{"decoder/projection/weight", "decoder/embeddings/weight"}});
  EXPECT_TRUE(bytes.ok());
  return *bytes;
}

TEST(Ct2File, RoundTrip) {
  auto f = File::from_bytes(sample());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->binary_version(), 6u);
  EXPECT_EQ((*f)->spec(), "WhisperSpec");
  EXPECT_EQ((*f)->spec_revision(), 3u);
  ASSERT_EQ((*f)->variables().size(), 5u);
  EXPECT_EQ(*(*f)->scalar_int("encoder/num_heads"), 6);
  EXPECT_EQ(*(*f)->scalar_int("decoder/pre_norm"), 1);
  EXPECT_EQ((*f)->scalar_int("missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE((*f)->scalar_int("encoder/conv1/bias").ok());
  const Variable* e = (*f)->find("decoder/projection/weight");  // alias
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "decoder/embeddings/weight");
  EXPECT_EQ(e->shape_string(), "[2, 2]");
  EXPECT_EQ(*(*f)->to_f32(*e), (std::vector<float>{0.25f, -1.0f, 2.0f, 0.0f}));
  EXPECT_EQ(*(*f)->to_f32(*(*f)->find("w")), (std::vector<float>{1, -1, 127, -128, 0, 2}));
  EXPECT_EQ(*(*f)->to_f32(*(*f)->find("encoder/conv1/bias")), (std::vector<float>{1.0f, -2.0f, 0.5f}));
}

// Found by fuzz_ct2: a float scalar outside int64 (or NaN, or 2.5) is a corrupt file, not an
// undefined float-to-int conversion.
TEST(Ct2File, FloatScalarsMustBeIntegers) {
  auto bytes = serialize("S", 1,
                         {f32_variable("ok", {1}, {4.0f}), f32_variable("huge", {1}, {-1.06e37f}),
                          f32_variable("nan", {1}, {std::nanf("")}), f32_variable("half", {1}, {2.5f})});
  ASSERT_TRUE(bytes.ok());
  auto f = File::from_bytes(*bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(*(*f)->scalar_int("ok"), 4);
  for (const char* name : {"huge", "nan", "half"}) {
    auto r = (*f)->scalar_int(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.status().message().find("expected an integer"), std::string::npos) << r.status().to_string();
  }
}

TEST(Ct2File, ShapeOverflowHiddenByAZeroDimensionIsRejected) {
  // [2^32-1, 2^32-1, 0]: zero elements and zero bytes, but the partial product passes 2^63, so
  // numel() would overflow; the reader must refuse the shape (fuzz_ct2 found this).
  auto bytes = serialize("S", 1, {VariableData{"v", Ct2Type::kI8, {4294967295LL, 4294967295LL, 0}, {}}}, {});
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto f = File::from_bytes(*bytes);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("does not match"), std::string::npos) << f.status().to_string();
}

TEST(Ct2File, EveryTruncationFails) {
  const std::string full = sample();
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto f = File::from_bytes(full.substr(0, n));
    ASSERT_FALSE(f.ok()) << n;
    EXPECT_NE(f.status().message().find("ctranslate2"), std::string::npos) << f.status().to_string();
  }
  auto extra = File::from_bytes(full + "x");
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.status().message().find("unexpected bytes"), std::string::npos);
}

TEST(Ct2File, CorruptFieldsNameTheProblem) {
  const std::string full = sample();
  auto expect = [](std::string bytes, const std::string& needle) {
    auto f = File::from_bytes(std::move(bytes));
    ASSERT_FALSE(f.ok()) << needle;
    EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().to_string();
  };
  std::string s = full;
  s[0] = 9;
  expect(s, "binary version 9");
  expect("GGUF....", "binary version");
  // First variable: name "encoder/num_heads" (18 bytes with NUL) starts at 4+2+12+4+4 = 26.
  const std::size_t rank_at = 26 + 2 + 18;
  s = full;
  s[rank_at] = 9;
  expect(s, "rank 9");
  s = full;
  s[rank_at + 1] = 7;  // dtype of the rank-0 scalar
  expect(s, "unknown dtype 7");
  s = full;
  s[rank_at + 2] = 3;  // byte count 3 for one int16
  expect(s, "does not match");
  s = full;
  s[26 + 2 + 17] = 'x';  // name loses its NUL
  expect(s, "NUL-terminated");
  // An alias to a missing variable.
  auto bad = serialize("S", 1, {f32_variable("a", {1}, {1.0f})}, {{"b", "nope"}});
  expect(*bad, "missing variable 'nope'");
  auto dup = serialize("S", 1, {f32_variable("a", {1}, {1.0f}), f32_variable("a", {1}, {1.0f})});
  expect(*dup, "repeats");
}

TEST(Ct2File, CorruptionFuzz) {
  const std::string full = sample();
  std::mt19937 rng(7);
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    auto f = File::from_bytes(std::move(bytes));
    if (!f.ok()) continue;
    ++parsed;
    for (const Variable& v : (*f)->variables()) {
      ASSERT_LE(v.offset + v.nbytes, (*f)->file_bytes()) << v.name;
      ASSERT_EQ(static_cast<std::uint64_t>(v.numel()) * ct2_type_size(v.type), v.nbytes) << v.name;
    }
  }
  EXPECT_GT(parsed, 0);
}

TEST(Ct2File, OpenErrors) {
  auto f = File::open("/nonexistent/model.bin");
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

TEST(Ct2File, RealWhisperTinyEn) {
  const std::string path = model_root() + "/whisper-tiny-en/model.bin";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "not fetched: " << path << " (tools/models/fetch --for tests)";
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->spec(), "WhisperSpec");
  EXPECT_EQ((*f)->variables().size(), 148u);
  EXPECT_EQ(*(*f)->scalar_int("encoder/num_heads"), 6);
  const Variable* emb = (*f)->find("decoder/projection/weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape_string(), "[51864, 384]");
  EXPECT_EQ(emb->type, Ct2Type::kF16);
}

}  // namespace
}  // namespace parley::engine::ct2
