// Tests of `parley model inspect|quantize|prune` (run_model_command) on tiny random models written
// by the test: the report, the converted files (types, 2:4 pattern, loadable, logits close) and
// usage / file errors. Depends on shared/models/llama, tiny_llama.h, GoogleTest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shared/models/llama/forward.h"
#include "shared/models/llama/inspect_command.h"
#include "shared/models/llama/llama_model.h"
#include "tests/unit/shared/models/llama/tiny_llama.h"

namespace parley::llama {
namespace {

namespace fs = std::filesystem;
namespace gguf = engine::gguf;

class ModelCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("parley_model_cmd_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    testing::TinySpec s;
    s.proj_type = gguf::GgmlType::kQ4_1;
    s.embd_type = gguf::GgmlType::kQ8_0;
    s.tied = true;
    in_ = (dir_ / "tiny.gguf").string();
    gguf::GgufWriter w;
    auto f = gguf::GgufFile::from_bytes(testing::tiny_llama_bytes(s));
    ASSERT_TRUE(f.ok());
    for (const auto& [k, v] : (*f)->metadata()) w.set(k, gguf::OwnedValue::from(v));
    for (const auto& t : (*f)->tensors()) ASSERT_TRUE(w.add_tensor(t.name, t.dims, t.type, t.data).is_ok());
    ASSERT_TRUE(w.write_file(in_).is_ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  int run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return run_model_command(args, out_, err_);
  }

  std::vector<float> logits(const std::string& path) {
    auto m = LlamaModel::load(path, {.precision = Precision::kFp32});
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    auto cache = (*m)->make_kv_cache(4, 8);
    Forward fwd(*m);
    const std::vector<std::int32_t> toks = {5, 17, 3, 88, 41, 9, 60, 2}, pages = {0, 1};
    BatchInput b;
    b.sequences.push_back({toks, 0, pages, LogitsMode::kAll});
    std::vector<float> l(toks.size() * static_cast<std::size_t>((*m)->config().vocab_size));
    EXPECT_TRUE(fwd.forward(b, *cache, l).is_ok());
    return l;
  }

  fs::path dir_;
  std::string in_;
  std::ostringstream out_, err_;
};

double rel(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

TEST_F(ModelCommandTest, InspectListsMetadataTensorsAndTotals) {
  ASSERT_EQ(run({"inspect", in_}), 0) << err_.str();
  const std::string o = out_.str();
  EXPECT_NE(o.find("GGUF v3"), std::string::npos) << o;
  EXPECT_NE(o.find("general.architecture"), std::string::npos);
  EXPECT_NE(o.find("\"llama\""), std::string::npos);
  EXPECT_NE(o.find("blk.1.ffn_down.weight"), std::string::npos);
  EXPECT_NE(o.find("q4_1"), std::string::npos);
  EXPECT_NE(o.find("[64, 96]"), std::string::npos);  // ffn_down: [hidden, ffn]
  EXPECT_NE(o.find("all "), std::string::npos);
  EXPECT_NE(o.find("bits/param"), std::string::npos);
}

TEST_F(ModelCommandTest, QuantizeWritesInt8PerChannelAsQ8_0) {
  const std::string out = (dir_ / "q8.gguf").string();
  ASSERT_EQ(run({"quantize", in_, out}), 0) << err_.str();
  EXPECT_NE(out_.str().find("blk.0.attn_q.weight"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("overall relative error"), std::string::npos);
  auto f = gguf::GgufFile::open(out);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_up.weight")->type, gguf::GgmlType::kQ8_0);
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_norm.weight")->type, gguf::GgmlType::kF32);
  EXPECT_EQ(*(*f)->get_u32("general.file_type"), 7u);
  // Per channel: every block of a row has the same scale.
  const auto* t = (*f)->find_tensor("blk.0.ffn_gate.weight");
  std::uint16_t d0, d1;
  std::memcpy(&d0, t->data.data(), 2);
  std::memcpy(&d1, t->data.data() + 34, 2);
  EXPECT_EQ(d0, d1);
  // The model still computes nearly the same thing (int8 per-channel of q4_1 weights: < 2%).
  EXPECT_LT(rel(logits(out), logits(in_)), 0.02);
}

TEST_F(ModelCommandTest, PruneKeepsTwoOfEveryFour) {
  const std::string out = (dir_ / "pruned.gguf").string();
  ASSERT_EQ(run({"prune", in_, out}), 0) << err_.str();
  auto f = gguf::GgufFile::open(out);
  ASSERT_TRUE(f.ok());
  const auto* t = (*f)->find_tensor("blk.0.attn_v.weight");
  EXPECT_EQ(t->type, gguf::GgmlType::kQ8_0);  // q4_1 cannot hold exact zeros
  auto w = tensor_rows_f32(*t, 0, t->rows(), kernels::ExecContext::cpu());
  ASSERT_TRUE(w.ok());
  for (std::size_t g = 0; g < w->size(); g += 4) {
    int nz = 0;
    for (int i = 0; i < 4; ++i) nz += (*w)[g + i] != 0.0f;
    ASSERT_LE(nz, 2) << "group " << g / 4;
  }
  EXPECT_EQ((*f)->find_tensor("token_embd.weight")->type, gguf::GgmlType::kQ8_0);  // untouched
  EXPECT_NE(out_.str().find("pruned"), std::string::npos);
  // Random weights lose ~half their energy to pruning: the report says so (error ~0.5-0.7).
  EXPECT_NE(out_.str().find("e-01"), std::string::npos) << out_.str();
  EXPECT_GT(rel(logits(out), logits(in_)), 0.05);
}

TEST_F(ModelCommandTest, UsageAndFileErrors) {
  EXPECT_EQ(run({}), 2);
  EXPECT_NE(err_.str().find("usage"), std::string::npos);
  EXPECT_EQ(run({"frobnicate", in_}), 2);
  EXPECT_EQ(run({"quantize", in_}), 2);
  EXPECT_EQ(run({"inspect", (dir_ / "missing.gguf").string()}), 1);
  EXPECT_NE(err_.str().find("missing.gguf"), std::string::npos);
  EXPECT_EQ(run({"quantize", in_, (dir_ / "no/such/dir/out.gguf").string()}), 1);
  std::ofstream((dir_ / "junk.gguf").string()) << "not a gguf file at all";
  EXPECT_EQ(run({"prune", (dir_ / "junk.gguf").string(), (dir_ / "o.gguf").string()}), 1);
  EXPECT_NE(err_.str().find("bad magic"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"help"}), 0);
}

}  // namespace
}  // namespace parley::llama
