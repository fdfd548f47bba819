// Benchmark (label bench): prefill and greedy decode tokens/s of a GGUF LM (SmolLM2-135M by default;
// `--qwen` or PARLEY_LM_GGUF for another file) through shared/models/llama (INT8, native blocks,
// FP32; batch 1 and a batch of 8 decode streams) side by side
// with llama.cpp (llama-cpp-python, same file, same thread count) in the same run. Rounds
// alternate ours / llama.cpp and the best of each is reported, because the dev machine is shared.
// Depends on shared/models/llama, tools/reference/lm_reference.py --speed-only, parley_safetensors (JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>

#include "shared/models/llama/forward.h"
#include "shared/models/llama/llama_model.h"
#include "shared/common/json_document.h"
#include "shared/common/model_paths.h"

namespace {

using namespace parley::llama;
using Clock = std::chrono::steady_clock;

constexpr int kPrompt = 64, kGen = 128;

struct Speed {
  double prefill = 0, decode = 0;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// `streams` sequences: prefill kPrompt tokens each (one batch), then kGen greedy decode steps
// with all streams in every batch. Tokens/s summed over streams.
Speed run_ours(const std::shared_ptr<const LlamaModel>& m, int streams) {
  const std::int64_t page = 16, pages_per = (kPrompt + kGen + page - 1) / page, V = m->config().vocab_size;
  auto cache = m->make_kv_cache(pages_per * streams, page);
  if (!cache.ok()) return {};
  std::vector<std::vector<std::int32_t>> tables(static_cast<std::size_t>(streams)), prompts(static_cast<std::size_t>(streams));
  for (int s = 0; s < streams; ++s) {
    tables[s].resize(static_cast<std::size_t>(pages_per));
    std::iota(tables[s].begin(), tables[s].end(), static_cast<std::int32_t>(s * pages_per));
    for (int i = 0; i < kPrompt; ++i) prompts[s].push_back(100 + ((i + 7 * s) * 37) % 40000);
  }
  Forward fwd(m);
  std::vector<float> logits(static_cast<std::size_t>(streams * V));
  BatchInput b;
  for (int s = 0; s < streams; ++s) b.sequences.push_back({prompts[s], 0, tables[s], LogitsMode::kLast});
  Speed sp;
  auto t0 = Clock::now();
  if (!fwd.forward(b, *cache, logits).is_ok()) return {};
  sp.prefill = streams * kPrompt / seconds_since(t0);
  std::vector<std::int32_t> tok(static_cast<std::size_t>(streams));
  t0 = Clock::now();
  for (int step = 0; step < kGen; ++step) {
    for (int s = 0; s < streams; ++s) {
      const float* row = logits.data() + s * V;
      tok[s] = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
      b.sequences[s] = {std::span(&tok[s], 1), kPrompt + step, tables[s], LogitsMode::kLast};
    }
    if (!fwd.forward(b, *cache, logits).is_ok()) return {};
  }
  sp.decode = streams * kGen / seconds_since(t0);
  return sp;
}

Speed run_llama_cpp(const std::string& py, const std::string& model) {
  const std::string cmd = "'" + py + "' '" + std::string(PARLEY_SOURCE_DIR) + "/tools/reference/lm_reference.py' --model '" +
                          model + "' --speed-only --n-prompt " + std::to_string(kPrompt) + " --n-gen " +
                          std::to_string(kGen) + " --threads 2 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  auto doc = parley::json::parse(out);
  if (!doc.ok()) return {};
  return {doc->find("prefill_tokens_per_s")->as_double(), doc->find("decode_tokens_per_s")->as_double()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = parley::default_lm_path();
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--qwen") {
      model = parley::qwen_lm_path();
    } else if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos && a.size() < 4) {
      rounds = std::max(1, std::stoi(a));
    } else {
      std::cerr << "usage: lm_decode_bench [ROUNDS] [--qwen]   (PARLEY_LM_GGUF=FILE overrides the model)\n";
      return 2;
    }
  }
  if (const char* p = std::getenv("PARLEY_LM_GGUF"); p != nullptr && *p != '\0') model = p;
  if (!std::filesystem::exists(model)) {
    std::cout << "SKIPPED: model absent: " << model << "\n";
    return 0;
  }
  const char* home = std::getenv("HOME");
  const std::string py = std::string(home ? home : ".") + "/.cache/parley/refenv/bin/python";
  // The venv exists and holds llama-cpp-python (tools/reference/setup may still be building it).
  const bool have_ref = std::filesystem::exists(py) &&
                        std::system(("'" + py + "' -c 'import llama_cpp' >/dev/null 2>&1").c_str()) == 0;

  struct Variant {
    const char* name;
    LoadOptions opts;
    std::shared_ptr<const LlamaModel> model;
    Speed best1, best8;
  };
  std::vector<Variant> variants = {{"int8 (default)", {.precision = Precision::kInt8}, nullptr, {}, {}},
                                   {"native blocks", {.precision = Precision::kNative}, nullptr, {}, {}},
                                   {"fp32", {.precision = Precision::kFp32}, nullptr, {}, {}}};
  std::string name = std::filesystem::path(model).filename().string();
  for (auto it = variants.begin(); it != variants.end();) {
    auto m = LlamaModel::load(model, it->opts);
    if (!m.ok()) {
      // Native keeps the file's blocks as one type per fused projection; a file that mixes types
      // in one (Q4_K_M's QKV: q5_0 Q/K, q8_0 V) cannot: reported, not a failure. Others are.
      if (it->opts.precision == Precision::kNative && m.status().code() == parley::StatusCode::kInvalidArgument) {
        std::printf("%s: not measured (%s)\n", it->name, m.status().message().c_str());
        it = variants.erase(it);
        continue;
      }
      std::cerr << m.status().to_string() << "\n";
      return 1;
    }
    it->model = *m;
    if (auto n = (*m)->gguf().get_string("general.name"); n.ok()) name = *n;
    ++it;
  }
  Speed ref;
  for (int r = 0; r < rounds; ++r) {
    for (auto& v : variants) {
      const Speed s1 = run_ours(v.model, 1), s8 = run_ours(v.model, 8);
      if (s1.decode <= 0 || s8.decode <= 0) {
        std::cerr << v.name << ": a forward call failed\n";
        return 1;
      }
      v.best1 = {std::max(v.best1.prefill, s1.prefill), std::max(v.best1.decode, s1.decode)};
      v.best8 = {std::max(v.best8.prefill, s8.prefill), std::max(v.best8.decode, s8.decode)};
    }
    if (have_ref) {
      const Speed s = run_llama_cpp(py, model);
      if (s.decode <= 0) {
        std::cerr << "llama.cpp reference run failed (tools/reference/lm_reference.py --speed-only)\n";
        return 1;
      }
      ref = {std::max(ref.prefill, s.prefill), std::max(ref.decode, s.decode)};
    }
  }
  std::printf("%s, %d-token prompt, %d greedy tokens, best of %d rounds, 2 threads\n", name.c_str(), kPrompt, kGen,
              rounds);
  std::printf("%-16s %14s %14s %20s %16s\n", "engine", "prefill tok/s", "decode tok/s", "decode x llama.cpp", "8 streams tok/s");
  for (const auto& v : variants) {
    std::printf("%-16s %14.1f %14.1f %20s %16.1f\n", v.name, v.best1.prefill, v.best1.decode,
                ref.decode > 0 ? (std::to_string(v.best1.decode / ref.decode).substr(0, 4) + "x").c_str() : "n/a",
                v.best8.decode);
  }
  if (have_ref) {
    std::printf("%-16s %14.1f %14.1f %20s %16s\n", "llama.cpp", ref.prefill, ref.decode, "1.00x", "-");
  } else {
    std::printf("llama.cpp: reference venv absent (%s)\n", py.c_str());
  }
  return 0;
}
