// Tests of the Llama forward pass on tiny random models: against a float64 reference, chunked
// prefill / decode / mixed batches over scattered pages, every precision and 2:4 option, tensor
// parallelism at 2 and 4 ranks, and the errors bad input gets.
// Depends on shared/models/llama, tiny_llama.h, kernels/comm, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <thread>

#include "kernels/comm/communicator.h"
#include "shared/models/llama/forward.h"
#include "shared/models/llama/llama_model.h"
#include "tests/unit/shared/models/llama/tiny_llama.h"

namespace parley::llama {
namespace {

using testing::TinySpec;
namespace gguf = engine::gguf;

std::shared_ptr<const LlamaModel> load(const TinySpec& s, LoadOptions o = {}) {
  auto f = testing::tiny_llama(s);
  EXPECT_NE(f, nullptr);
  auto m = LlamaModel::load(f, o);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

std::vector<std::int32_t> prompt(std::int64_t n, std::int64_t vocab, std::uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(rng() % vocab);
  return t;
}

// Runs `tokens` through the model in chunks (sizes in `chunks`; 0 = rest), every logit kept.
std::vector<float> run_chunked(const std::shared_ptr<const LlamaModel>& m, const std::vector<std::int32_t>& tokens,
                               const std::vector<std::int64_t>& chunks, const std::vector<std::int32_t>& pages,
                               std::int64_t page_size) {
  auto cache = m->make_kv_cache(64, page_size);
  EXPECT_TRUE(cache.ok());
  Forward fwd(m);
  const std::int64_t V = m->config().vocab_size;
  std::vector<float> all;
  std::size_t at = 0;
  for (std::size_t c = 0; at < tokens.size(); ++c) {
    std::size_t n = c < chunks.size() && chunks[c] > 0 ? static_cast<std::size_t>(chunks[c]) : tokens.size() - at;
    n = std::min(n, tokens.size() - at);
    BatchInput b;
    b.sequences.push_back({std::span(tokens).subspan(at, n), static_cast<std::int64_t>(at), pages, LogitsMode::kAll});
    std::vector<float> logits(n * V);
    Status s = fwd.forward(b, *cache, logits);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    all.insert(all.end(), logits.begin(), logits.end());
    at += n;
  }
  return all;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
  return d;
}
double rel_rms(const std::vector<float>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

const std::vector<std::int32_t> kScattered = {7, 3, 12, 0, 9, 31, 5, 17, 2, 40, 41, 42, 43, 44, 45, 46};

TEST(LlamaForward, Fp32MatchesFloat64Reference) {
  for (bool tied : {false, true}) {
    TinySpec s;
    s.tied = tied;
    auto m = load(s, {.precision = Precision::kFp32});
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->config().tied_embeddings, tied);
    const auto toks = prompt(13, s.vocab);
    const auto ref = testing::reference_logits(m->gguf(), toks);
    const auto got = run_chunked(m, toks, {}, kScattered, 4);  // one prefill of 13 tokens
    // f32 accumulation over K <= 96 of O(1) values, two layers: 2e-4 absolute on logits of O(1).
    EXPECT_LT(max_abs_diff(got, ref), 2e-4) << "tied=" << tied;
  }
}

TEST(LlamaForward, PartialRotaryAndMqa) {
  TinySpec s;
  s.heads = 4; s.kv_heads = 1; s.rotary_dim = 8;  // head_dim 16, half of it rotates
  auto m = load(s, {.precision = Precision::kFp32});
  ASSERT_NE(m, nullptr);
  const auto toks = prompt(9, s.vocab, 3);
  EXPECT_LT(max_abs_diff(run_chunked(m, toks, {2, 1, 0}, kScattered, 4), testing::reference_logits(m->gguf(), toks)), 2e-4);
}

TEST(LlamaForward, ChunkedPrefillAndDecodeMatchOnePass) {
  TinySpec s;
  auto m = load(s, {.precision = Precision::kFp32});
  ASSERT_NE(m, nullptr);
  const auto toks = prompt(21, s.vocab);
  const auto one = run_chunked(m, toks, {}, kScattered, 4);
  const auto chunks = run_chunked(m, toks, {5, 3, 7, 0}, kScattered, 4);
  std::vector<std::int64_t> ones(21, 1);
  const auto decode = run_chunked(m, toks, ones, kScattered, 4);
  const auto big_pages = run_chunked(m, toks, {6, 0}, {5, 2}, 16);
  EXPECT_LT(max_abs_diff(chunks, one), 1e-4);
  EXPECT_LT(max_abs_diff(decode, one), 1e-4);
  EXPECT_LT(max_abs_diff(big_pages, one), 1e-4);
}

TEST(LlamaForward, MixedBatchEqualsSequencesAlone) {
  TinySpec s;
  auto m = load(s, {.precision = Precision::kFp32});
  ASSERT_NE(m, nullptr);
  const std::int64_t V = s.vocab;
  const auto a = prompt(9, V, 1), b = prompt(12, V, 2), c = prompt(6, V, 3);
  const std::vector<std::int32_t> pa = {0, 1, 2}, pb = {10, 4, 11, 12}, pc = {20, 21};
  // Alone: every logit of every sequence.
  const auto ra = run_chunked(m, a, {}, pa, 4), rb = run_chunked(m, b, {}, pb, 4), rc = run_chunked(m, c, {}, pc, 4);
  auto cache = m->make_kv_cache(32, 4);
  ASSERT_TRUE(cache.ok());
  Forward fwd(m);
  // Step 1: a prefill 8 tokens (no logits), b prefill 5, c full prompt (kAll).
  BatchInput s1;
  s1.sequences.push_back({std::span(a).first(8), 0, pa, LogitsMode::kNone});
  s1.sequences.push_back({std::span(b).first(5), 0, pb, LogitsMode::kLast});
  s1.sequences.push_back({std::span(c), 0, pc, LogitsMode::kAll});
  std::vector<float> l1(static_cast<std::size_t>(logits_rows(s1) * V));
  ASSERT_EQ(logits_rows(s1), 7);
  ASSERT_TRUE(fwd.forward(s1, *cache, l1).is_ok());
  // Step 2: a decodes its 9th token, b prefills the rest as a later chunk, in one batch.
  BatchInput s2;
  s2.sequences.push_back({std::span(a).subspan(8, 1), 8, pa, LogitsMode::kLast});
  s2.sequences.push_back({std::span(b).subspan(5), 5, pb, LogitsMode::kAll});
  std::vector<float> l2(static_cast<std::size_t>(logits_rows(s2) * V));
  ASSERT_TRUE(fwd.forward(s2, *cache, l2).is_ok());
  auto row = [&](const std::vector<float>& v, std::int64_t r) { return std::vector<float>(v.begin() + r * V, v.begin() + (r + 1) * V); };
  EXPECT_LT(max_abs_diff(row(l1, 0), row(rb, 4)), 1e-4);
  for (int j = 0; j < 6; ++j) EXPECT_LT(max_abs_diff(row(l1, 1 + j), row(rc, j)), 1e-4);
  EXPECT_LT(max_abs_diff(row(l2, 0), row(ra, 8)), 1e-4);
  for (int j = 0; j < 7; ++j) EXPECT_LT(max_abs_diff(row(l2, 1 + j), row(rb, 5 + j)), 1e-4);
}

TEST(LlamaForward, PrecisionsStayCloseToReference) {
  const auto toks = prompt(11, 96, 5);
  struct Case {
    const char* name;
    gguf::GgmlType file_type;
    LoadOptions opts;
    // Relative RMS error of all logits vs the float64 reference of the file's weights. INT8
    // (W8A8, per-token activations over K = 64): ~3% on random weights (no redundancy to average out).
    double max_rel;
  };
  const Case cases[] = {
      {"int8 from f32", gguf::GgmlType::kF32, {.precision = Precision::kInt8}, 0.05},
      {"int8 from q4_1", gguf::GgmlType::kQ4_1, {.precision = Precision::kInt8, .block_max_tokens = 0}, 0.05},
      // The file's q4 blocks for every call (gemm_q4, per-32 activation scales): much closer
      // than per-token W8A8, since the weights are exact and each block has its own scale.
      {"q4_1 blocks (W4A8)", gguf::GgmlType::kQ4_1, {.precision = Precision::kInt8, .block_max_tokens = 1 << 30}, 0.02},
      {"q4_0 blocks (W4A8)", gguf::GgmlType::kQ4_0, {.precision = Precision::kInt8, .block_max_tokens = 1 << 30}, 0.02},
      {"int8 + q4_1 blocks for decode (default)", gguf::GgmlType::kQ4_1, {.precision = Precision::kInt8}, 0.05},
      {"fp32 from q8_0", gguf::GgmlType::kQ8_0, {.precision = Precision::kFp32}, 1e-5},
      {"native q8_0", gguf::GgmlType::kQ8_0, {.precision = Precision::kNative}, 1e-5},
      {"native q4_1", gguf::GgmlType::kQ4_1, {.precision = Precision::kNative}, 1e-5},
      {"native q4_0", gguf::GgmlType::kQ4_0, {.precision = Precision::kNative}, 1e-5},
  };
  for (const Case& c : cases) {
    TinySpec s;
    s.proj_type = c.file_type;
    s.embd_type = c.file_type == gguf::GgmlType::kF32 ? gguf::GgmlType::kF32 : gguf::GgmlType::kQ8_0;
    auto m = load(s, c.opts);
    ASSERT_NE(m, nullptr) << c.name;
    const auto ref = testing::reference_logits(m->gguf(), toks);
    const double e = rel_rms(run_chunked(m, toks, {4, 0}, kScattered, 4), ref);
    EXPECT_LT(e, c.max_rel) << c.name;
    EXPECT_GT(e, 0.0) << c.name;
  }
}

TEST(LlamaForward, BlocksServeSmallCallsOnly) {
  TinySpec s;
  s.proj_type = gguf::GgmlType::kQ4_1;
  s.embd_type = gguf::GgmlType::kQ8_0;
  const auto toks = prompt(12, s.vocab, 3);
  auto with = load(s, {.precision = Precision::kInt8, .block_max_tokens = 4});
  auto without = load(s, {.precision = Precision::kInt8, .block_max_tokens = 0});
  auto head_int8 = load(s, {.precision = Precision::kInt8, .block_max_tokens = 4, .block_lm_head = false});
  ASSERT_TRUE(with && without && head_int8);
  EXPECT_EQ(with->layers()[0].qkv.block_type(), engine::DType::kQ4_1);
  EXPECT_EQ(with->layers()[0].down.block_max_tokens(), 4);
  EXPECT_EQ(with->lm_head().block_max_tokens(), 4);
  EXPECT_EQ(head_int8->lm_head().block_max_tokens(), 0);
  EXPECT_EQ(without->layers()[0].qkv.block_max_tokens(), 0);
  EXPECT_GT(with->weight_bytes(), without->weight_bytes());
  // One 12-token prefill (INT8, above the threshold) gives the same logits with or without the
  // blocks; chunks of 3 tokens run on the blocks and differ by activation quantization only.
  const auto a = run_chunked(with, toks, {12, 0}, kScattered, 4);
  const auto b = run_chunked(without, toks, {12, 0}, kScattered, 4);
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  const auto ref = testing::reference_logits(with->gguf(), toks);
  const double e_blocks = rel_rms(run_chunked(with, toks, {3, 3, 3, 3}, kScattered, 4), ref);
  EXPECT_GT(e_blocks, 0.0);
  EXPECT_LT(e_blocks, 0.02);
}

// Qwen2: Q/K/V biases, half (NeoX) RoPE, rope base 1e6, GQA, tied and untied output.
TEST(LlamaForward, Qwen2MatchesFloat64Reference) {
  for (bool tied : {false, true}) {
    TinySpec s;
    s.arch = "qwen2";
    s.qkv_bias = true;
    s.theta = 1e6f;
    s.eps = 1e-6f;
    s.heads = 4; s.kv_heads = 2;
    s.tied = tied;
    auto m = load(s, {.precision = Precision::kFp32});
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->config().arch, "qwen2");
    EXPECT_EQ(m->config().rope_style, kernels::RopeStyle::kHalf);
    EXPECT_TRUE(m->config().qkv_bias);
    EXPECT_TRUE(m->layers()[0].qkv.has_bias());
    const auto toks = prompt(11, s.vocab, 5);
    const auto ref = testing::reference_logits(m->gguf(), toks);
    EXPECT_LT(max_abs_diff(run_chunked(m, toks, {}, kScattered, 4), ref), 2e-4) << "tied=" << tied;
    EXPECT_LT(max_abs_diff(run_chunked(m, toks, {3, 1, 1, 0}, kScattered, 4), ref), 2e-4) << "tied=" << tied;
    // The biases matter, and so does the RoPE pairing: the same weights read as llama differ.
    TinySpec no_bias = s;
    no_bias.qkv_bias = false;
    auto nb = load(no_bias, {.precision = Precision::kFp32});
    ASSERT_NE(nb, nullptr);
    EXPECT_GT(max_abs_diff(run_chunked(nb, toks, {}, kScattered, 4), ref), 1e-2);
  }
}

// A tiny model quantized like llama.cpp's Q4_K_M of Qwen2.5-0.5B: q5_0 projections and
// embedding, q8_0 V rows, ffn_down alternating q6_k / q4_k, a q8_0-free fused QKV with mixed
// types. Exact (fp32) against the f64 reference of the dequantized file, and on the blocks
// (default int8 + decode blocks) within activation-quantization error; TP shards slice biases.
TEST(LlamaForward, KQuantMixtureRunsOnItsBlocks) {
  TinySpec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.hidden = 64; s.heads = 4; s.kv_heads = 2; s.ffn = 256;
  s.proj_type = gguf::GgmlType::kQ5_0;
  s.embd_type = gguf::GgmlType::kQ5_0;
  s.v_type = gguf::GgmlType::kQ8_0;
  s.down_types = {gguf::GgmlType::kQ6_K, gguf::GgmlType::kQ4_K};
  const auto toks = prompt(12, s.vocab, 4);
  auto exact = load(s, {.precision = Precision::kFp32});
  auto blocks = load(s, {.precision = Precision::kInt8, .block_max_tokens = 4});
  ASSERT_TRUE(exact && blocks);
  const auto ref = testing::reference_logits(exact->gguf(), toks);
  EXPECT_LT(max_abs_diff(run_chunked(exact, toks, {5, 0}, kScattered, 4), ref), 2e-4);
  EXPECT_EQ(blocks->layers()[0].qkv.block_types(),
            (std::vector<engine::DType>{engine::DType::kQ5_0, engine::DType::kQ5_0, engine::DType::kQ8_0}));
  EXPECT_EQ(blocks->layers()[0].down.block_type(), engine::DType::kQ6_K);
  EXPECT_EQ(blocks->layers()[1].down.block_type(), engine::DType::kQ4_K);
  EXPECT_EQ(blocks->layers()[1].gate_up.block_type(), engine::DType::kQ5_0);
  // Decode-sized chunks on the blocks (W4A8-style), then a prefill on INT8.
  const double e_blocks = rel_rms(run_chunked(blocks, toks, {3, 1, 2, 4, 2}, kScattered, 4), ref);
  EXPECT_GT(e_blocks, 0.0);
  EXPECT_LT(e_blocks, 0.02);
  EXPECT_LT(rel_rms(run_chunked(blocks, toks, {12}, kScattered, 4), ref), 0.05);
  // Native precision: every block type (the fused QKV mixes types, so it reports why it cannot).
  auto native = LlamaModel::load(testing::tiny_llama(s), {.precision = Precision::kNative});
  EXPECT_EQ(native.status().code(), StatusCode::kInvalidArgument);
  TinySpec uniform = s;
  uniform.v_type.reset();
  auto native_ok = load(uniform, {.precision = Precision::kNative});
  ASSERT_NE(native_ok, nullptr);
  EXPECT_LT(max_abs_diff(run_chunked(native_ok, toks, {5, 0}, kScattered, 4), testing::reference_logits(native_ok->gguf(), toks)),
            2e-4);
}

TEST(LlamaForward, Prune24DenseAndSparseAgree) {
  TinySpec s;
  const auto toks = prompt(10, s.vocab, 9);
  for (Precision p : {Precision::kFp32, Precision::kInt8}) {
    auto dense = load(s, {.precision = p, .prune = Prune24::kDense});
    auto sparse = load(s, {.precision = p, .prune = Prune24::kSparse});
    auto full = load(s, {.precision = p});
    ASSERT_TRUE(dense && sparse && full);
    EXPECT_TRUE(sparse->layers()[0].qkv.sparse());
    const auto ld = run_chunked(dense, toks, {3, 0}, kScattered, 4);
    const auto ls = run_chunked(sparse, toks, {3, 0}, kScattered, 4);
    const auto lf = run_chunked(full, toks, {3, 0}, kScattered, 4);
    EXPECT_LT(max_abs_diff(ld, ls), 1e-4) << precision_name(p);
    EXPECT_GT(max_abs_diff(ld, lf), 1e-2) << "pruning changed nothing";
    // Half of every projection's weights are zero.
    const auto w = dense->layers()[1].gate_up.to_f32();
    EXPECT_EQ(std::count(w.begin(), w.end(), 0.0f), static_cast<std::ptrdiff_t>(w.size() / 2));
  }
}

// Runs one batch on `world` ranks (threads), each with its own shard, cache and Forward.
std::vector<std::vector<float>> run_tp(const TinySpec& s, int world, Precision p, const std::vector<std::int32_t>& toks) {
  auto file = testing::tiny_llama(s);
  auto comms = kernels::make_in_process_group(world);
  std::vector<std::vector<float>> out(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto m = LlamaModel::load(file, {.precision = p, .shard = {r, world}});
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      EXPECT_EQ((*m)->local_heads(), s.heads / world);
      auto cache = (*m)->make_kv_cache(16, 4);
      ASSERT_TRUE(cache.ok());
      Forward fwd(*m, comms[static_cast<std::size_t>(r)].get());
      const std::vector<std::int32_t> pages = {3, 1, 4, 0, 5, 9};
      // Prefill 7 tokens (all logits), then 2 decode steps.
      std::vector<float>& all = out[static_cast<std::size_t>(r)];
      std::size_t at = 0;
      for (std::size_t n : {std::size_t{7}, std::size_t{1}, std::size_t{1}}) {
        BatchInput b;
        b.sequences.push_back({std::span(toks).subspan(at, n), static_cast<std::int64_t>(at), pages, LogitsMode::kAll});
        std::vector<float> l(n * static_cast<std::size_t>(s.vocab));
        Status st = fwd.forward(b, *cache, l);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        all.insert(all.end(), l.begin(), l.end());
        at += n;
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST(LlamaForward, TensorParallelMatchesOneRank) {
  TinySpec s;
  s.heads = 8; s.kv_heads = 4; s.hidden = 64; s.ffn = 128; s.vocab = 128;
  const auto toks = prompt(9, s.vocab, 11);
  for (Precision p : {Precision::kFp32, Precision::kInt8}) {
    const auto one = run_tp(s, 1, p, toks)[0];
    ASSERT_EQ(one.size(), 9u * 128u);
    for (int world : {2, 4}) {
      const auto ranks = run_tp(s, world, p, toks);
      for (int r = 0; r < world; ++r) {
        // FP32: only the summation order of the sharded dot products changes: 1e-4 absolute on
        // O(1) logits. INT8: each rank quantizes its slice of the attention/FFN activations with
        // its own per-token scale, so the rounding differs (each run is ~2% RMS from the exact
        // model): relative RMS difference below 4%.
        const auto& got = ranks[static_cast<std::size_t>(r)];
        if (p == Precision::kFp32) {
          EXPECT_LT(max_abs_diff(got, one), 1e-4) << "world " << world << " rank " << r;
        } else {
          EXPECT_LT(rel_rms(got, std::vector<double>(one.begin(), one.end())), 0.04) << "world " << world << " rank " << r;
        }
      }
      EXPECT_EQ(ranks[0], ranks[static_cast<std::size_t>(world - 1)]) << "ranks disagree";
    }
  }
}

TEST(LlamaForward, TensorParallelQwen2SlicesTheBiases) {
  TinySpec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.heads = 8; s.kv_heads = 4; s.hidden = 64; s.ffn = 128; s.vocab = 128;
  const auto toks = prompt(9, s.vocab, 12);
  const auto one = run_tp(s, 1, Precision::kFp32, toks)[0];
  for (int world : {2, 4}) {
    const auto ranks = run_tp(s, world, Precision::kFp32, toks);
    EXPECT_LT(max_abs_diff(ranks[0], one), 1e-4) << "world " << world;
  }
}

TEST(LlamaForward, TensorParallelWithUnevenVocabReplicatesTheHead) {
  TinySpec s;
  s.heads = 4; s.kv_heads = 2; s.vocab = 97;
  const auto toks = prompt(9, s.vocab, 12);
  const auto one = run_tp(s, 1, Precision::kFp32, toks)[0];
  const auto two = run_tp(s, 2, Precision::kFp32, toks);
  EXPECT_LT(max_abs_diff(two[1], one), 1e-4);
}

TEST(LlamaForward, BadInputIsAStatusAndLeavesTheCacheAlone) {
  TinySpec s;
  auto m = load(s, {.precision = Precision::kFp32});
  ASSERT_NE(m, nullptr);
  auto cache = m->make_kv_cache(4, 4);
  ASSERT_TRUE(cache.ok());
  Forward fwd(m);
  const std::vector<std::int32_t> ok_tokens = {1, 2, 3}, bad_tokens = {1, 96, 3}, pages = {0, 1}, bad_pages = {0, 4};
  std::vector<float> logits(static_cast<std::size_t>(s.vocab));
  auto run = [&](std::span<const std::int32_t> t, std::int64_t start, std::span<const std::int32_t> p, std::span<float> l) {
    BatchInput b;
    b.sequences.push_back({t, start, p, LogitsMode::kLast});
    return fwd.forward(b, *cache, l);
  };
  Status st = run(bad_tokens, 0, pages, logits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("id 96"), std::string::npos) << st.message();
  EXPECT_EQ(run(ok_tokens, 6, pages, logits).code(), StatusCode::kOutOfRange);  // needs 3 pages
  EXPECT_EQ(run(ok_tokens, 2, bad_pages, logits).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(run(ok_tokens, -1, pages, logits).code(), StatusCode::kInvalidArgument);
  std::vector<float> small(10);
  EXPECT_EQ(run(ok_tokens, 0, pages, small).code(), StatusCode::kInvalidArgument);
  const auto layer0 = cache->layer(0);
  const float* k = static_cast<const float*>(layer0.k);
  EXPECT_TRUE(std::all_of(k, k + 4 * 4 * layer0.num_kv_heads * layer0.head_dim, [](float v) { return v == 0.0f; }));
  EXPECT_TRUE(run(ok_tokens, 0, pages, logits).is_ok());
  // A cache from another model shape is refused.
  TinySpec other = s;
  other.layers = 3;
  auto m3 = load(other, {.precision = Precision::kFp32});
  auto c3 = m3->make_kv_cache(4, 4);
  BatchInput b;
  b.sequences.push_back({ok_tokens, 0, pages, LogitsMode::kLast});
  EXPECT_EQ(fwd.forward(b, *c3, logits).code(), StatusCode::kInvalidArgument);
  // A sharded model without a communicator.
  auto shard = LlamaModel::load(testing::tiny_llama(s), {.shard = {0, 2}});
  ASSERT_TRUE(shard.ok());
  Forward no_comm(*shard);
  auto c2 = (*shard)->make_kv_cache(4, 4);
  EXPECT_EQ(no_comm.forward(b, *c2, logits).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->make_kv_cache(0, 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->make_kv_cache(1ll << 40, 1 << 20).status().code(), StatusCode::kResourceExhausted);
}

// The CPU placement: the model, its KV cache and the embedding table (the mapped file itself) on
// the CPU; a GPU that is not there is a clear load error.
TEST(LlamaLoad, DevicePlacement) {
  TinySpec s;
  auto m = load(s, {.precision = Precision::kFp32});
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->device().is_cpu());
  EXPECT_EQ(m->token_embd_data(), m->token_embd().data.data());
  EXPECT_EQ(m->layers()[0].attn_norm_dev.data(), m->layers()[0].attn_norm.data());
  auto cache = m->make_kv_cache(4, 4);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache->device(), engine::Device::cpu());
  LoadOptions gpu;
  gpu.device = engine::Device::cuda(engine::cuda_device_count());
  auto missing = LlamaModel::load(testing::tiny_llama(s), gpu);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable) << missing.status().to_string();
  // Forward on the CPU never captures graphs.
  Forward fwd(m);
  const std::vector<std::int32_t> t = {1, 2}, pages = {0};
  std::vector<float> logits(static_cast<std::size_t>(s.vocab));
  for (int i = 0; i < 3; ++i) {
    BatchInput b;
    b.sequences.push_back({std::span(t).subspan(static_cast<std::size_t>(i == 0 ? 0 : 1), i == 0 ? 2 : 1),
                           i == 0 ? 0 : i + 1, pages, LogitsMode::kLast});
    ASSERT_TRUE(fwd.forward(b, *cache, logits).is_ok());
  }
  EXPECT_EQ(fwd.graph_stats().captured, 0u);
  EXPECT_EQ(fwd.graph_stats().replayed, 0u);
}

TEST(LlamaLoad, BadFilesNameTheProblem) {
  TinySpec s;
  {  // a missing tensor
    auto bytes = testing::tiny_llama_bytes(s);
    auto f = gguf::GgufFile::from_bytes(bytes, "x.gguf");
    gguf::GgufWriter w;
    for (const auto& [k, v] : (*f)->metadata()) w.set(k, gguf::OwnedValue::from(v));
    for (const auto& t : (*f)->tensors()) {
      if (t.name == "blk.1.ffn_up.weight") continue;
      ASSERT_TRUE(w.add_tensor(t.name, t.dims, t.type, t.data).is_ok());
    }
    auto g = gguf::GgufFile::from_bytes(w.serialize(), "missing.gguf");
    auto m = LlamaModel::load(*g);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("blk.1.ffn_up.weight"), std::string::npos) << m.status().message();
  }
  {  // wrong architecture, heads not dividing, TP not dividing
    auto f = gguf::GgufFile::from_bytes(testing::tiny_llama_bytes(s));
    gguf::GgufWriter w;
    for (const auto& [k, v] : (*f)->metadata()) w.set(k, gguf::OwnedValue::from(v));
    w.set_string("general.architecture", "gpt2");
    auto g = gguf::GgufFile::from_bytes(w.serialize());
    EXPECT_NE(LlamaModel::load(*g).status().message().find("'gpt2'"), std::string::npos);
    EXPECT_NE(LlamaModel::load(*g).status().message().find("qwen2"), std::string::npos);
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.attention.head_count_kv", 3);
    g = gguf::GgufFile::from_bytes(w.serialize());
    EXPECT_NE(LlamaModel::load(*g).status().message().find("head_count_kv"), std::string::npos);
    auto tp = LlamaModel::load(*f, {.shard = {0, 3}});
    EXPECT_NE(tp.status().message().find("tensor-parallel"), std::string::npos) << tp.status().message();
  }
  {  // a shape that does not match the config
    TinySpec t = s;
    auto f = gguf::GgufFile::from_bytes(testing::tiny_llama_bytes(t));
    gguf::GgufWriter w;
    for (const auto& [k, v] : (*f)->metadata()) w.set(k, gguf::OwnedValue::from(v));
    w.set_u32("llama.feed_forward_length", 64);
    for (const auto& tt : (*f)->tensors()) ASSERT_TRUE(w.add_tensor(tt.name, tt.dims, tt.type, tt.data).is_ok());
    auto g = gguf::GgufFile::from_bytes(w.serialize(), "shape.gguf");
    auto m = LlamaModel::load(*g);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("blk.0.ffn_gate.weight"), std::string::npos) << m.status().message();
  }
  {  // IQ weights cannot be converted: the error names the type; K-quants can
    gguf::GgufWriter w2;
    ASSERT_TRUE(w2.add_tensor("iq", {256}, gguf::GgmlType::kIQ4_XS, std::vector<std::byte>(136)).is_ok());
    ASSERT_TRUE(w2.add_tensor("kq", {256}, gguf::GgmlType::kQ4_K, std::vector<std::byte>(144)).is_ok());
    auto g = gguf::GgufFile::from_bytes(w2.serialize());
    auto r = tensor_rows_f32(*(*g)->find_tensor("iq"), 0, 1, kernels::ExecContext::cpu());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("iq4_xs"), std::string::npos) << r.status().message();
    auto k = tensor_rows_f32(*(*g)->find_tensor("kq"), 0, 1, kernels::ExecContext::cpu());
    ASSERT_TRUE(k.ok()) << k.status().to_string();
    EXPECT_EQ(*k, std::vector<float>(256, 0.0f));
  }
}

}  // namespace
}  // namespace parley::llama
