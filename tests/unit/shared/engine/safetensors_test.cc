// Unit tests of the strict JSON parser and the safetensors reader/writer: round trips, every
// dtype, metadata, and corrupt / truncated files (each must be a Status, never a crash).
// Depends on shared/engine/safetensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "shared/engine/half.h"
#include "shared/common/json_document.h"
#include "shared/engine/safetensors/safetensors.h"

namespace parley::safetensors {
namespace {

// ---------- JSON ----------

TEST(JsonTest, ParsesNestedDocument) {
  auto v = json::parse(R"( {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "x\u00e9\ud83d\ude00\n"}, "big": 9007199254740993} )");
  ASSERT_TRUE(v.ok()) << v.status().message();
  const json::Value* a = v->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->as_array().size(), 6u);
  EXPECT_EQ(a->as_array()[0].as_int(), 1);
  EXPECT_DOUBLE_EQ(a->as_array()[1].as_double(), -2.5);
  EXPECT_FALSE(a->as_array()[1].as_int().has_value());
  EXPECT_DOUBLE_EQ(a->as_array()[2].as_double(), 300.0);
  EXPECT_FALSE(a->as_array()[2].as_int().has_value());
  EXPECT_TRUE(a->as_array()[3].as_bool());
  EXPECT_TRUE(a->as_array()[5].is_null());
  EXPECT_EQ(v->find("b")->find("c")->as_string(), "x\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(v->find("big")->as_int(), 9007199254740993LL);  // exact above 2^53
  EXPECT_EQ(json::get_int(*v, "big").value(), 9007199254740993LL);
  EXPECT_EQ(json::get_int(*v, "a").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(json::get_int(*v, "zzz").status().code(), StatusCode::kNotFound);
}

TEST(JsonTest, RejectsMalformedInput) {
  const char* bad[] = {
      "",           "{",         "[1,]",        "{\"a\":1,}",     "{'a':1}",    "[01]",      "[1.]",
      "[.5]",       "[-]",       "[1e]",        "NaN",            "[Infinity]", "\"abc",     "\"a\tb\"",
      "\"\\x\"",    "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"",   "[1] 2",      "{\"a\" 1}", "[true false]",
      "nul",        "{\"a\":1,\"a\":2}",          "\"\xff\"",       "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
      "// c\n1",    "[1e999]",
  };
  for (const char* s : bad) {
    auto v = json::parse(s);
    EXPECT_FALSE(v.ok()) << "accepted: " << s;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_TRUE(json::parse("[1e-999]").ok());  // underflow is zero, not an error
  auto dup = json::parse("{\"a\":1,\"a\":2}", {.allow_duplicate_keys = true});
  EXPECT_TRUE(dup.ok());
}

TEST(JsonTest, ErrorNamesPosition) {
  auto v = json::parse("{\n  \"a\": [1, 2,]\n}");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("line 2"), std::string::npos) << v.status().message();
}

TEST(JsonTest, DepthLimit) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(json::parse(deep).ok());
  EXPECT_TRUE(json::parse(deep, {.max_depth = 100}).ok());
}

// ---------- safetensors ----------

std::string make_file(std::map<std::string, std::string> metadata = {{"format", "pt"}}) {
  std::vector<float> a = {1.0f, -2.0f, 3.5f, 0.25f, 5.0f, 6.0f};
  std::vector<TensorData> ts;
  ts.push_back(f32_tensor("layer.a", {2, 3}, a));
  TensorData h;
  h.name = "layer.h";
  h.dtype = DType::kF16;
  h.shape = {3};
  for (float f : {1.5f, -0.5f, 1024.0f}) {
    const std::uint16_t bits = engine::f32_to_f16(f);
    h.bytes.append(reinterpret_cast<const char*>(&bits), 2);
  }
  ts.push_back(h);
  TensorData b;
  b.name = "layer.b";
  b.dtype = DType::kBF16;
  b.shape = {2};
  for (float f : {2.0f, -3.0f}) {
    const std::uint16_t bits = engine::f32_to_bf16(f);
    b.bytes.append(reinterpret_cast<const char*>(&bits), 2);
  }
  ts.push_back(b);
  TensorData i8;
  i8.name = "q";
  i8.dtype = DType::kI8;
  i8.shape = {1, 3};
  i8.bytes = std::string("\x7f\x80\x01", 3);
  ts.push_back(i8);
  TensorData empty;
  empty.name = "empty";
  empty.shape = {0, 4};
  ts.push_back(empty);
  TensorData scalar;
  scalar.name = "scalar";
  scalar.dtype = DType::kI64;
  scalar.shape = {};
  std::int64_t sv = -7;
  scalar.bytes.assign(reinterpret_cast<const char*>(&sv), 8);
  ts.push_back(scalar);
  return serialize(ts, metadata).value();
}

TEST(SafetensorsTest, RoundTripEveryDtype) {
  auto f = File::from_bytes(make_file(), "test");
  ASSERT_TRUE(f.ok()) << f.status().message();
  const File& file = **f;
  EXPECT_EQ(file.tensors().size(), 6u);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const TensorInfo* a = file.find("layer.a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a->numel(), 6);
  EXPECT_EQ(a->nbytes(), 24u);
  EXPECT_EQ(file.to_f32(*a).value(), (std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f, 5.0f, 6.0f}));
  EXPECT_EQ(file.to_f32(*file.find("layer.h")).value(), (std::vector<float>{1.5f, -0.5f, 1024.0f}));
  EXPECT_EQ(file.to_f32(*file.find("layer.b")).value(), (std::vector<float>{2.0f, -3.0f}));
  EXPECT_EQ(file.to_f32(*file.find("q")).value(), (std::vector<float>{127.0f, -128.0f, 1.0f}));
  EXPECT_EQ(file.find("empty")->numel(), 0);
  EXPECT_EQ(file.to_f32(*file.find("scalar")).value(), (std::vector<float>{-7.0f}));
  EXPECT_EQ(file.find("nope"), nullptr);
  EXPECT_EQ(to_engine_dtype(DType::kBF16), engine::DType::kBF16);
  EXPECT_FALSE(to_engine_dtype(DType::kF64).has_value());
}

TEST(SafetensorsTest, OpenMapsFileFromDisk) {
  const std::string path = (std::filesystem::temp_directory_path() / ("parley_st_" + std::to_string(::getpid()) + ".safetensors")).string();
  std::vector<float> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  ASSERT_TRUE(write_file(path, {f32_tensor("w", {10, 100}, v)}).is_ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->to_f32(*(*f)->find("w")).value(), v);
  std::filesystem::remove(path);
  EXPECT_EQ(File::open(path).status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsTest, EveryTruncationIsAnError) {
  const std::string good = make_file();
  for (std::size_t len = 0; len < good.size(); ++len) {
    auto f = File::from_bytes(good.substr(0, len));
    EXPECT_FALSE(f.ok()) << "truncated to " << len << " bytes was accepted";
  }
}

std::string with_header(const std::string& header, std::size_t data_bytes) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\0');
}

TEST(SafetensorsTest, RejectsCorruptHeaders) {
  struct Case {
    std::string header;
    std::size_t data;
    std::string expect;  // substring of the message
  };
  const std::vector<Case> cases = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, "overlaps"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16, "hole"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12, "trailing"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, "past the data buffer"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "end before"},
      {R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8, "unknown dtype"},
      {R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "negative"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8, "overflows"},
      // The product passes 2^63 before a zero dimension brings it back to 0 bytes.
      {R"({"a":{"dtype":"U8","shape":[3037000500,3037000500,0],"data_offsets":[0,0]}})", 0, "overflows"},
      {R"({"a":{"dtype":"F32","shape":[2]}})", 8, "data_offsets"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8, "unknown field"},
      {R"({"a":[1,2]})", 8, "not an object"},
      {R"({"__metadata__":{"k":1}})", 0, "__metadata__"},
      {R"([1,2])", 0, "start with"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8, "duplicate"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8, "json"},
  };
  for (const Case& c : cases) {
    auto f = File::from_bytes(with_header(c.header, c.data), "bad.safetensors");
    ASSERT_FALSE(f.ok()) << "accepted: " << c.header;
    EXPECT_NE(f.status().message().find(c.expect), std::string::npos) << f.status().message();
    EXPECT_NE(f.status().message().find("bad.safetensors"), std::string::npos) << f.status().message();
  }
  // Header length larger than the file / absurdly large.
  std::string huge(16, '\0');
  const std::uint64_t n = 1ull << 60;
  std::memcpy(huge.data(), &n, 8);
  EXPECT_FALSE(File::from_bytes(huge).ok());
  std::string past(16, '\0');
  const std::uint64_t m = 9;
  std::memcpy(past.data(), &m, 8);
  EXPECT_EQ(File::from_bytes(past).status().code(), StatusCode::kDataLoss);
}

TEST(SafetensorsTest, RandomByteFlipsNeverCrash) {
  // A deterministic mutation sweep standing in for a fuzzer: each mutant either parses (and then
  // every tensor lies inside the file) or is rejected with a message.
  const std::string good = make_file();
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string m = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const std::size_t pos = rng() % m.size();
      m[pos] = static_cast<char>(rng() & 0xff);
    }
    auto f = File::from_bytes(m);
    if (!f.ok()) {
      EXPECT_FALSE(f.status().message().empty());
      continue;
    }
    ++accepted;
    for (const TensorInfo& t : (*f)->tensors()) {
      EXPECT_LE(t.end, m.size());
      auto v = (*f)->to_f32(t);  // must not read out of bounds (ASan builds check this)
      (void)v;
    }
  }
  EXPECT_GT(accepted, 0);  // flips inside tensor data keep the file valid
}

TEST(SafetensorsTest, SerializeChecksSizes) {
  TensorData t;
  t.name = "x";
  t.shape = {3};
  t.bytes = std::string(8, '\0');
  EXPECT_EQ(serialize({t}).status().code(), StatusCode::kInvalidArgument);
  t.bytes = std::string(12, '\0');
  EXPECT_EQ(serialize({t, t}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(serialize({t}).ok());
}

}  // namespace
}  // namespace parley::safetensors
