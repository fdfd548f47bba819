// Where a Piper voice spends its time on our runtime (label bench): the whole graph on one
// sentence with the per-op profile (fused and unfused graphs, LoadOptions::fuse), and every
// decoder convolution shape of en_US-joe-medium alone through the Backend at one streaming
// window (152 latent frames), in GFLOP/s. Why: the figures that tell which kernel or fusion to
// work on next (services/tts/README.md "Figures"); the side-by-side ratios are tts_bench's.
// Depends on services/tts (PiperVoice, phonemizer), shared/onnx, kernels.
//
//   tts_profile_bench [--runs 5] [--text "..."] [--no-shapes] [--bf16]
//   --bf16: convolutions multiply in bf16 (SessionOptions::allow_bf16; needs AVX512_BF16)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "services/tts/phonemizer_client.h"
#include "services/tts/piper_voice.h"
#include "services/tts/text_normalizer.h"
#include "tests/model/tts/tts_test_support.h"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

bool g_bf16 = false;  // --bf16


struct Shape {
  const char* name;
  bool transposed;
  std::int64_t cin, cout, ks, stride, pad, dil;
  std::int64_t lin_per_frame;  // input length per latent frame
};

// The decoder of en_US-joe-medium (HiFi-GAN, upsampling 8 x 8 x 4, ResBlock kernels 3/5/7).
const Shape kShapes[] = {
    {"conv_pre 192->256 k7", false, 192, 256, 7, 1, 3, 1, 1},
    {"ups.0 256->128 k16 s8 (T)", true, 256, 128, 16, 8, 4, 1, 1},
    {"res 128 k3 d1", false, 128, 128, 3, 1, 1, 1, 8},
    {"res 128 k5 d6", false, 128, 128, 5, 1, 12, 6, 8},
    {"res 128 k7 d12", false, 128, 128, 7, 1, 36, 12, 8},
    {"ups.1 128->64 k16 s8 (T)", true, 128, 64, 16, 8, 4, 1, 8},
    {"res 64 k3 d1", false, 64, 64, 3, 1, 1, 1, 64},
    {"res 64 k5 d6", false, 64, 64, 5, 1, 12, 6, 64},
    {"res 64 k7 d12", false, 64, 64, 7, 1, 36, 12, 64},
    {"ups.2 64->32 k8 s4 (T)", true, 64, 32, 8, 4, 2, 1, 64},
    {"res 32 k3 d1", false, 32, 32, 3, 1, 1, 1, 256},
    {"res 32 k5 d6", false, 32, 32, 5, 1, 12, 6, 256},
    {"res 32 k7 d12", false, 32, 32, 7, 1, 36, 12, 256},
    {"conv_post 32->1 k7", false, 32, 1, 7, 1, 3, 1, 256},
};

// CPU seconds of every thread of this process: on the shared dev VM a run can wait for a core
// for long stretches; CPU time counts only the work (GFLOP per CPU second is the kernels' speed).
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int shapes(int runs) {
  const kernels::Backend& be = kernels::cpu_backend();
  kernels::ExecContext ctx = kernels::ExecContext::cpu();
  ctx.allow_bf16 = g_bf16;
  constexpr std::int64_t kFrames = 152;  // one 120-frame window + 2 x 16 frames of context
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::printf("\none decoder window (%lld latent frames) per shape, median of %d runs (wall ms; GFLOP per CPU second of all "
              "threads, the kernel's speed on a machine others share):\n%-28s %10s %9s %8s %10s\n",
              static_cast<long long>(kFrames), runs, "shape", "wall ms", "GFLOP", "GFLOP/s", "GFLOP/cpu-s");
  double total_ms = 0, total_gf = 0, total_cpu = 0;
  for (const Shape& s : kShapes) {
    kernels::Conv1dArgs a;
    a.transposed = s.transposed;
    a.batch = 1;
    a.in_channels = s.cin;
    a.out_channels = s.cout;
    a.in_length = kFrames * s.lin_per_frame;
    a.kernel_size = s.ks;
    a.stride = s.stride;
    a.padding = s.pad;
    a.dilation = s.dil;
    const std::int64_t lout = kernels::conv1d_output_length(a);
    std::vector<float> x(static_cast<std::size_t>(s.cin * a.in_length)), w(static_cast<std::size_t>(s.cin * s.cout * s.ks)),
        b(static_cast<std::size_t>(s.cout)), y(static_cast<std::size_t>(s.cout * lout));
    for (auto& v : x) v = nd(rng);
    for (auto& v : w) v = nd(rng) * 0.1f;
    for (auto& v : b) v = nd(rng);
    a.x = x.data();
    a.w = w.data();
    a.bias = b.data();
    a.y = y.data();
    // Multiply-adds: every (output channel, input channel, tap) pair once per input (transposed)
    // or output (conv) position.
    const double flops = 2.0 * static_cast<double>(s.cin * s.cout * s.ks) * static_cast<double>(s.transposed ? a.in_length : lout);
    std::vector<double> ms, cpu;
    for (int r = 0; r < runs + 1; ++r) {
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      const Status st = be.conv1d(a, ctx);
      if (!st.is_ok()) {
        std::fprintf(stderr, "FAILED: %s: %s\n", s.name, st.to_string().c_str());
        return 1;
      }
      if (r > 0) {
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        cpu.push_back(cpu_seconds() - c0);
      }
    }
    const double m = median(ms), c = std::max(median(cpu), 1e-6);
    // The decoder runs each ResBlock shape twice per kernel size (convs.0 and convs.1).
    const int times = std::strncmp(s.name, "res", 3) == 0 ? 2 : 1;
    total_ms += m * times;
    total_cpu += c * times;
    total_gf += flops * times / 1e9;
    std::printf("%-28s %10.2f %9.3f %8.1f %10.1f%s\n", s.name, m, flops / 1e9, flops / 1e9 / (m / 1e3), flops / 1e9 / c,
                times == 2 ? "  (x2)" : "");
  }
  std::printf("%-28s %10.2f %9.3f %8.1f %10.1f  (per window: %.1f ms of audio)\n", "all decoder convolutions", total_ms, total_gf,
              total_gf / (total_ms / 1e3), total_gf / total_cpu, static_cast<double>(kFrames - 32) * 256 / 22.05);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  bool do_shapes = true;
  std::string text = "Would you like me to book a taxi to the airport for tomorrow morning?";
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (k == "--text" && i + 1 < argc) text = argv[++i];
    else if (k == "--no-shapes") do_shapes = false;
    else if (k == "--bf16") g_bf16 = true;
    else {
      std::fprintf(stderr, "usage: tts_profile_bench [--runs N] [--text T] [--no-shapes] [--bf16]\n");
      return 2;
    }
  }
  if (!tts::testing::voice_present()) {
    std::fprintf(stderr, "voice absent: %s (tools/models/fetch --for tests)\n", tts::testing::voice_path().c_str());
    return 1;
  }
  tts::PhonemizerOptions po;
  po.program = tts::testing::phonemizer_path();
  tts::PhonemizerClient ph(po);
  auto phonemes = ph.phonemize(tts::normalize_for_speech(text));
  if (!phonemes.ok()) {
    std::fprintf(stderr, "FAILED: phonemize: %s\n", phonemes.status().to_string().c_str());
    return 1;
  }
  for (bool fuse : {false, true}) {
    onnx::LoadOptions lo;
    lo.fuse = fuse;
    auto model = onnx::Model::load(tts::testing::voice_path(), lo);
    if (!model.ok()) {
      std::fprintf(stderr, "FAILED: %s\n", model.status().to_string().c_str());
      return 1;
    }
    auto config = tts::PiperVoice::load(tts::testing::voice_path());
    if (!config.ok()) return 1;
    const auto ids = tts::phonemes_to_ids((*config)->config(), *phonemes);
    onnx::Session session(*model, onnx::SessionOptions{.seed = 0x5eed, .threads = nullptr, .profile = true, .allow_bf16 = g_bf16});
    std::vector<double> ms;
    double audio_s = 0;
    for (int r = 0; r < runs + 1; ++r) {
      const auto n = static_cast<std::int64_t>(ids.size());
      auto input = onnx::Tensor::from_vector<std::int64_t>({1, n}, ids);
      auto lengths = onnx::Tensor::from_vector<std::int64_t>({1}, {n});
      auto scales = onnx::Tensor::from_vector<float>({3}, {0.667f, 1.0f, 0.8f});
      const auto t0 = Clock::now();
      auto out = session.run({{"input", *input}, {"input_lengths", *lengths}, {"scales", *scales}});
      if (!out.ok()) {
        std::fprintf(stderr, "FAILED: run: %s\n", out.status().to_string().c_str());
        return 1;
      }
      if (r > 0) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      audio_s = static_cast<double>((*out)[0].numel()) / 22050.0;
    }
    double total = 0;
    for (const auto& p : session.profile()) total += p.seconds;
    std::printf("\n%s graph (%lld nodes run): \"%s\" -> %.2f s of audio in %.1f ms (median of %d), RTF %.3f\n",
                fuse ? "fused" : "unfused", static_cast<long long>((*model)->stats().nodes - (*model)->stats().folded),
                text.c_str(), audio_s, median(ms), runs, median(ms) / 1e3 / audio_s);
    for (const auto& p : session.profile()) {
      if (p.seconds / total < 0.005) continue;
      std::printf("  %-18s %6lld calls %8.1f ms/run %5.1f%%\n", p.op_type.c_str(), static_cast<long long>(p.calls / (runs + 1)),
                  p.seconds * 1e3 / (runs + 1), 100 * p.seconds / total);
    }
  }
  return do_shapes ? shapes(runs) : 0;
}
