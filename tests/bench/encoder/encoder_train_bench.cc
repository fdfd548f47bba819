// Encoder fine-tuning benchmark (label bench): steps of shared/models/encoder/train's joint trainer
// (all-MiniLM-L6-v2, intent head on [CLS] + tag head on every token, AdamW; the word-embedding
// table frozen, as the service trains it) in FP32 and in bf16 mixed precision
// (TrainableOptions::bf16), side by side with PyTorch doing the same step on the same shapes
// (tools/reference/encoder_reference.py train-bench: FP32, and bf16 CPU autocast), same thread
// count, printing ratios. Time: median step after 2 warm-up steps.
// Usage: encoder_train_bench [--quick] [--threads N] [--batch B] [--seq T] [--steps S] [--no-torch]
// Depends on shared/models/encoder(/train), the refenv-encoder venv (PyTorch part skipped with a
// message if absent). PyTorch's FP32 matmuls use the system BLAS: its name is printed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/bf16_linear.h"
#include "shared/models/encoder/model.h"
#include "shared/models/encoder/train/joint_trainer.h"
#include "tests/model/shared/models/encoder/model_support.h"

namespace enc = parley::encoder;

namespace {

struct Figure {
  double ms_per_step = 0;
  double tokens_per_s = 0;
};

// Median step time of a joint training run of `steps` + 2 steps (the first two are warm-up).
Figure time_steps(const enc::EncoderModel& model, const std::vector<enc::train::JointExample>& data, int batch,
                  int seq, int steps, int labels, int tags, bool bf16, parley::kernels::ThreadPool& pool) {
  enc::train::JointOptions o;
  o.epochs = 1;
  o.max_steps = steps + 2;
  o.batch_size = batch;
  o.lr = 1e-4f;
  o.encoder.bf16 = bf16;
  std::vector<double> stamps;
  o.progress = [&](const enc::train::JointProgress& p) { stamps.push_back(p.seconds); };
  auto r = enc::train::train_joint(model.weights(), model.config(), data, labels, tags, o,
                                   parley::models::ModelDevice::cpu(&pool));
  if (!r.ok()) {
    std::fprintf(stderr, "train_joint failed: %s\n", r.status().to_string().c_str());
    std::exit(1);
  }
  std::vector<double> times;
  for (std::size_t i = 2; i < stamps.size(); ++i) times.push_back(stamps[i] - stamps[i - 1]);
  if (times.empty()) {
    std::fprintf(stderr, "train_joint ran %zu steps\n", stamps.size());
    std::exit(1);
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  return {med * 1e3, static_cast<double>(batch) * seq / med};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, batch = 32, seq = 16, steps = 20;
  bool run_torch = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) steps = 8;
    if (!std::strcmp(argv[i], "--no-torch")) run_torch = false;
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batch = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--seq") && i + 1 < argc) seq = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) steps = std::atoi(argv[++i]);
  }
  if (threads < 1 || batch < 1 || seq < 3 || steps < 1) {
    std::fprintf(stderr, "encoder_train_bench: --threads, --batch, --steps >= 1 and --seq >= 3\n");
    return 2;
  }
  const std::string dir = enc::testing::model_dir();
  if (!enc::testing::model_present(dir)) {
    std::printf("SKIPPED: encoder model absent in %s (run tools/models/fetch or set PARLEY_ENCODER_DIR)\n", dir.c_str());
    return 0;
  }
  enc::LoadOptions lo;
  lo.precision = enc::Precision::kFp32;
  auto model = enc::EncoderModel::load(dir, lo);
  if (!model.ok()) {
    std::fprintf(stderr, "load failed: %s\n", model.status().to_string().c_str());
    return 1;
  }
  constexpr int kLabels = 7, kTags = 40;  // SNIPS: 7 intents, 39 BIO tags + O
  std::mt19937 rng(7);
  std::vector<enc::train::JointExample> data(static_cast<std::size_t>(batch) * static_cast<std::size_t>(steps + 2));
  for (auto& e : data) {
    e.ids.resize(static_cast<std::size_t>(seq));
    e.tags.resize(static_cast<std::size_t>(seq));
    for (int t = 0; t < seq; ++t) {
      e.ids[static_cast<std::size_t>(t)] = 1000 + static_cast<std::int32_t>(rng() % 29000u);
      e.tags[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(rng() % kTags);
    }
    e.ids.front() = 101;
    e.ids.back() = 102;
    e.label = static_cast<std::int32_t>(rng() % kLabels);
  }
  parley::kernels::ThreadPool pool(threads);
  const Figure f32 = time_steps(**model, data, batch, seq, steps, kLabels, kTags, false, pool);
  const Figure b16 = time_steps(**model, data, batch, seq, steps, kLabels, kTags, true, pool);

  Figure torch_f32, torch_b16;
  std::string note;
  const std::string py = enc::testing::reference_python();
  if (!run_torch) {
    note = "PyTorch: not run (--no-torch)";
  } else if (py.empty()) {
    note = "PyTorch: SKIPPED (reference venv refenv-encoder absent: tools/reference/setup encoder)";
  } else {
    char args[512];
    std::snprintf(args, sizeof args, "train-bench --model-dir '%s' --threads %d --batch %d --seq %d --labels %d --tags %d --steps %d",
                  dir.c_str(), threads, batch, seq, kLabels, kTags, steps);
    auto r = enc::testing::run_reference(py, args);
    if (!r.ok()) {
      note = "PyTorch: FAILED (" + r.status().message() + ")";
    } else {
      auto fig = [&](const char* key) {
        const parley::json::Value* v = r->find(key);
        return v ? Figure{v->find("ms_per_step")->as_double(), v->find("tokens_per_s")->as_double()} : Figure{};
      };
      torch_f32 = fig("fp32");
      torch_b16 = fig("bf16");
      const parley::json::Value* ver = r->find("versions");
      note = "PyTorch " + (ver ? ver->find("torch")->as_string() : std::string("?")) + ", FP32 matmuls on " +
             (ver ? ver->find("libblas")->as_string() : std::string("?")) + ", bf16 = CPU autocast (oneDNN)";
    }
  }
  std::printf("encoder fine-tuning step: %s, batch %d x seq %d (%d tokens), %d threads, median of %d steps\n%s\n",
              dir.c_str(), batch, seq, batch * seq, threads, steps, note.c_str());
  std::printf("AVX512_BF16 here: %s (without it our bf16 row runs FP32)\n",
              parley::kernels::cpu::bf16_linear_fast() ? "yes" : "no");
  std::printf("| precision | ours ms/step | ours tokens/s | PyTorch ms/step | PyTorch tokens/s | ours vs PyTorch |\n");
  std::printf("|---|---|---|---|---|---|\n");
  auto row = [](const char* name, const Figure& o, const Figure& t) {
    if (t.ms_per_step > 0) {
      std::printf("| %s | %.1f | %.0f | %.1f | %.0f | %.2fx |\n", name, o.ms_per_step, o.tokens_per_s, t.ms_per_step,
                  t.tokens_per_s, t.ms_per_step / o.ms_per_step);
    } else {
      std::printf("| %s | %.1f | %.0f | - | - | - |\n", name, o.ms_per_step, o.tokens_per_s);
    }
  };
  row("fp32", f32, torch_f32);
  row("bf16 mixed", b16, torch_b16);
  std::printf("ours bf16 vs ours fp32: %.2fx\n", f32.ms_per_step / b16.ms_per_step);
  return 0;
}
