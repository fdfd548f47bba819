// Model test (label `model`): SmolLM2-135M-Instruct (GGUF Q4_1) through shared/models/llama against
// llama.cpp (llama-cpp-python) on the same file; built a second time with PARLEY_LM_QWEN for
// Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2: QKV biases, GQA 14/2, rope base 1e6; K-quant and
// q5_0 blocks), the optional quality model, with its own measured tolerances: greedy continuations of 8 varied prompts token
// for token (a divergence must be a near-tie in llama.cpp's logits), logits closeness, and the
// perplexity of a fixed paragraph (INT8 within 0.25%, FP32 within 1%); for the INT8 default and the FP32 (dequantized
// weights) path. Prints both decode speeds. Skips when the model or the venv is absent.
// Depends on shared/models/llama, tools/reference/lm_reference.py, parley_safetensors (JSON parser).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>

#include "shared/common/json.h"
#include "shared/common/json_document.h"
#include "shared/models/llama/forward.h"
#include "shared/models/llama/llama_model.h"
#include "shared/common/model_paths.h"

namespace parley::llama {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPrompts = {
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a haiku about the sea."
    "<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nExplain in two sentences why the sky is blue.<|im_end|>\n<|im_start|>assistant\n",
    "The quick brown fox",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the mountains, there lived",
    "<|im_start|>user\nI want to book a table for four people tomorrow at 7pm.<|im_end|>\n<|im_start|>assistant\n",
    "List of the planets of the solar system: 1. Mercury, 2.",
};

const char* kParagraph =
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg, a goldsmith "
    "from Mainz, combined several existing technologies into a practical system for producing books. Movable "
    "type had been used earlier in East Asia, but Gutenberg's metal alloy, his hand mould for casting letters "
    "quickly and precisely, and his oil-based ink made the process fast enough to change the economics of "
    "writing. Before the press, a single copy of a long book could take a scribe many months, and libraries "
    "held only a few hundred volumes. Within fifty years of the first printed Bible, presses were operating in "
    "more than two hundred European cities, and millions of books had been produced. Prices fell, literacy "
    "spread beyond the clergy and the nobility, and ideas could travel faster than ever before. Scientists "
    "shared their observations in printed journals, reformers distributed pamphlets that challenged powerful "
    "institutions, and merchants relied on printed forms, maps and calendars. Historians still debate how "
    "much of the modern world can be traced to this single invention, but few doubt that it accelerated the "
    "Renaissance, the Reformation and the Scientific Revolution. Today, when information moves across the "
    "planet in a fraction of a second, it is worth remembering that the first great revolution in "
    "communication was built from lead, wood, paper and a great deal of patience.";

constexpr int kGen = 32;

// What differs between the two builds of this test: the file, and tolerances measured on it.
struct ModelCase {
  const char* label;
  const char* env;             // overrides the path
  std::string (*path)();
  int exact_int8, exact_fp32;  // prompts identical to llama.cpp for kGen tokens (at least)
  double tie_int8, tie_fp32;   // llama.cpp logit gap a divergence may have (a near-tie)
  double cos_mean_int8, cos_mean_fp32, cos_min_int8, cos_min_fp32;
  double ppl_int8, ppl_fp32;   // relative perplexity difference
};

#ifdef PARLEY_LM_QWEN
// Measured (2 threads, AVX-512 VNNI, llama-cpp-python 0.3.36): INT8 5 of 8 / FP32 6 of 8 prompts
// identical for 32 tokens, every divergence at a llama.cpp top-2 margin <= 0.083; logits over 256
// positions: INT8 cosine mean 0.99984 min 0.9975 max |diff| 0.79, FP32 0.99990 / 0.9993 / 0.60;
// perplexity (263 tokens) 39.535 (INT8) and 39.619 (FP32) vs llama.cpp 39.625: 0.23% / 0.017%.
// llama.cpp quantizes activations per 256 values for K-quant weights (Q8_K), we per 32, so the
// INT8 path (INT8 prefill + W4A8 decode on the file's blocks) sits a little further away here than
// FP32. Tolerances: one prompt of margin, ties within the measured logit noise, about 2x the
// measured logit and perplexity distances.
const ModelCase kCase = {"Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "PARLEY_LM_QWEN_GGUF", &qwen_lm_path,
                         /*exact*/ 4, 5, /*tie*/ 0.5, 0.4, /*cos mean*/ 0.9995, 0.9995, /*cos min*/ 0.99, 0.997,
                         /*ppl*/ 0.005, 0.0025};
#else
const ModelCase kCase = {"SmolLM2-135M-Instruct Q4_1", "PARLEY_LM_GGUF", &default_lm_path, 2, 3, 1.0, 0.5,
                         0.996, 0.998, 0.95, 0.985, 0.0025, 0.01};
#endif

std::string model_path() {
  if (const char* p = std::getenv(kCase.env); p != nullptr && *p != '\0') return p;
  return kCase.path();
}

// The venv tools/reference/setup makes (PARLEY_REFENV_DIR, default ~/.cache/parley; the lm venv
// is `refenv` there).
std::string venv_python() {
  if (const char* p = std::getenv("PARLEY_REFENV_DIR"); p != nullptr && *p != '\0') {
    return std::string(p) + "/refenv/bin/python";
  }
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.cache/parley/refenv/bin/python" : "";
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<std::size_t>(in.tellg()) / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

std::vector<std::int32_t> ints(const json::Value* v) {
  std::vector<std::int32_t> out;
  if (v == nullptr) return out;
  for (const json::Value& x : v->as_array()) out.push_back(static_cast<std::int32_t>(x.as_int().value_or(-1)));
  return out;
}

struct RefPrompt {
  std::vector<std::int32_t> ids, greedy;
  std::vector<double> margins;
  std::vector<float> logits;  // [kGen, vocab]
};

struct Reference {
  std::vector<RefPrompt> prompts;
  std::vector<std::int32_t> ppl_ids;
  std::vector<float> nll;
  double ppl = 0, decode_tok_s = 0, prefill_tok_s = 0;
  std::string version;
};

class LmReferenceTest : public ::testing::TestWithParam<Precision> {
 protected:
  static void SetUpTestSuite() {
    const std::string model = model_path(), py = venv_python();
    if (!fs::exists(model)) {
      skip_ = "model absent: " + model + " (run tools/models/fetch, or set " + kCase.env + " / PARLEY_MODEL_DIR)";
      return;
    }
    if (py.empty() || !fs::exists(py)) {
      skip_ = "reference venv absent: " + py + " (run tools/reference/setup)";
      return;
    }
    const fs::path dir = fs::temp_directory_path() / ("parley_lm_ref_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
      std::string doc = "{\"prompts\": [";
      for (std::size_t i = 0; i < kPrompts.size(); ++i) {
        if (i) doc += ", ";
        append_json_string(doc, kPrompts[i]);
      }
      doc += "], \"perplexity_text\": ";
      append_json_string(doc, kParagraph);
      doc += "}";
      std::ofstream((dir / "in.json").string()) << doc;
    }
    const std::string cmd = "'" + py + "' '" + std::string(PARLEY_SOURCE_DIR) + "/tools/reference/lm_reference.py' --model '" +
                            model + "' --input '" + (dir / "in.json").string() + "' --out-dir '" + dir.string() +
                            "' --n-gen " + std::to_string(kGen) + " --threads 2";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[65536];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      if (::pclose(p) != 0) error_ = "reference script failed: " + cmd;
    }
    auto doc = json::parse(out);
    if (!error_.empty() || !doc.ok()) {
      if (error_.empty()) error_ = "reference output is not JSON: " + doc.status().message();
      fs::remove_all(dir);
      return;
    }
    ref_ = new Reference();
    for (const json::Value& p : doc->find("prompts")->as_array()) {
      RefPrompt r;
      r.ids = ints(p.find("ids"));
      r.greedy = ints(p.find("greedy"));
      for (const json::Value& m : p.find("margins")->as_array()) r.margins.push_back(m.as_double());
      r.logits = read_f32(p.find("logits_file")->as_string());
      ref_->prompts.push_back(std::move(r));
    }
    const json::Value* ppl = doc->find("perplexity");
    ref_->ppl_ids = ints(ppl->find("ids"));
    ref_->ppl = ppl->find("ppl")->as_double();
    ref_->nll = read_f32(ppl->find("nll_file")->as_string());
    ref_->decode_tok_s = doc->find("speed")->find("decode_tokens_per_s")->as_double();
    ref_->prefill_tok_s = doc->find("speed")->find("prefill_tokens_per_s")->as_double();
    ref_->version = doc->find("llama_cpp_version")->as_string();
    fs::remove_all(dir);
  }
  static void TearDownTestSuite() {
    delete ref_;
    ref_ = nullptr;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
    auto m = LlamaModel::load(model_path(), {.precision = GetParam()});
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = *m;
  }

  static std::string skip_, error_;
  static Reference* ref_;
  std::shared_ptr<const LlamaModel> model_;
};

std::string LmReferenceTest::skip_, LmReferenceTest::error_;
Reference* LmReferenceTest::ref_ = nullptr;

// Free-running greedy generation (prefill, then one decode step per token), logits of each step.
struct GreedyRun {
  std::vector<std::int32_t> tokens;
  std::vector<float> logits;  // [steps, vocab]
  double decode_seconds = 0;
};

GreedyRun greedy(const std::shared_ptr<const LlamaModel>& m, const std::vector<std::int32_t>& prompt, int steps,
           const std::vector<std::int32_t>* forced = nullptr) {
  const std::int64_t V = m->config().vocab_size, page = 16;
  const std::int64_t pages_needed = (static_cast<std::int64_t>(prompt.size()) + steps + page - 1) / page;
  auto cache = m->make_kv_cache(pages_needed, page);
  std::vector<std::int32_t> table(static_cast<std::size_t>(pages_needed));
  std::iota(table.begin(), table.end(), 0);
  Forward fwd(m);
  GreedyRun r;
  r.logits.resize(static_cast<std::size_t>(steps * V));
  BatchInput b;
  b.sequences.push_back({prompt, 0, table, LogitsMode::kLast});
  EXPECT_TRUE(fwd.forward(b, *cache, std::span(r.logits).first(V)).is_ok());
  std::int64_t pos = static_cast<std::int64_t>(prompt.size());
  for (int s = 0; s < steps; ++s) {
    std::span<float> row = std::span(r.logits).subspan(s * V, V);
    if (s > 0) {
      std::int32_t tok = forced ? (*forced)[s - 1] : r.tokens.back();
      b.sequences[0] = {std::span(&tok, 1), pos++, table, LogitsMode::kLast};
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_TRUE(fwd.forward(b, *cache, row).is_ok());
      r.decode_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    r.tokens.push_back(static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
  }
  return r;
}

TEST_P(LmReferenceTest, GreedyContinuationsMatchLlamaCpp) {
  const std::int64_t V = model_->config().vocab_size;
  int exact = 0;
  double decode_s = 0;
  int decode_n = 0;
  for (std::size_t p = 0; p < ref_->prompts.size(); ++p) {
    const RefPrompt& rp = ref_->prompts[p];
    const GreedyRun run = greedy(model_, rp.ids, kGen);
    decode_s += run.decode_seconds;
    decode_n += kGen - 1;
    std::size_t same = 0;
    while (same < run.tokens.size() && run.tokens[same] == rp.greedy[same]) ++same;
    if (same == run.tokens.size()) {
      ++exact;
      continue;
    }
    // Diverged at step `same` (identical history before it): llama.cpp's own logits there must
    // make our token a near-tie with its choice.
    const float* ref_row = rp.logits.data() + same * V;
    const double gap = ref_row[rp.greedy[same]] - ref_row[run.tokens[same]];
    const float* our_row = run.logits.data() + same * V;
    const double our_gap = our_row[run.tokens[same]] - our_row[rp.greedy[same]];
    std::cout << "[ INFO     ] " << precision_name(GetParam()) << " prompt " << p << " diverges at step " << same
              << ": llama.cpp " << rp.greedy[same] << " vs ours " << run.tokens[same] << ", llama.cpp top-2 margin "
              << rp.margins[same] << ", llama.cpp logit gap to our token " << gap << ", our gap " << our_gap << "\n";
    // A near-tie: llama.cpp's own logits put our token within the logit noise between the two
    // implementations (FP32 path: max |diff| ~1.6, INT8: ~2.6 over the 256 compared positions).
    const double tol = GetParam() == Precision::kInt8 ? kCase.tie_int8 : kCase.tie_fp32;
    EXPECT_LT(gap, tol) << "prompt " << p << " step " << same << " is not a near-tie";
  }
  std::cout << "[ INFO     ] " << kCase.label << " " << precision_name(GetParam()) << ": " << exact << " of " << ref_->prompts.size()
            << " prompts identical for " << kGen << " tokens; decode " << decode_n / decode_s
            << " tokens/s (batch 1) vs llama.cpp " << ref_->decode_tok_s << " tokens/s (llama-cpp-python "
            << ref_->version << ", same machine, 2 threads)\n";
  // Measured: INT8 3 of 8, FP32 4 of 8 identical for 32 tokens (every other prompt diverges at a
  // near-tie, checked above). One prompt of margin for a tie that falls the other way on another
  // CPU's ISA variant; a numerics regression moves early divergences and drops several at once.
  EXPECT_GE(exact, GetParam() == Precision::kInt8 ? kCase.exact_int8 : kCase.exact_fp32)
      << "too few continuations match llama.cpp";
}

TEST_P(LmReferenceTest, LogitsCloseToLlamaCpp) {
  const std::int64_t V = model_->config().vocab_size;
  double max_abs = 0, min_cos = 1, sum_cos = 0;
  int rows = 0;
  for (const RefPrompt& rp : ref_->prompts) {
    const GreedyRun run = greedy(model_, rp.ids, kGen, &rp.greedy);  // teacher-forced on llama.cpp's tokens
    for (int s = 0; s < kGen; ++s) {
      const float* a = run.logits.data() + s * V;
      const float* b = rp.logits.data() + s * V;
      double dot = 0, na = 0, nb = 0;
      for (std::int64_t i = 0; i < V; ++i) {
        max_abs = std::max(max_abs, static_cast<double>(std::abs(a[i] - b[i])));
        dot += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
      }
      const double cos = dot / std::sqrt(na * nb);
      min_cos = std::min(min_cos, cos);
      sum_cos += cos;
      ++rows;
    }
  }
  std::cout << "[ INFO     ] " << kCase.label << " " << precision_name(GetParam()) << " logits vs llama.cpp over " << rows
            << " positions: max |diff| " << max_abs << ", cosine mean " << sum_cos / rows << " min " << min_cos << "\n";
  // llama.cpp itself quantizes activations to 8 bits (Q4_1 x Q8_1 dot products), so even our FP32
  // path differs from it by about a percent; INT8 adds per-channel weight rounding.
  const bool int8 = GetParam() == Precision::kInt8;
  EXPECT_GT(sum_cos / rows, int8 ? kCase.cos_mean_int8 : kCase.cos_mean_fp32);
  EXPECT_GT(min_cos, int8 ? kCase.cos_min_int8 : kCase.cos_min_fp32);
}

TEST_P(LmReferenceTest, PerplexityCloseToLlamaCpp) {
  const auto& ids = ref_->ppl_ids;
  ASSERT_GT(ids.size(), 250u);
  const std::int64_t V = model_->config().vocab_size, page = 32;
  const auto n = static_cast<std::int64_t>(ids.size());
  auto cache = model_->make_kv_cache((n + page - 1) / page, page);
  std::vector<std::int32_t> table(static_cast<std::size_t>((n + page - 1) / page));
  std::iota(table.begin(), table.end(), 0);
  Forward fwd(model_);
  std::vector<float> logits(static_cast<std::size_t>(n * V));
  BatchInput b;
  b.sequences.push_back({ids, 0, table, LogitsMode::kAll});
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(fwd.forward(b, *cache, logits).is_ok());
  const double prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double nll = 0;
  for (std::int64_t t = 0; t + 1 < n; ++t) {
    const float* row = logits.data() + t * V;
    const float mx = *std::max_element(row, row + V);
    double sum = 0;
    for (std::int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(row[i] - mx));
    nll += -(row[ids[t + 1]] - mx - std::log(sum));
  }
  const double ppl = std::exp(nll / static_cast<double>(n - 1));
  const double rel = std::abs(ppl - ref_->ppl) / ref_->ppl;
  std::cout << "[ INFO     ] " << kCase.label << " " << precision_name(GetParam()) << " perplexity over " << n << " tokens: ours " << ppl
            << ", llama.cpp " << ref_->ppl << " (" << 100 * rel << "% apart); prefill " << n / prefill_s
            << " tokens/s (all logits) vs llama.cpp " << ref_->prefill_tok_s << " tokens/s\n";
  // Measured: INT8 0.04% apart, FP32 0.52% (llama.cpp quantizes activations to 8 bits, as our
  // INT8 path does, so INT8 sits closer). Tolerances: INT8 0.25%, FP32 1%.
  EXPECT_LT(rel, GetParam() == Precision::kInt8 ? kCase.ppl_int8 : kCase.ppl_fp32);
}

INSTANTIATE_TEST_SUITE_P(Precisions, LmReferenceTest, ::testing::Values(Precision::kInt8, Precision::kFp32),
                         [](const ::testing::TestParamInfo<Precision>& i) { return std::string(precision_name(i.param)); });

}  // namespace
}  // namespace parley::llama
