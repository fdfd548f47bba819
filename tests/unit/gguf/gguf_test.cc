// Tests of the GGUF reader and writer: real files (stories260K, ggml vocab files) read in place,
// writer round trips of every value type, each corrupt-file check, truncation at every prefix.
// Depends on shared/engine/gguf, GoogleTest; test data via PARLEY_TESTDATA (skips when absent).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "shared/engine/gguf/gguf.h"
#include "shared/engine/gguf/gguf_writer.h"

namespace parley::engine::gguf {
namespace {

namespace fs = std::filesystem;

std::string testdata(const std::string& rel) { return std::string(PARLEY_TESTDATA) + "/" + rel; }

#define SKIP_IF_ABSENT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << "test data absent: " << (path)

TEST(GgufReal, Stories260K) {
  const std::string path = testdata("models/llama2c_stories260K/stories260K.gguf");
  SKIP_IF_ABSENT(path);
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 14176u);
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(*f.get_u32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*f.get_u32("llama.block_count"), 5u);
  EXPECT_EQ(*f.get_u32("llama.attention.head_count"), 8u);
  EXPECT_EQ(*f.get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_FLOAT_EQ(*f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().to_string();
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  auto scores = f.get_f32_array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ(scores->size(), 512u);
  auto types = f.get_i32_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)[0], 2);  // unknown
  EXPECT_EQ((*types)[1], 3);  // control
  EXPECT_EQ(*f.get_u32("tokenizer.ggml.bos_token_id"), 1u);

  ASSERT_EQ(f.tensors().size(), 48u);
  auto k = f.tensor("blk.0.attn_k.weight");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ((*k)->dims, (std::vector<std::int64_t>{64, 32}));
  EXPECT_EQ((*k)->rows(), 32);
  EXPECT_EQ((*k)->cols(), 64);
  EXPECT_EQ((*k)->type, GgmlType::kF32);
  EXPECT_EQ((*k)->n_bytes, 64u * 32u * 4u);
  EXPECT_EQ((*k)->shape_string(), "[32, 64]");
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data.data()) % 32, 0u) << t.name;
  }

  // The embedding equals stories260K.bin's first tensor (after its 7 x int32 header).
  const std::string bin = testdata("models/llama2c_stories260K/stories260K.bin");
  SKIP_IF_ABSENT(bin);
  std::ifstream in(bin, std::ios::binary);
  std::vector<float> want(64 * 512);
  in.seekg(28);
  in.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size() * 4));
  const TensorInfo* e = f.find_tensor("token_embd.weight");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->n_bytes, want.size() * 4);
  EXPECT_EQ(std::memcmp(e->data.data(), want.data(), e->n_bytes), 0);
}

TEST(GgufReal, VocabOnlyFiles) {
  struct Case {
    const char* file;
    const char* model;
    std::size_t tokens;
  };
  for (const Case& c : {Case{"ggml-vocab-llama-spm.gguf", "llama", 32000}, Case{"ggml-vocab-bert-bge.gguf", "bert", 30522},
                        Case{"ggml-vocab-gpt-2.gguf", "gpt2", 50257}}) {
    const std::string path = testdata(std::string("models/ggml_vocab/") + c.file);
    SKIP_IF_ABSENT(path);
    auto r = GgufFile::open(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE((*r)->tensors().empty());
    EXPECT_EQ(*(*r)->get_string("tokenizer.ggml.model"), c.model);
    auto toks = (*r)->get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(toks.ok());
    EXPECT_EQ(toks->size(), c.tokens) << c.file;
    if (std::string(c.model) == "gpt2") {
      auto merges = (*r)->get_string_array("tokenizer.ggml.merges");
      ASSERT_TRUE(merges.ok());
      EXPECT_EQ(merges->size(), 50000u);
    }
  }
}

TEST(GgufReal, MissingFileIsNotFound) {
  auto r = GgufFile::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/model.gguf"), std::string::npos);
}

// A small file exercising every value type, nested arrays and three tensor types.
GgufWriter sample_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "test");
  w.set_u8("t.u8", 200);
  OwnedValue i8; i8.type = ValueType::kI8; i8.i = -5; w.set("t.i8", i8);
  OwnedValue u16; u16.type = ValueType::kU16; u16.u = 65000; w.set("t.u16", u16);
  OwnedValue i16; i16.type = ValueType::kI16; i16.i = -30000; w.set("t.i16", i16);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -7);
  w.set_f32("t.f32", 0.25f);
  w.set_bool("t.bool", true);
  w.set_u64("t.u64", 1ull << 40);
  OwnedValue i64; i64.type = ValueType::kI64; i64.i = -(1ll << 40); w.set("t.i64", i64);
  OwnedValue f64; f64.type = ValueType::kF64; f64.f = 1e-300; w.set("t.f64", f64);
  w.set_string_array("t.strings", {"a", "", "héllo"});
  w.set_f32_array("t.floats", {1.5f, -2.0f});
  w.set_i32_array("t.ints", {1, -2, 3});
  OwnedValue nested; nested.type = ValueType::kArray; nested.elem_type = ValueType::kArray;
  for (int j = 0; j < 2; ++j) {
    OwnedValue inner; inner.type = ValueType::kArray; inner.elem_type = ValueType::kU32;
    for (int x = 0; x <= j; ++x) { OwnedValue e; e.type = ValueType::kU32; e.u = static_cast<std::uint64_t>(10 * j + x); inner.items.push_back(e); }
    nested.items.push_back(inner);
  }
  w.set("t.nested", nested);
  std::vector<float> a(3 * 5);
  for (std::size_t j = 0; j < a.size(); ++j) a[j] = static_cast<float>(j);
  EXPECT_TRUE(w.add_tensor_f32("a", {5, 3}, a).is_ok());
  std::vector<std::byte> q(2 * 34, std::byte{7});
  EXPECT_TRUE(w.add_tensor("q", {32, 2}, GgmlType::kQ8_0, q).is_ok());
  std::vector<std::byte> k4(144, std::byte{1});  // one Q4_K super-block: sized, not decodable
  EXPECT_TRUE(w.add_tensor("k", {256}, GgmlType::kQ4_K, k4).is_ok());
  return w;
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  auto r = GgufFile::from_bytes(sample_writer().serialize(), "sample");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const GgufFile& f = **r;
  EXPECT_EQ(*f.get_u32("t.u8"), 200u);
  EXPECT_EQ(*f.get_i32("t.i8"), -5);
  EXPECT_EQ(*f.get_u32("t.u16"), 65000u);
  EXPECT_EQ(*f.get_i32("t.i16"), -30000);
  EXPECT_EQ(*f.get_u32("t.u32"), 4000000000u);
  EXPECT_EQ(*f.get_i32("t.i32"), -7);
  EXPECT_EQ(*f.get_f32("t.f32"), 0.25f);
  EXPECT_TRUE(*f.get_bool("t.bool"));
  EXPECT_EQ(*f.get_u64("t.u64"), 1ull << 40);
  EXPECT_EQ(f.find("t.i64")->i, -(1ll << 40));
  EXPECT_EQ(f.find("t.f64")->f, 1e-300);
  EXPECT_EQ(*f.get_string_array("t.strings"), (std::vector<std::string>{"a", "", "héllo"}));
  EXPECT_EQ(*f.get_f32_array("t.floats"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(*f.get_i32_array("t.ints"), (std::vector<std::int32_t>{1, -2, 3}));
  const Value* n = f.find("t.nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->items.size(), 2u);
  EXPECT_EQ(n->items[1].items.size(), 2u);
  EXPECT_EQ(n->items[1].items[1].u, 11u);
  EXPECT_EQ(n->to_string(), "[[0], [10, 11]]");

  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo* a = f.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->rows(), 3);
  EXPECT_EQ(a->cols(), 5);
  float x = 0;
  std::memcpy(&x, a->data.data() + 4 * 7, 4);
  EXPECT_EQ(x, 7.0f);
  EXPECT_EQ(f.find_tensor("q")->n_bytes, 68u);
  EXPECT_EQ(f.find_tensor("k")->type_name(), "q4_k");
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
  EXPECT_EQ(f.tensor("missing").status().code(), StatusCode::kNotFound);
}

TEST(GgufWriter, CopiesReaderValuesAndHonoursAlignment) {
  auto src = GgufFile::from_bytes(sample_writer().serialize());
  ASSERT_TRUE(src.ok());
  GgufWriter w;
  for (const auto& [k, v] : (*src)->metadata()) w.set(k, OwnedValue::from(v));
  w.set_alignment(64);
  std::vector<float> a(8, 1.0f), b(16, 2.0f);
  ASSERT_TRUE(w.add_tensor_f32("a", {8}, a).is_ok());
  ASSERT_TRUE(w.add_tensor_f32("b", {16}, b).is_ok());
  EXPECT_FALSE(w.add_tensor_f32("b", {16}, b).is_ok());      // duplicate
  EXPECT_FALSE(w.add_tensor_f32("c", {15}, b).is_ok());      // size mismatch
  auto r = GgufFile::from_bytes(w.serialize());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->alignment(), 64u);
  EXPECT_EQ((*r)->data_offset() % 64, 0u);
  EXPECT_EQ((*r)->find_tensor("b")->offset, 64u);
  EXPECT_EQ((*r)->find("t.nested")->to_string(), "[[0], [10, 11]]");
  EXPECT_EQ(*(*r)->get_string("general.architecture"), "test");
}

TEST(GgufGetters, TypeMismatchesNameTheKey) {
  auto r = GgufFile::from_bytes(sample_writer().serialize(), "sample.gguf");
  ASSERT_TRUE(r.ok());
  const GgufFile& f = **r;
  auto s = f.get_u32("general.architecture");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("'general.architecture'"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("string"), std::string::npos);
  EXPECT_EQ(f.get_string("nope").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(f.get_u32("t.i32").ok());      // -7 is not a u32
  EXPECT_FALSE(f.get_i32("t.u32").ok());      // 4e9 is not an i32
  EXPECT_FALSE(f.get_u32("t.u64").ok());      // 2^40 is not a u32
  EXPECT_EQ(*f.get_f32("t.i32"), -7.0f);      // integers convert to float
  EXPECT_FALSE(f.get_bool("t.u8").ok());
  EXPECT_EQ(*f.get_u32_or("absent", 9), 9u);
  EXPECT_FALSE(f.get_u32_or("general.architecture", 9).ok());
  auto arr = f.get_f32_array("t.strings");
  ASSERT_FALSE(arr.ok());
  EXPECT_NE(arr.status().message().find("element 0"), std::string::npos) << arr.status().message();
  EXPECT_FALSE(f.get_string_array("t.u8").ok());
  const TensorInfo* a = f.find_tensor("a");
  EXPECT_TRUE(f.tensor_bytes(*a, 0, a->n_bytes).ok());
  EXPECT_EQ(f.tensor_bytes(*a, 4, a->n_bytes).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(f.tensor_bytes(*a, ~0ull, 1).status().code(), StatusCode::kOutOfRange);
}

// ---- corrupt files: each check gives a Status that says what and where ----

std::vector<std::uint8_t> header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
  std::vector<std::uint8_t> b(24);
  std::memcpy(b.data(), "GGUF", 4);
  std::memcpy(b.data() + 4, &version, 4);
  std::memcpy(b.data() + 8, &n_tensors, 8);
  std::memcpy(b.data() + 16, &n_kv, 8);
  return b;
}

template <typename T>
void put(std::vector<std::uint8_t>& b, T x) {
  const auto at = b.size();
  b.resize(at + sizeof(T));
  std::memcpy(b.data() + at, &x, sizeof(T));
}
void put_str(std::vector<std::uint8_t>& b, std::string_view s) {
  put<std::uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

void expect_error(std::vector<std::uint8_t> bytes, std::initializer_list<std::string_view> needles) {
  auto r = GgufFile::from_bytes(std::move(bytes), "bad.gguf");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("bad.gguf"), std::string::npos) << m;
  for (auto n : needles) EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' not in: " << m;
}

// One f32 tensor "w" of `n` values; lets tests patch the type, offset or dims.
std::vector<std::uint8_t> one_tensor_file(std::uint32_t type, std::uint64_t offset, std::uint64_t dim0,
                                          std::size_t data_bytes) {
  auto b = header(3, 1, 0);
  put_str(b, "w");
  put<std::uint32_t>(b, 1);
  put<std::uint64_t>(b, dim0);
  put<std::uint32_t>(b, type);
  put<std::uint64_t>(b, offset);
  while (b.size() % 32) b.push_back(0);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(GgufCorrupt, EachCheckSaysWhatAndWhere) {
  {
    auto b = header(3, 0, 0);
    std::memcpy(b.data(), "GGML", 4);
    expect_error(b, {"bad magic", "offset 0"});
  }
  expect_error(header(1, 0, 0), {"unsupported GGUF version 1"});
  expect_error(header(4, 0, 0), {"unsupported GGUF version 4"});
  {
    auto b = header(3, 0, 0);
    const std::uint32_t be = 0x03000000;
    std::memcpy(b.data() + 4, &be, 4);
    expect_error(b, {"big-endian"});
  }
  expect_error(header(3, 0, 1ull << 60), {"metadata count", "offset 16"});
  expect_error(header(3, 1ull << 62, 0), {"tensor count", "offset 8"});
  {
    auto b = header(3, 0, 1);
    put<std::uint64_t>(b, 1000);  // key length past EOF
    b.resize(b.size() + 20, 'x');
    expect_error(b, {"key of metadata entry 0", "past the end", "offset 24"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "k");
    put<std::uint32_t>(b, 8);
    put<std::uint64_t>(b, 1ull << 40);  // string value past EOF
    b.resize(b.size() + 4, 'x');
    expect_error(b, {"string value of key 'k'", "past the end"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "k");
    put<std::uint32_t>(b, 99);
    expect_error(b, {"unknown value type 99", "'k'", "offset 33"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "arr");
    put<std::uint32_t>(b, 9);
    put<std::uint32_t>(b, 4);
    put<std::uint64_t>(b, 1ull << 61);  // array count overflow
    expect_error(b, {"array of key 'arr'", "declares"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "deep");
    put<std::uint32_t>(b, 9);
    for (int d = 0; d < 12; ++d) { put<std::uint32_t>(b, 9); put<std::uint64_t>(b, 1); }
    put<std::uint32_t>(b, 4);
    expect_error(b, {"nested deeper", "'deep'"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "flag");
    put<std::uint32_t>(b, 7);
    put<std::uint8_t>(b, 2);
    expect_error(b, {"bool value of key 'flag'"});
  }
  {
    auto b = header(3, 0, 2);
    for (int j = 0; j < 2; ++j) { put_str(b, "dup"); put<std::uint32_t>(b, 4); put<std::uint32_t>(b, 1); }
    expect_error(b, {"duplicate metadata key 'dup'"});
  }
  {
    auto b = header(3, 0, 1);
    put_str(b, "general.alignment");
    put<std::uint32_t>(b, 4);
    put<std::uint32_t>(b, 48);
    expect_error(b, {"general.alignment", "power of two"});
  }
  expect_error(one_tensor_file(77, 0, 8, 32), {"tensor 'w'", "unknown ggml type 77"});
  expect_error(one_tensor_file(4, 0, 8, 32), {"unknown ggml type 4"});  // removed Q4_2
  expect_error(one_tensor_file(0, 16, 8, 64), {"tensor 'w'", "not a multiple of the alignment"});
  expect_error(one_tensor_file(0, 0, 8, 16), {"tensor 'w'", "past the end"});
  expect_error(one_tensor_file(0, 1ull << 62, 8, 32), {"tensor 'w'", "past the end"});
  expect_error(one_tensor_file(8, 0, 40, 64), {"tensor 'w'", "block size 32"});
  expect_error(one_tensor_file(0, 0, 1ull << 63, 32), {"tensor 'w'", "negative dimension"});
  {
    auto b = header(3, 1, 0);
    put_str(b, "big");
    put<std::uint32_t>(b, 4);
    for (int d = 0; d < 4; ++d) put<std::uint64_t>(b, 1ull << 20);
    put<std::uint32_t>(b, 0);
    put<std::uint64_t>(b, 0);
    expect_error(b, {"tensor 'big'", "overflow"});
  }
  {
    auto b = header(3, 1, 0);
    put_str(b, "five");
    put<std::uint32_t>(b, 5);
    b.resize(b.size() + 64, 0);
    expect_error(b, {"tensor 'five'", "5 dimensions"});
  }
  {
    auto b = header(3, 2, 0);
    for (int j = 0; j < 2; ++j) {
      put_str(b, "t"); put<std::uint32_t>(b, 1); put<std::uint64_t>(b, 8); put<std::uint32_t>(b, 0); put<std::uint64_t>(b, 0);
    }
    b.resize(b.size() + 64, 0);
    expect_error(b, {"duplicate tensor name 't'"});
  }
}

TEST(GgufCorrupt, EveryTruncationFailsCleanly) {
  const std::vector<std::uint8_t> full = sample_writer().serialize();
  auto whole = GgufFile::from_bytes(full);
  ASSERT_TRUE(whole.ok());
  std::uint64_t needed = 0;  // bytes up to the end of the last tensor's data (the rest is padding)
  for (const TensorInfo& t : (*whole)->tensors()) {
    needed = std::max(needed, (*whole)->data_offset() + t.offset + t.n_bytes);
  }
  ASSERT_GT(full.size(), 200u);
  for (std::size_t len = 0; len < full.size(); ++len) {
    auto r = GgufFile::from_bytes(std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len)));
    if (len < needed) {
      ASSERT_FALSE(r.ok()) << "prefix " << len << " parsed";
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << len << ": " << r.status().to_string();
    } else {
      EXPECT_TRUE(r.ok()) << len << ": " << r.status().to_string();
    }
  }
}

TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  // A poor man's fuzzer (deterministic): every corrupted file parses or fails with a Status, and
  // whatever parses keeps every tensor's bytes inside the file.
  const std::vector<std::uint8_t> full = sample_writer().serialize();
  std::mt19937 rng(42);
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    auto r = GgufFile::from_bytes(std::move(bytes));
    if (!r.ok()) continue;
    ++parsed;
    for (const TensorInfo& t : (*r)->tensors()) {
      ASSERT_LE((*r)->data_offset() + t.offset + t.n_bytes, (*r)->file_size()) << t.name;
    }
  }
  EXPECT_GT(parsed, 0);  // flips in tensor data leave the file valid
}

TEST(GgmlTypes, SizesMatchGgml) {
  EXPECT_EQ(ggml_type_info(GgmlType::kQ4_1).block_bytes, 20);
  EXPECT_EQ(ggml_type_info(GgmlType::kQ8_0).block_bytes, 34);
  EXPECT_EQ(ggml_type_info(GgmlType::kQ4_K).block_bytes, 144);
  EXPECT_EQ(ggml_type_info(GgmlType::kQ6_K).block_bytes, 210);
  EXPECT_EQ(ggml_type_info(GgmlType::kQ4_K).block_size, 256);
  EXPECT_EQ(ggml_type_info(GgmlType::kBF16).engine_dtype, DType::kBF16);
  EXPECT_EQ(ggml_type_info(GgmlType::kQ5_K).engine_dtype, DType::kQ5_K);
  EXPECT_FALSE(ggml_type_info(GgmlType::kIQ4_XS).engine_dtype.has_value());
  // Every type the engine decodes has the same block size and bytes as its engine dtype, and maps
  // back to itself.
  int decodable = 0;
  for (std::uint32_t id = 0; id < 64; ++id) {
    const auto info = ggml_type_info(id);
    if (!info || !info->engine_dtype) continue;
    ++decodable;
    EXPECT_EQ(engine::block_size(*info->engine_dtype), info->block_size) << info->name;
    EXPECT_EQ(engine::block_bytes(*info->engine_dtype), info->block_bytes) << info->name;
    EXPECT_EQ(engine::dtype_name(*info->engine_dtype), info->name);
    EXPECT_EQ(ggml_type_from_dtype(*info->engine_dtype), info->type);
  }
  EXPECT_EQ(decodable, engine::kDTypeCount);
  EXPECT_FALSE(ggml_type_info(31u).has_value());
  EXPECT_EQ(ggml_type_name(12), "q4_k");
  EXPECT_EQ(ggml_type_name(5), "type#5");
  EXPECT_EQ(ggml_type_from_dtype(DType::kQ4_1), GgmlType::kQ4_1);
}

}  // namespace
}  // namespace parley::engine::gguf
