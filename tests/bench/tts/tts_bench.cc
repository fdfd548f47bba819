// TTS benchmark (label bench): parley-tts's service logic vs piper-tts 1.8.0 (espeak-ng + ONNX
// Runtime) on the same voice and sentences, 2 threads each, in alternating rounds of one run: time to first audio per
// sentence (short and long), real-time factor of one stream, and audio throughput with 1, 2 and
// 4 streams at once (x real time = how many real-time streams fit). Prints ratios and verdicts
// (targets: first audio of a short sentence < 150 ms; peak throughput, each side at its best
// number of streams, >= 1.5x piper-tts); exits
// non-zero when a call fails or the reference cannot run. --f32: parley with tts.bf16=false;
// --windows F,N,C: the first piece's decoder windows; --ours-only: parley alone (A/B of settings).
// Depends on services/tts, tests/model/tts/tts_test_support.h, refenv-tts (tools/reference).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "shared/common/json.h"
#include "tests/model/tts/tts_test_support.h"

using namespace parley;
using namespace parley::tts;
using Clock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kSentences = {
    "How can I help you?",
    "Your table for 4 at 19:30 on 2026-12-05 costs €20.",
    "Good morning, welcome to the Parley hotel.",
    "Breakfast is served from 7 am to 10:30 am in the garden restaurant on the ground floor.",
    "Would you like me to book a taxi to the airport for tomorrow morning?",
    "Your room is on the third floor, and the lift is just behind you, on the left.",
    "Of course.",
    "The spa is open until 9 pm; towels and robes are in your room.",
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Ours {
  std::vector<double> ttfa_s;  // per sentence (median over repeats)
  double rtf = 0;
  std::map<int, std::pair<double, double>> streams;  // k -> (audio_s, wall_s)
};

bool run_ours(TtsService& svc, int repeats, const std::vector<int>& ks, Ours& o) {
  bool ok = true;
  auto one = [&](const std::string& text, double* ttfa, double* audio_s) {
    v1::SynthesizeRequest r;
    r.set_text(text);
    testing::TestContext ctx;
    testing::Collect out;
    const auto t0 = Clock::now();
    const Status s = svc.synthesize(r, out, ctx);
    if (!s.is_ok() || out.replies.empty()) {
      std::fprintf(stderr, "FAILED: %s: %s\n", text.c_str(), s.to_string().c_str());
      ok = false;
      return;
    }
    if (ttfa) *ttfa = std::chrono::duration<double>(out.at.front() - t0).count();
    if (audio_s) *audio_s += static_cast<double>(out.audio().size()) / 22050.0;
  };
  for (int i = 0; i < 2; ++i) one(kSentences[static_cast<std::size_t>(i)], nullptr, nullptr);  // warm-up
  std::vector<std::vector<double>> per(kSentences.size());
  double audio = 0;
  const auto t0 = Clock::now();
  for (int rep = 0; rep < repeats; ++rep) {
    for (std::size_t i = 0; i < kSentences.size(); ++i) {
      double t = 0;
      one(kSentences[i], &t, &audio);
      per[i].push_back(t);
    }
  }
  o.rtf = std::chrono::duration<double>(Clock::now() - t0).count() / audio;
  for (auto& v : per) o.ttfa_s.push_back(median(v));
  for (int k : ks) {
    std::vector<double> done(static_cast<std::size_t>(k), 0.0);
    const auto s0 = Clock::now();
    std::vector<std::thread> th;
    for (int j = 0; j < k; ++j) {
      th.emplace_back([&, j] {
        for (const std::string& s : kSentences) one(s, nullptr, &done[static_cast<std::size_t>(j)]);
      });
    }
    for (auto& t : th) t.join();
    double a = 0;
    for (double d : done) a += d;
    o.streams[k] = {a, std::chrono::duration<double>(Clock::now() - s0).count()};
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  bool bf16 = true;  // the service's default (tts.bf16)
  bool ours_only = false;
  DecoderWindows windows;  // the service's default (tts.stream_*)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      repeats = 1;
    } else if (a == "--f32") {
      bf16 = false;
    } else if (a == "--ours-only") {
      ours_only = true;
    } else if (a == "--windows" && i + 1 < argc &&
               std::sscanf(argv[i + 1], "%d,%d,%d", &windows.first_frames, &windows.frames, &windows.context) == 3) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: tts_bench [--quick] [--f32] [--windows FIRST,FRAMES,CONTEXT] [--ours-only]\n"
                   "  --f32: f32 convolutions (tts.bf16=false)\n"
                   "  --windows: the first piece's decoder windows (tts.stream_*; context -1 = the decoder's reach)\n"
                   "  --ours-only: parley only (A/B of our own settings; no verdict)\n");
      return 2;
    }
  }
  ::setenv("PARLEY_NUM_THREADS", "2", 0);  // 2 threads each, like ONNX Runtime below
  if (!testing::voice_present()) {
    std::fprintf(stderr, "voice absent: %s (tools/models/fetch --for tests)\n", testing::voice_path().c_str());
    return 1;
  }
  const std::string py = testing::reference_python();
  if (py.empty()) {
    std::fprintf(stderr, "reference venv refenv-tts absent (tools/reference/setup tts)\n");
    return 1;
  }
  const std::vector<int> ks = {1, 2, 4};
  const std::string file = "/tmp/parley_tts_bench_" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream f(file);
    f << "[";
    for (std::size_t i = 0; i < kSentences.size(); ++i) {
      std::string s;
      append_json_string(s, kSentences[i]);
      f << (i ? "," : "") << s;
    }
    f << "]";
  }
  TtsOptions options = testing::default_options(4);
  options.bf16 = bf16;
  options.windows = windows;
  std::printf("decoder windows: first %d frames, then %d, context %d%s\n", windows.first_frames, windows.frames, windows.context,
              windows.context < 0 ? " (the decoder's reach)" : "");
  std::printf("parley convolutions: %s\n", bf16 ? "bf16 where the CPU has AVX512_BF16 (tts.bf16, the default)" : "f32 (--f32)");
  auto svc = TtsService::create(options, nullptr);
  if (!svc.ok()) {
    std::fprintf(stderr, "FAILED: %s\n", svc.status().to_string().c_str());
    return 1;
  }
  // Rounds alternate piper-tts and parley so that a change in the machine's load (the dev VM is
  // shared) hits both alike; figures are medians over rounds.
  bool ok = true;
  std::vector<Ours> ours_rounds;
  std::vector<json::Value> ref_rounds;
  for (int round = 0; round < repeats; ++round) {
    if (ours_only) {
      Ours o;
      ok = run_ours(**svc, 1, ks, o) && ok;
      std::printf("round %d/%d: parley", round + 1, repeats);
      for (int k : ks) std::printf("  %d streams %.1fx", k, o.streams.at(k).first / o.streams.at(k).second);
      std::printf("  first audio %.1f ms (short)\n", o.ttfa_s[0] * 1000);
      std::fflush(stdout);
      continue;
    }
    std::printf("round %d/%d: piper-tts 1.8.0 (ONNX Runtime, 2 threads)...\n", round + 1, repeats);
    std::fflush(stdout);
    auto ref = testing::run_reference(py, "bench-piper --model '" + testing::voice_path() + "' --sentences '" + file +
                                              "' --threads 2 --repeats 1 --streams 1,2,4");
    if (!ref.ok()) {
      std::fprintf(stderr, "FAILED: reference: %s\n", ref.status().to_string().c_str());
      std::remove(file.c_str());
      return 1;
    }
    ref_rounds.push_back(std::move(*ref));
    std::printf("round %d/%d: parley-tts (our ONNX runtime, 2 threads)...\n", round + 1, repeats);
    std::fflush(stdout);
    Ours o;
    ok = run_ours(**svc, 1, ks, o) && ok;
    ours_rounds.push_back(std::move(o));
  }
  std::remove(file.c_str());
  if (ours_only) return ok ? 0 : 1;
  Ours ours;
  ours.ttfa_s.assign(kSentences.size(), 0);
  std::vector<double> rtfs;
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    std::vector<double> v;
    for (const Ours& o : ours_rounds) v.push_back(o.ttfa_s[i]);
    ours.ttfa_s[i] = median(v);
  }
  for (const Ours& o : ours_rounds) rtfs.push_back(o.rtf);
  ours.rtf = median(rtfs);
  for (int k : ks) {
    std::vector<double> v;
    for (const Ours& o : ours_rounds) v.push_back(o.streams.at(k).first / o.streams.at(k).second);
    ours.streams[k] = {median(v), 1.0};
  }
  const json::Value* ref = &ref_rounds.front();
  // piper's per-sentence first audio (repeats x sentences, sentence-major within a repeat).
  std::vector<std::vector<double>> pt(kSentences.size());
  std::vector<double> piper_rtfs;
  std::map<int, std::vector<double>> piper_streams;
  for (const json::Value& r : ref_rounds) {
    const auto& arr = r.find("ttfa_s")->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) pt[i % kSentences.size()].push_back(arr[i].as_double());
    piper_rtfs.push_back(r.find("rtf")->as_double());
    for (int k : ks) {
      const json::Value* sk = r.find("streams")->find(std::to_string(k));
      piper_streams[k].push_back(sk->find("audio_s")->as_double() / sk->find("wall_s")->as_double());
    }
  }
  (void)ref;
  std::printf("\ntime to first audio (median of %d rounds), ms:\n%-70s %8s %8s %7s\n", repeats, "sentence", "parley", "piper", "ratio");
  for (std::size_t i = 0; i < kSentences.size(); ++i) {
    const double p = median(pt[i]) * 1000, o = ours.ttfa_s[i] * 1000;
    std::printf("%-70.70s %8.1f %8.1f %6.2fx\n", kSentences[i].c_str(), o, p, p / o);
  }
  const double piper_rtf = median(piper_rtfs);
  std::printf("\nreal-time factor, one stream (lower is faster): parley %.3f, piper %.3f -> %.2fx faster\n", ours.rtf,
              piper_rtf, piper_rtf / ours.rtf);
  std::printf("\nstreams at once: audio seconds per wall second (x real time)\n%8s %10s %10s %7s\n", "streams", "parley", "piper", "ratio");
  // The verdict compares each side's peak (its best number of streams): at 4 streams piper-tts
  // runs 8 threads on the machine's cores and may lose to its own oversubscription, which a
  // deployment would avoid by running fewer streams.
  double peak_ours = 0, peak_piper = 0;
  int k_ours = 0, k_piper = 0;
  for (int k : ks) {
    const double p = median(piper_streams[k]);
    const double o = ours.streams[k].first;
    std::printf("%8d %9.1fx %9.1fx %6.2fx\n", k, o, p, o / p);
    if (o > peak_ours) peak_ours = o, k_ours = k;
    if (p > peak_piper) peak_piper = p, k_piper = k;
  }
  const double peak_ratio = peak_ours / peak_piper;
  const double short_ttfa = std::min(ours.ttfa_s[0], ours.ttfa_s[6]) * 1000;
  const double short_ttfa_max = std::max(ours.ttfa_s[0], ours.ttfa_s[6]) * 1000;
  std::printf("\nverdict: first audio of a short sentence %.0f-%.0f ms (target < 150 ms): %s\n", short_ttfa, short_ttfa_max,
              short_ttfa_max < 150 ? "met" : "NOT met");
  std::printf("verdict: peak throughput %.1fx real time (%d streams) vs piper-tts %.1fx (%d streams): %.2fx (target >= 1.5x): %s\n",
              peak_ours, k_ours, peak_piper, k_piper, peak_ratio, peak_ratio >= 1.5 ? "met" : "NOT met");
  return ok ? 0 : 1;
}
