// The Llama model on cuda:0 against the CPU path (label gpu): stories260K greedy tokens (fp32 and
// the int8 default; a divergence is accepted only at a near-tie of the CPU's logits), batched
// decode steps replayed as CUDA graphs equal to the same steps run kernel by kernel, and logits
// of a mixed prefill/decode batch within tolerance. Skips with "no CUDA device" where there is
// none (fails instead under PARLEY_GPU_TEST_STRICT=1, as tools/gpu-check runs it).
// Model: $PARLEY_LM_GGUF or $PARLEY_TESTDATA (compiled-in default) /models/llama2c_stories260K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>

#include "shared/engine/device.h"
#include "shared/models/llama/forward.h"
#include "shared/models/llama/llama_model.h"
#include "tests/support/gpu_strict.h"

namespace parley::llama {
namespace {

bool strict() { return parley::testing::gpu_test_strict(); }

std::string stories_path() {
  if (const char* p = std::getenv("PARLEY_LM_GGUF")) return p;
  const char* td = std::getenv("PARLEY_TESTDATA");
  return std::string(td ? td : PARLEY_TESTDATA) + "/models/llama2c_stories260K/stories260K.gguf";
}

#define REQUIRE_GPU_AND_MODEL()                                                                  \
  do {                                                                                           \
    if (engine::cuda_device_count() == 0) {                                                      \
      if (strict()) FAIL() << "no CUDA device (PARLEY_GPU_TEST_STRICT=1)";                       \
      GTEST_SKIP() << "no CUDA device";                                                          \
    }                                                                                            \
    if (!std::filesystem::exists(stories_path())) {                                              \
      if (strict()) FAIL() << "missing " << stories_path();                                      \
      GTEST_SKIP() << "test data absent: " << stories_path();                                    \
    }                                                                                            \
  } while (false)

struct Greedy {
  std::vector<std::int32_t> tokens;
  std::vector<std::vector<float>> logits;  // per step
};

Greedy greedy(const std::shared_ptr<const LlamaModel>& m, int steps, ForwardOptions fo = {}) {
  Greedy g;
  const std::int64_t page = 16, V = m->config().vocab_size;
  auto cache = m->make_kv_cache(steps / page + 2, page);
  EXPECT_TRUE(cache.ok()) << cache.status().to_string();
  if (!cache.ok()) return g;
  std::vector<std::int32_t> pages(static_cast<std::size_t>(steps / page + 2));
  std::iota(pages.rbegin(), pages.rend(), 0);
  Forward fwd(m, nullptr, fo);
  std::vector<float> logits(static_cast<std::size_t>(V));
  std::int32_t tok = 1;
  for (int pos = 0; pos < steps; ++pos) {
    BatchInput b;
    b.sequences.push_back({std::span(&tok, 1), pos, pages, LogitsMode::kLast});
    const Status s = fwd.forward(b, *cache, logits);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    if (!s.is_ok()) break;
    g.logits.push_back(logits);
    tok = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    g.tokens.push_back(tok);
  }
  return g;
}

// `quantized`: activations are quantized per token on both devices, so an f32 rounding difference
// upstream can move one value to the next int8 level and shift that step's logits by far more
// than rounding (seen on an H100: 181 of 200 tokens identical, one step 0.47 off). For INT8 the
// bar is then on the typical step (90th percentile) and a looser cap on the worst one.
void expect_same_greedy(const Greedy& cpu, const Greedy& gpu, const char* what, bool quantized) {
  ASSERT_EQ(cpu.tokens.size(), gpu.tokens.size());
  std::size_t same = 0;
  while (same < cpu.tokens.size() && cpu.tokens[same] == gpu.tokens[same]) ++same;
  std::vector<double> step_diff;
  for (std::size_t s = 0; s < std::min<std::size_t>(same + 1, cpu.logits.size()); ++s) {
    double d = 0.0;
    for (std::size_t v = 0; v < cpu.logits[s].size(); ++v)
      d = std::max(d, static_cast<double>(std::fabs(cpu.logits[s][v] - gpu.logits[s][v])));
    step_diff.push_back(d);
  }
  const auto worst = std::max_element(step_diff.begin(), step_diff.end());
  const double max_diff = worst == step_diff.end() ? 0.0 : *worst;
  std::vector<double> sorted = step_diff;
  std::sort(sorted.begin(), sorted.end());
  const double p90 = sorted.empty() ? 0.0 : sorted[sorted.size() * 9 / 10];
  std::cout << "[ INFO     ] stories260K " << what << ": " << same << " of " << cpu.tokens.size()
            << " greedy tokens identical on cuda:0; max |logit diff| over them " << max_diff << " (step "
            << (worst - step_diff.begin()) << "), 90th percentile of the steps' max " << p90 << "\n";
  if (same < cpu.tokens.size()) {
    // A divergence must be a near-tie: the GPU's token is (almost) as likely on the CPU.
    const auto& l = cpu.logits[same];
    const float best = *std::max_element(l.begin(), l.end());
    const float gpu_pick = l[static_cast<std::size_t>(gpu.tokens[same])];
    EXPECT_LT(best - gpu_pick, 2e-3f * std::max(1.0f, std::fabs(best)))
        << what << ": step " << same << " chose " << gpu.tokens[same] << " (CPU logit " << gpu_pick << ") over "
        << cpu.tokens[same] << " (" << best << "): not a near-tie";
  }
  if (quantized) {
    EXPECT_LT(p90, 5e-2) << what;
    EXPECT_LT(max_diff, 1.0) << what;
  } else {
    EXPECT_LT(max_diff, 5e-2) << what;
  }
}

TEST(LlamaGpu, GreedyTokensMatchTheCpuPath) {
  REQUIRE_GPU_AND_MODEL();
  for (const Precision p : {Precision::kFp32, Precision::kInt8}) {
    LoadOptions cpu_opts;
    cpu_opts.precision = p;
    LoadOptions gpu_opts = cpu_opts;
    gpu_opts.device = engine::Device::cuda(0);
    auto cpu = LlamaModel::load(stories_path(), cpu_opts);
    ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
    auto gpu = LlamaModel::load(stories_path(), gpu_opts);
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    EXPECT_EQ((*gpu)->device().device(), engine::Device::cuda(0));
    expect_same_greedy(greedy(*cpu, 200), greedy(*gpu, 200), precision_name(p).data(), p == Precision::kInt8);
  }
}

TEST(LlamaGpu, GraphReplayEqualsKernelByKernel) {
  REQUIRE_GPU_AND_MODEL();
  LoadOptions o;
  o.device = engine::Device::cuda(0);
  auto m = LlamaModel::load(stories_path(), o);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  // 4 sequences prefilled with different prompts, then 40 batched decode steps.
  const std::int64_t page = 16, V = (*m)->config().vocab_size, steps = 40;
  auto run = [&](bool graphs, models::StepGraphStats* stats) {
    auto cache = (*m)->make_kv_cache(64, page);
    EXPECT_TRUE(cache.ok());
    Forward fwd(*m, nullptr, ForwardOptions{nullptr, kernels::CpuIsa::kAuto, graphs});
    std::vector<std::vector<std::int32_t>> seqs = {{1, 400, 401}, {1, 300}, {1, 5, 6, 7, 8, 9}, {1}};
    std::vector<std::vector<std::int32_t>> tables(4);
    for (int s = 0; s < 4; ++s)
      for (int p = 0; p < 4; ++p) tables[static_cast<std::size_t>(s)].push_back(s * 16 + p);
    std::vector<float> logits(static_cast<std::size_t>(4 * V));
    std::vector<std::int32_t> out;
    // Prefill (one batch), then decode steps of one token per sequence.
    BatchInput pre;
    for (int s = 0; s < 4; ++s) pre.sequences.push_back({seqs[static_cast<std::size_t>(s)], 0, tables[static_cast<std::size_t>(s)], LogitsMode::kLast});
    EXPECT_TRUE(fwd.forward(pre, *cache, logits).is_ok());
    for (int step = 0; step < steps; ++step) {
      std::vector<std::int32_t> next(4);
      for (int s = 0; s < 4; ++s) {
        const float* row = logits.data() + s * V;
        next[static_cast<std::size_t>(s)] = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
        out.push_back(next[static_cast<std::size_t>(s)]);
      }
      BatchInput b;
      for (int s = 0; s < 4; ++s) {
        auto& q = seqs[static_cast<std::size_t>(s)];
        q.push_back(next[static_cast<std::size_t>(s)]);
        b.sequences.push_back({std::span(&q.back(), 1), static_cast<std::int64_t>(q.size()) - 1,
                               tables[static_cast<std::size_t>(s)], LogitsMode::kLast});
      }
      const Status st = fwd.forward(b, *cache, logits);
      EXPECT_TRUE(st.is_ok()) << st.to_string();
      if (!st.is_ok()) break;
    }
    if (stats != nullptr) *stats = fwd.graph_stats();
    return out;
  };
  models::StepGraphStats with_graphs;
  const auto eager = run(false, nullptr);
  const auto replayed = run(true, &with_graphs);
  EXPECT_EQ(eager, replayed);
  std::cout << "[ INFO     ] decode graphs: captured " << with_graphs.captured << ", replayed " << with_graphs.replayed
            << ", eager " << with_graphs.eager << ", failed captures " << with_graphs.failures << "\n";
  EXPECT_EQ(with_graphs.failures, 0u);
  EXPECT_GE(with_graphs.captured, 1u);
  EXPECT_GE(with_graphs.replayed, 30u);
}

TEST(LlamaGpu, MixedBatchLogitsMatchTheCpu) {
  REQUIRE_GPU_AND_MODEL();
  LoadOptions fp32;
  fp32.precision = Precision::kFp32;
  LoadOptions gpu_opts = fp32;
  gpu_opts.device = engine::Device::cuda(0);
  auto cpu = LlamaModel::load(stories_path(), fp32);
  auto gpu = LlamaModel::load(stories_path(), gpu_opts);
  ASSERT_TRUE(cpu.ok() && gpu.ok());
  const std::int64_t V = (*cpu)->config().vocab_size;
  auto logits_of = [&](const std::shared_ptr<const LlamaModel>& m) {
    auto cache = m->make_kv_cache(16, 16);
    EXPECT_TRUE(cache.ok());
    Forward fwd(m);
    const std::vector<std::int32_t> a = {1, 10, 20, 30, 40, 50, 60}, b = {1, 77};
    const std::vector<std::int32_t> ta = {3, 4}, tb = {9};
    BatchInput first;
    first.sequences.push_back({a, 0, ta, LogitsMode::kAll});
    first.sequences.push_back({std::span(b).subspan(0, 1), 0, tb, LogitsMode::kNone});
    std::vector<float> l1(static_cast<std::size_t>(7 * V));
    EXPECT_TRUE(fwd.forward(first, *cache, l1).is_ok());
    BatchInput second;  // a chunk continuing b, and a decode step of a
    const std::int32_t next = 99;
    second.sequences.push_back({std::span(b).subspan(1), 1, tb, LogitsMode::kLast});
    second.sequences.push_back({std::span(&next, 1), 7, ta, LogitsMode::kLast});
    std::vector<float> l2(static_cast<std::size_t>(2 * V));
    EXPECT_TRUE(fwd.forward(second, *cache, l2).is_ok());
    l1.insert(l1.end(), l2.begin(), l2.end());
    return l1;
  };
  const auto want = logits_of(*cpu), got = logits_of(*gpu);
  ASSERT_EQ(want.size(), got.size());
  double max_diff = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::fabs(want[i] - got[i])));
  std::cout << "[ INFO     ] mixed batch fp32 logits, max |cpu - cuda| = " << max_diff << "\n";
  EXPECT_LT(max_diff, 1e-3);
}

}  // namespace
}  // namespace parley::llama
