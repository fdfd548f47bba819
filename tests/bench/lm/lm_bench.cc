// LM serving benchmark (label bench): prompt processing (512-token prompt), batch-1 decode and
// aggregate decode of 8 concurrent streams through the continuous-batching Engine — side by side
// with llama.cpp (tools/reference/lm_bench.py, same GGUF, same thread count) in the same run.
// Skips cleanly (exit 0, message) when the model or the reference venv is absent.
// Depends on services/lm (engine, forward_step_model), shared/models/llama, kernels thread pool.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "services/lm/engine.h"
#include "services/lm/forward_step_model.h"
#include "services/lm/lm_metrics.h"
#include "services/lm/lm_service.h"
#include "services/lm/sampling.h"
#include "shared/metrics/registry.h"
#include "shared/common/model_paths.h"

namespace {

using namespace parley;
using lm::Clock;

struct Args {
  std::string model;
  int threads = 0;
  std::string weights = "int8";
  int prompt_tokens = 512;
  int gen = 64;
  int streams = 8;
  int stream_gen = 32;
  int stream_prompt = 16;
  int repeat = 3;
  bool reference = true;
  int block_tokens = -1;  // LoadOptions::block_max_tokens; -1 = its default
};

std::string default_model() { return default_lm_path(); }

// Same formula as tools/reference/lm_bench.py: both sides run the same token ids.
std::vector<std::int32_t> synthetic_ids(int n, int offset, std::int64_t vocab) {
  std::vector<std::int32_t> ids;
  const std::int64_t span = std::min<std::int64_t>(vocab - 200, 20000);
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<std::int32_t>(100 + ((i + offset) * 7919LL) % span));
  return ids;
}

// Runs requests to completion; returns their finished events and the wall time.
struct Run {
  std::vector<lm::GenerationEvent> finals;
  double wall_s = 0;
};
Run run_all(lm::Engine& engine, std::vector<lm::GenerationRequest> reqs) {
  std::mutex mu;
  std::condition_variable cv;
  Run run;
  const auto t0 = Clock::now();
  for (auto& r : reqs) {
    r.sink = [&](lm::GenerationEvent&& ev) {
      if (!ev.finished) return;
      std::lock_guard lock(mu);
      run.finals.push_back(std::move(ev));
      cv.notify_all();
    };
    auto id = engine.submit(std::move(r));
    if (!id.ok()) {
      std::fprintf(stderr, "submit failed: %s\n", id.status().to_string().c_str());
      std::exit(1);
    }
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return run.finals.size() == reqs.size(); });
  run.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& f : run.finals) {
    if (!f.status.is_ok()) {
      std::fprintf(stderr, "generation failed: %s\n", f.status.to_string().c_str());
      std::exit(1);
    }
  }
  return run;
}

lm::GenerationRequest greedy(std::vector<std::int32_t> prompt, int max_tokens) {
  lm::GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

// Reads "key": number from the reference's one-line JSON (no JSON library needed for 3 figures).
double json_number(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const auto at = json.find(k);
  return at == std::string::npos ? -1.0 : std::strtod(json.c_str() + at + k.size(), nullptr);
}

std::string reference_python() {
  std::string root;
  if (const char* r = std::getenv("PARLEY_REFENV_DIR"); r != nullptr && *r != '\0') {
    root = r;
  } else {
    const char* home = std::getenv("HOME");
    root = std::string(home != nullptr ? home : ".") + "/.cache/parley/refenv";
  }
  const std::string py = root + "/bin/python";
  std::error_code ec;
  return std::filesystem::exists(py, ec) ? py : "";
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  a.model = default_model();
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--model") a.model = next();
    else if (k == "--threads") a.threads = std::atoi(next().c_str());
    else if (k == "--weights") a.weights = next();
    else if (k == "--prompt-tokens") a.prompt_tokens = std::atoi(next().c_str());
    else if (k == "--gen") a.gen = std::atoi(next().c_str());
    else if (k == "--streams") a.streams = std::atoi(next().c_str());
    else if (k == "--stream-gen") a.stream_gen = std::atoi(next().c_str());
    else if (k == "--repeat") a.repeat = std::atoi(next().c_str());
    else if (k == "--block-tokens") a.block_tokens = std::atoi(next().c_str());
    else if (k == "--no-reference") a.reference = false;
    else if (k == "--quick") { a.repeat = 1; a.gen = 32; a.stream_gen = 16; }
    else {
      std::fprintf(stderr, "lm_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(a.model, ec)) {
    std::printf("SKIPPED: LM model absent (%s): run tools/models/fetch or pass --model\n", a.model.c_str());
    return 0;
  }

  // The reference runs once per round, interleaved with ours, so a busy machine slows both alike
  // (best of the rounds is kept on each side).
  std::string ref_note;
  double ref_pp = 0, ref_dec = 0, ref_agg = 0;
  bool ref_ok = false;
  const std::string py = a.reference ? reference_python() : "";
  if (!a.reference) {
    ref_note = "llama.cpp: not run (--no-reference)";
  } else if (py.empty()) {
    ref_note = "llama.cpp: SKIPPED (reference venv ~/.cache/parley/refenv absent: tools/reference/setup)";
  }
  auto run_reference = [&]() {
    if (py.empty()) return;
    const std::string cmd = py + " '" PARLEY_SOURCE_DIR "/tools/reference/lm_bench.py' --model '" + a.model +
                            "' --threads " + std::to_string(a.threads) + " --prompt-tokens " +
                            std::to_string(a.prompt_tokens) + " --gen " + std::to_string(a.gen) + " --streams " +
                            std::to_string(a.streams) + " --stream-gen " + std::to_string(a.stream_gen) +
                            " --stream-prompt " + std::to_string(a.stream_prompt) + " --repeat 1 2>/dev/null";
    std::string json;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, p) != nullptr) json += buf;
      const int rc = ::pclose(p);
      if (rc != 0 || json_number(json, "decode_tokens_per_s") < 0) {
        ref_note = "llama.cpp: FAILED (" + json + ")";
        return;
      }
    }
    ref_ok = true;
    ref_pp = std::max(ref_pp, json_number(json, "prefill_tokens_per_s"));
    ref_dec = std::max(ref_dec, json_number(json, "decode_tokens_per_s"));
    ref_agg = std::max(ref_agg, json_number(json, "aggregate_tokens_per_s"));
  };

  auto precision = lm::parse_precision(a.weights);
  if (!precision.ok()) {
    std::fprintf(stderr, "%s\n", precision.status().to_string().c_str());
    return 2;
  }
  lm::LoadOptions lo;
  lo.precision = *precision;
  if (a.block_tokens >= 0) lo.block_max_tokens = a.block_tokens;
  auto model = lm::LlamaModel::load(a.model, lo);
  if (!model.ok()) {
    std::fprintf(stderr, "load failed: %s\n", model.status().to_string().c_str());
    return 1;
  }
  const std::int64_t vocab = (*model)->config().vocab_size;
  kernels::ThreadPool pool(a.threads);
  lm::ForwardOptions ctx;
  ctx.threads = &pool;
  const std::int64_t page_size = 16;
  const std::int64_t pages = (a.prompt_tokens + a.gen + 64) / page_size + 1 +
                             a.streams * ((a.stream_prompt + a.stream_gen + page_size) / page_size + 1);
  auto step = lm::ForwardStepModel::create(*model, pages, page_size, ctx);
  if (!step.ok()) {
    std::fprintf(stderr, "KV cache: %s\n", step.status().to_string().c_str());
    return 1;
  }
  metrics::Registry registry;
  lm::LmMetrics metrics(registry);
  lm::EngineOptions eo;
  eo.kv_pages = pages;
  eo.page_size = page_size;
  eo.scheduler.max_batch = a.streams;
  eo.scheduler.prefill_chunk_tokens = a.prompt_tokens;
  lm::Engine engine(std::move(*step), nullptr, eo, &metrics);
  engine.start();

  // Warm-up (page faults, thread pool spin-up).
  run_all(engine, {greedy(synthetic_ids(32, 5, vocab), 4)});

  // The same batch-1 decode on the bare Forward (no engine thread, no scheduler): what serving costs.
  double raw = 0;
  const std::int64_t bare_pages = (a.stream_prompt + a.gen) / page_size + 2;
  auto bare = lm::ForwardStepModel::create(*model, bare_pages, page_size, ctx);
  if (!bare.ok()) return 1;
  auto run_bare = [&]() -> bool {
    std::vector<std::int32_t> table;
    for (std::int32_t p = 0; p < static_cast<std::int32_t>(bare_pages); ++p) table.push_back(p);
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    std::vector<std::int32_t> ids = synthetic_ids(a.stream_prompt, 0, vocab);
    lm::BatchInput b;
    b.sequences.push_back({ids, 0, table, lm::LogitsMode::kLast});
    if (!(*bare)->step(b, logits).is_ok()) return false;
    std::int32_t tok = *lm::sample_token(logits, {}, {}, 0);
    const auto t0 = Clock::now();
    for (int i = 1; i < a.gen; ++i) {
      lm::BatchInput d;
      d.sequences.push_back({std::span<const std::int32_t>(&tok, 1), static_cast<std::int64_t>(ids.size()), table,
                             lm::LogitsMode::kLast});
      if (!(*bare)->step(d, logits).is_ok()) return false;
      ids.push_back(tok);
      tok = *lm::sample_token(logits, {}, {}, static_cast<std::uint64_t>(i));
    }
    raw = std::max(raw, (a.gen - 1) / std::chrono::duration<double>(Clock::now() - t0).count());
    return true;
  };

  double pp = 0, dec = 0, agg = 0;
  for (int r = 0; r < a.repeat; ++r) {
    run_reference();
    Run p = run_all(engine, {greedy(synthetic_ids(a.prompt_tokens, 0, vocab), 1)});
    pp = std::max(pp, a.prompt_tokens / (static_cast<double>(p.finals[0].usage.time_to_first_token_us) / 1e6));
    Run d = run_all(engine, {greedy(synthetic_ids(a.stream_prompt, 0, vocab), a.gen)});
    const auto& u = d.finals[0].usage;
    dec = std::max(dec, (a.gen - 1) / (static_cast<double>(u.total_us - u.time_to_first_token_us) / 1e6));
    if (!run_bare()) return 1;
    std::vector<lm::GenerationRequest> many;
    for (int s = 0; s < a.streams; ++s) many.push_back(greedy(synthetic_ids(a.stream_prompt, 1000 * (s + 1), vocab), a.stream_gen));
    Run m = run_all(engine, std::move(many));
    agg = std::max(agg, a.streams * a.stream_gen / m.wall_s);
  }
  engine.stop();
  const auto bs = metrics.batch_size.snapshot();

  std::printf("LM serving benchmark: %s\n", a.model.c_str());
  std::printf("ours: weights %s, %d threads, continuous-batching engine (max batch %d); mean batch %.2f\n",
              a.weights.c_str(), a.threads, a.streams, bs.count ? bs.sum / static_cast<double>(bs.count) : 0.0);
  const bool have_ref = ref_ok && ref_note.empty();
  std::printf("%s\n", !have_ref ? ref_note.c_str()
                                       : ("llama.cpp (llama-cpp-python, same GGUF, " + std::to_string(a.threads) +
                                          " threads, F16 KV)").c_str());
  std::printf("| figure | ours | llama.cpp | ours / llama.cpp |\n|---|---|---|---|\n");
  auto row = [&](const char* name, double ours, double ref) {
    if (!have_ref) {
      std::printf("| %s | %.1f | - | - |\n", name, ours);
    } else {
      std::printf("| %s | %.1f | %.1f | %.2fx |\n", name, ours, ref, ours / ref);
    }
  };
  char name[128];
  std::snprintf(name, sizeof name, "prompt processing tok/s (%d-token prompt)", a.prompt_tokens);
  row(name, pp, ref_pp);
  std::snprintf(name, sizeof name, "decode tok/s, batch 1 (%d tokens)", a.gen);
  row(name, dec, ref_dec);
  std::snprintf(name, sizeof name, "aggregate tok/s, %d streams x %d tokens", a.streams, a.stream_gen);
  row(name, agg, ref_agg);
  std::printf("bare Forward, batch-1 decode (no engine): %.1f tok/s (engine overhead %.1f%%)\n", raw,
              raw > 0 ? 100.0 * (raw - dec) / raw : 0.0);
  return 0;
}
