// Encoder benchmark (label bench): all-MiniLM-L6-v2 at sequence length 128, latency at batch 1
// and throughput at batch 32, for the load presets below, side by
// side with ONNX Runtime on the same model (exported by tools/reference/encoder_reference.py at
// run time into ~/.cache/parley/onnx-encoder) with the same thread count, printing ratios.
// Variants: fp32, default (LoadOptions{}: INT8 Q|K|V, attention output, FFN input; FFN output BF16
// where the CPU has AVX-512 BF16, else FP32), bf16 (every linear BF16),
// int8-fast (plain W8A8), int8-no-bf16 (the default of CPUs without AVX-512 BF16);
// int8-fast-pruned and sparse24: the linears pruned to 2:4, through the dense W8A8 GEMM and the 2:4
// GEMM (LoadOptions::sparse24_int8).
// Profiling: --variant NAME and/or --batch 1|32 time only that (no ORT run);
// --no-ort, --seconds S, --threads N, --seq T.
// Depends on shared/models/encoder, the refenv-encoder venv (ORT part skipped with a message if absent).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "shared/models/encoder/session.h"
#include "tests/model/shared/models/encoder/model_support.h"

namespace enc = parley::encoder;

namespace {

struct Figure {
  double ms_per_batch = 0;
  double seq_per_s = 0;
};

Figure time_batch(enc::EncoderSession& s, const enc::TokenBatch& b, double seconds) {
  enc::EncoderOutput out;
  (void)s.encode(b, out);  // warm-up (grows scratch)
  std::vector<double> times;
  const auto t0 = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    const auto a = std::chrono::steady_clock::now();
    parley::Status st = s.encode(b, out);
    if (!st.is_ok()) {
      std::fprintf(stderr, "encode failed: %s\n", st.message().c_str());
      std::exit(1);
    }
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  return {med * 1e3, static_cast<double>(b.size()) / med};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, seq = 128;
  double seconds = 3.0;
  bool run_ort = true;
  std::string only;  // --variant NAME: time one variant (profiling)
  std::vector<int> batches = {1, 32};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) seconds = 1.0;
    if (!std::strcmp(argv[i], "--no-ort")) run_ort = false;
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--seq") && i + 1 < argc) seq = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    if (!std::strcmp(argv[i], "--variant") && i + 1 < argc) only = argv[++i];
    if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batches = {std::atoi(argv[++i]) == 1 ? 1 : 32};
  }
  if (batches.size() == 1) run_ort = false;
  const std::string dir = enc::testing::model_dir();
  if (!enc::testing::model_present(dir)) {
    std::printf("SKIPPED: encoder model absent in %s (run tools/models/fetch or set PARLEY_ENCODER_DIR)\n", dir.c_str());
    return 0;
  }
  parley::kernels::ThreadPool pool(threads);
  std::mt19937 rng(7);
  auto make_batch = [&](int n) {
    enc::TokenBatch b;
    for (int i = 0; i < n; ++i) {
      std::vector<std::int32_t> ids(static_cast<std::size_t>(seq));
      for (auto& id : ids) id = 1000 + static_cast<std::int32_t>(rng() % 29000u);
      ids.front() = 101;
      ids.back() = 102;
      b.add(ids);
    }
    return b;
  };
  std::map<std::string, std::map<int, Figure>> ours;
  struct Variant {
    const char* name;
    enc::LoadOptions opts;
    bool pruned = false;  // the model's linears pruned to 2:4 by magnitude first (encoder::prune_linears_2to4)
  };
  std::vector<Variant> variants;
  variants.push_back({"fp32", enc::LoadOptions{.precision = enc::Precision::kFp32}});
  variants.push_back({"default", enc::LoadOptions{}});
  variants.push_back({"int8-fast", enc::LoadOptions::fast_int8()});
  enc::LoadOptions no_bf16;  // the default of CPUs without AVX-512 BF16
  no_bf16.bf16_linears = 0;
  no_bf16.int8_linears = no_bf16.int8_linears_without_bf16;
  variants.push_back({"int8-no-bf16", no_bf16});
  variants.push_back({"bf16", enc::LoadOptions::bf16()});
  // 2:4: the same pruned weights through the dense W8A8 GEMM and through the backend's 2:4 GEMM
  // (the kernel's speed on this device; the accuracy of a pruned model needs fine-tuning,
  // services/nlu/README.md).
  variants.push_back({"int8-fast-pruned", enc::LoadOptions::fast_int8(), true});
  variants.push_back({"sparse24", enc::LoadOptions::sparse24_int8(), true});

  if (!only.empty()) {
    std::erase_if(variants, [&](const Variant& v) { return only != v.name; });
    run_ort = false;
  }
  std::shared_ptr<const enc::EncoderModel> fp32_model;  // source of the pruned variants
  for (const Variant& v : variants) {
    auto model = v.pruned ? [&]() -> parley::Result<std::shared_ptr<const enc::EncoderModel>> {
      if (!fp32_model) {
        PARLEY_ASSIGN_OR_RETURN(fp32_model, enc::EncoderModel::load(dir, {.precision = enc::Precision::kFp32}));
      }
      enc::EncoderWeights w = fp32_model->weights();
      PARLEY_RETURN_IF_ERROR(enc::prune_linears_2to4(w));
      return enc::EncoderModel::from_host_weights(std::move(w), fp32_model->config(), fp32_model->sentence(), v.opts);
    }()
                          : enc::EncoderModel::load(dir, v.opts);
    if (!model.ok()) {
      std::fprintf(stderr, "load failed: %s\n", model.status().message().c_str());
      return 1;
    }
    enc::EncoderSession s(*model, {.threads = &pool});
    for (int b : batches) ours[v.name][b] = time_batch(s, make_batch(b), seconds);
  }
  std::map<int, Figure> ort;
  std::string ort_note;
  const std::string py = enc::testing::reference_python();
  if (!run_ort) {
    ort_note = "ONNX Runtime: not run (--no-ort / --variant)";
  } else if (py.empty()) {
    ort_note = "ONNX Runtime: SKIPPED (reference venv refenv-encoder absent: tools/reference/setup encoder)";
  } else {
    char args[512];
    std::snprintf(args, sizeof args, "bench --model-dir '%s' --threads %d --seq %d --batches 1,32 --seconds %.1f",
                  dir.c_str(), threads, seq, seconds);
    auto r = enc::testing::run_reference(py, args);
    if (!r.ok()) {
      ort_note = "ONNX Runtime: FAILED (" + r.status().message() + ")";
    } else {
      const parley::json::Value* o = r->find("onnxruntime");
      for (int b : batches) {
        const parley::json::Value* f = o ? o->find(std::to_string(b)) : nullptr;
        if (f) ort[b] = {f->find("ms_per_batch")->as_double(), f->find("sequences_per_s")->as_double()};
      }
      const parley::json::Value* ver = r->find("versions");
      ort_note = "ONNX Runtime " + (ver ? ver->find("onnxruntime")->as_string() : std::string("?")) +
                 " (FP32 graph, all optimizations, intra-op threads " + std::to_string(threads) + ")";
    }
  }
  std::printf("encoder benchmark: %s, seq %d, %d threads\n%s\n", dir.c_str(), seq, threads, ort_note.c_str());
  std::printf("| variant | batch 1 ms | batch 32 seq/s | batch-1 speed vs ORT | batch-32 throughput vs ORT |\n");
  std::printf("|---|---|---|---|---|\n");
  if (!ort.empty()) {
    std::printf("| onnxruntime | %.2f | %.1f | 1.00x | 1.00x |\n", ort[1].ms_per_batch, ort[32].seq_per_s);
  }
  for (const Variant& v : variants) {
    const Figure& b1 = ours[v.name][1];
    const Figure& b32 = ours[v.name][32];
    if (ort.empty()) {
      auto cell = [](double x, const char* fmt) {
        char buf[32] = "-";
        if (x > 0) std::snprintf(buf, sizeof buf, fmt, x);
        return std::string(buf);
      };
      std::printf("| %s | %s | %s | - | - |\n", v.name, cell(b1.ms_per_batch, "%.2f").c_str(),
                  cell(b32.seq_per_s, "%.1f").c_str());
    } else {
      std::printf("| %s | %.2f | %.1f | %.2fx | %.2fx |\n", v.name, b1.ms_per_batch, b32.seq_per_s,
                  ort[1].ms_per_batch / b1.ms_per_batch, b32.seq_per_s / ort[32].seq_per_s);
    }
  }
  return 0;
}
