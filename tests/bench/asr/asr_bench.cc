// ASR benchmark (label bench): Parley's Whisper engine against faster-whisper 1.2.1 on
// CTranslate2 (INT8, same tiny.en model.bin, 2 CPU threads, greedy) on the 8 shared speech clips,
// run side by side in one process (faster-whisper through tools/reference/asr_reference.py):
//   1. offline: every clip transcribed one after another (one 30 s window each, as faster-whisper
//      does) -> real-time factor and the ratio of throughputs, WER of both;
//   2. batched: the 8 clips as one batch through our engine (faster-whisper has no cross-request
//      batching in transcribe()); then the 8 clips streamed through Recognize sessions (finals
//      only, service defaults): the WER a live caller gets;
//   3. concurrent streams: N Recognize sessions (finals only, and with partials) fed as fast as
//      possible from N threads vs N faster-whisper transcriptions from N threads; "real-time
//      streams" = N x audio seconds / wall seconds;
//   4. end of speech -> final transcript latency (wall), p50/p99, over the streams of (3).
// Every call's Status is checked: a failure exits non-zero. A missed target is a printed verdict.
// Usage: asr_bench [--rounds N] [--streams 1,2,4] [--speculative-finals] [--ours-only (parley's streams alone)
//                  [--finals-only (with --ours-only: no partials runs)] [--no-classifier (silence only)]]
//                  [--final-context S (asr.final_context_s: finals' audio context floor; 30 = full windows)]
// Depends on services/asr, shared/models/whisper, tests/model/asr/asr_support.h, refenv-asr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "services/asr/recognize_session.h"
#include "shared/models/smart_turn/smart_turn.h"
#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"
#include "shared/common/json_document.h"
#include "tests/model/asr/asr_support.h"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSpeech = std::string(PARLEY_TESTDATA) + "/speech";
int g_failures = 0;

void check(const Status& s, const char* what) {
  if (!s.is_ok()) {
    std::fprintf(stderr, "FAILED %s: %s\n", what, s.to_string().c_str());
    ++g_failures;
  }
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string truth(const std::string& name) {
  std::ifstream in(kSpeech + "/" + name + ".txt");
  std::string t;
  std::getline(in, t);
  return t;
}

double wer(const std::vector<std::string>& texts) {
  int e = 0, n = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto [ei, ni] = asr_testing::word_errors(truth(asr_testing::speech_clips()[i]), texts[i]);
    e += ei;
    n += ni;
  }
  return 100.0 * e / std::max(1, n);
}

// Counts the turn-end classifier's calls and their wall time (what a pause costs a stream).
class CountingTurnEnd final : public asr::TurnEndClassifier {
 public:
  explicit CountingTurnEnd(const asr::TurnEndClassifier& inner) : inner_(inner) {}
  std::string_view name() const override { return inner_.name(); }
  Result<float> turn_end_probability(const asr::TurnContext& c) const override {
    const auto t0 = Clock::now();
    auto r = inner_.turn_end_probability(c);
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    calls.fetch_add(1);
    micros.fetch_add(static_cast<std::int64_t>(us));
    return r;
  }
  bool needs_text() const override { return inner_.needs_text(); }
  mutable std::atomic<int> calls{0};
  mutable std::atomic<std::int64_t> micros{0};

 private:
  const asr::TurnEndClassifier& inner_;
};

double g_final_context = asr::SessionOptions{}.final_context_seconds;  // --final-context

struct StreamRun {
  double wall = 0, audio = 0;
  std::vector<double> final_latency;  // wall seconds of the call that produced END_OF_SPEECH + final
};

// `finals`, when set, gets the finals' transcripts (of the last stream to finish).
StreamRun run_streams(asr::AsrEngine& engine, const asr::TurnEndClassifier* turn_end, const std::vector<float>& audio, int n,
                      bool partials, bool speculative, std::string* finals = nullptr) {
  StreamRun run;
  std::mutex mu;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      asr::BlockingWindowRunner runner(engine);
      asr::SessionOptions so;
      so.speculative_finals = speculative;
      so.final_context_seconds = g_final_context;
      asr::RecognizeSession s(*engine.vad(), runner, so, nullptr, turn_end);
      v1::RecognitionConfig c;
      c.mutable_format()->set_encoding(v1::AudioFormat::PCM16);
      c.mutable_format()->set_sample_rate_hz(16000);
      c.set_interim_results(partials);
      check(s.configure(c), "configure");
      std::vector<v1::RecognizeResponse> out;
      std::vector<double> lat;
      std::string text;
      for (std::size_t pos = 0; pos < audio.size(); pos += 1600) {
        v1::AudioChunk chunk;
        std::string b;
        audio::encode_pcm16_le(std::span<const float>(audio).subspan(pos, std::min<std::size_t>(1600, audio.size() - pos)), b);
        chunk.set_data(std::move(b));
        out.clear();
        const auto t = Clock::now();
        check(s.audio(chunk, out), "audio");
        for (const auto& r : out) {
          if (r.speech_event() == v1::RecognizeResponse::END_OF_SPEECH) lat.push_back(seconds_since(t));
          if (finals && r.results_size() > 0 && r.results(0).is_final()) text += r.results(0).alternatives(0).transcript() + " ";
        }
      }
      out.clear();
      check(s.finish(out), "finish");
      for (const auto& r : out) {
        if (finals && r.results_size() > 0 && r.results(0).is_final()) text += r.results(0).alternatives(0).transcript() + " ";
      }
      std::lock_guard lock(mu);
      if (finals) *finals = text;
      run.final_latency.insert(run.final_latency.end(), lat.begin(), lat.end());
    });
  }
  for (auto& t : threads) t.join();
  run.wall = seconds_since(t0);
  run.audio = static_cast<double>(audio.size()) / 16000.0 * n;
  return run;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 2;
  std::vector<int> stream_counts = {1, 2, 4};
  bool speculative = false;  // asr.speculative_finals (the service default: off)
  bool ours_only = false;    // profiling: parley's concurrent streams alone
  bool finals_only = false;  // with --ours-only: skip the partials runs
  bool no_classifier = false;  // with --ours-only: silence-only endpointing (what the classifier costs)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    if (a == "--speculative-finals") speculative = true;
    if (a == "--ours-only") ours_only = true;
    if (a == "--finals-only") finals_only = true;
    if (a == "--no-classifier") no_classifier = true;
    if (a == "--final-context" && i + 1 < argc) g_final_context = std::atof(argv[++i]);
    if (a == "--streams" && i + 1 < argc) {
      stream_counts.clear();
      std::stringstream ss(argv[++i]);
      std::string x;
      while (std::getline(ss, x, ',')) stream_counts.push_back(std::atoi(x.c_str()));
    }
  }
  const std::string dir = asr_testing::whisper_dir();
  const std::string vad = model_root() + "/vad-silero/silero_vad_16k.safetensors";
  const std::string py = asr_testing::reference_python();
  if (!asr_testing::whisper_present(dir) || !std::filesystem::exists(vad) || py.empty() || !std::filesystem::exists(kSpeech)) {
    std::fprintf(stderr, "asr_bench: needs the models (tools/models/fetch --for tests), refenv-asr (tools/reference/setup asr) and %s\n",
                 kSpeech.c_str());
    return 1;
  }
  asr::EngineOptions eo;
  eo.model_dir = dir;
  eo.vad_path = vad;
  eo.max_batch = 8;
  auto engine = asr::AsrEngine::create(eo, nullptr);
  if (!engine.ok()) {
    std::fprintf(stderr, "asr_bench: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  // The service's default endpointing: smart-turn at pauses.
  auto st = smart_turn::SmartTurn::load(asr_testing::smart_turn_path());
  if (!st.ok()) {
    std::fprintf(stderr, "asr_bench: %s (tools/models/fetch --for tests)\n", st.status().to_string().c_str());
    return 1;
  }
  auto turn_end = std::make_unique<asr::SmartTurnEnd>(*st);
  std::vector<std::vector<float>> clips;
  double audio_s = 0;
  for (const auto& c : asr_testing::speech_clips()) {
    auto w = audio::read_wav_file(kSpeech + "/" + c + ".wav");
    if (!w.ok()) return 1;
    clips.push_back(w->mono());
    audio_s += w->duration_seconds();
  }
  std::printf("ASR benchmark: Whisper tiny.en INT8, %zu clips, %.1f s of audio, %u hardware threads; streamed finals on a "
              ">= %.0f s context\n", clips.size(), audio_s, std::thread::hardware_concurrency(), g_final_context);

  if (ours_only) {
    for (int n : stream_counts) {
      for (bool partials : {false, true}) {
        if (partials && finals_only) continue;
        CountingTurnEnd counting(*turn_end);
        StreamRun r = run_streams(**engine, no_classifier ? nullptr : &counting, clips[0], n, partials, speculative);
        std::printf("parley %s, %d streams of jfk.wav: %.2f s wall, %.1f real-time streams; turn-end classifier: %.1f calls "
                    "per stream, %.0f ms each (wall)\n",
                    partials ? "partials + finals" : "finals only", n, r.wall, r.audio / r.wall,
                    static_cast<double>(counting.calls.load()) / n,
                    counting.calls.load() ? 1e-3 * static_cast<double>(counting.micros.load()) / counting.calls.load() : 0.0);
      }
    }
    return g_failures > 0 ? 1 : 0;
  }
  // 1 + 2: offline, ours sequential and batched; best of `rounds`.
  double best_seq = 1e30, best_batch = 1e30;
  std::vector<std::string> texts;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    texts.clear();
    for (const auto& a : clips) {
      asr::WindowJob j;
      j.audio = a;
      auto out = (*engine)->transcribe(std::move(j), Clock::now() + std::chrono::minutes(5));
      check(out.status(), "transcribe");
      texts.push_back(out.ok() ? out->result.text : "");
    }
    best_seq = std::min(best_seq, seconds_since(t0));
    t0 = Clock::now();
    std::vector<asr::WindowJob> jobs;
    for (const auto& a : clips) {
      asr::WindowJob j;
      j.audio = a;
      jobs.push_back(std::move(j));
    }
    auto all = (*engine)->transcribe_all(std::move(jobs), Clock::now() + std::chrono::minutes(5));
    check(all.status(), "transcribe_all");
    best_batch = std::min(best_batch, seconds_since(t0));
  }
  const double our_wer = wer(texts);
  auto ref = asr_testing::run_reference(py, "bench '" + dir + "' 2 " + std::to_string(rounds) + [&] {
    std::string s;
    for (const auto& c : asr_testing::speech_clips()) s += " '" + kSpeech + "/" + c + ".wav'";
    return s;
  }());
  if (!ref.ok()) {
    std::fprintf(stderr, "FAILED faster-whisper: %s\n", ref.status().to_string().c_str());
    return 1;
  }
  double fw_s = 0;
  std::vector<std::string> fw_texts;
  {
    std::stringstream lines(*ref);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] != '{') continue;
      auto doc = json::parse(line);
      if (!doc.ok()) continue;
      fw_s = doc->find("best_s")->as_double();
      for (const auto& t : doc->find("texts")->as_array()) fw_texts.push_back(t.as_string());
    }
  }
  if (fw_s <= 0 || fw_texts.size() != clips.size()) {
    std::fprintf(stderr, "FAILED faster-whisper: no result in\n%s\n", ref->c_str());
    return 1;
  }
  const double fw_wer = wer(fw_texts);
  std::printf("\n| offline, 8 clips one after another | wall s | RTF | WER |\n|---|---|---|---|\n");
  std::printf("| faster-whisper int8 (CTranslate2, 2 threads) | %.2f | %.3f | %.1f%% |\n", fw_s, fw_s / audio_s, fw_wer);
  std::printf("| parley int8, sequential | %.2f | %.3f | %.1f%% |\n", best_seq, best_seq / audio_s, our_wer);
  std::printf("| parley int8, one batch of 8 | %.2f | %.3f | (same windows) |\n", best_batch, best_batch / audio_s);
  const double ratio_seq = fw_s / best_seq, ratio_batch = fw_s / best_batch;
  std::printf("throughput vs faster-whisper: sequential %.2fx, batched %.2fx (goal >= 1.5x at equal WER: %s)\n", ratio_seq,
              ratio_batch, std::max(ratio_seq, ratio_batch) >= 1.5 && our_wer <= fw_wer + 0.5 ? "met" : "NOT met");

  // The same clips streamed (one session each, finals only, the service's defaults): the WER a
  // live caller gets, which the concurrent-streams figures below assume.
  {
    std::vector<std::string> finals(clips.size());
    for (std::size_t c = 0; c < clips.size(); ++c) (void)run_streams(**engine, turn_end.get(), clips[c], 1, false, speculative, &finals[c]);
    std::printf("streamed (Recognize, finals only, one session per clip): WER %.1f%%\n", wer(finals));
  }

  // 3 + 4: concurrent streams of jfk.wav.
  const std::vector<float>& jfk = clips[0];
  std::printf("\n| streams (jfk.wav, 11 s, fed as fast as possible) | N | wall s | real-time streams (N x audio / wall) |\n|---|---|---|---|\n");
  std::vector<double> lat;
  double best_ours = 0, best_fw = 0;
  for (int n : stream_counts) {
    StreamRun finals = run_streams(**engine, turn_end.get(), jfk, n, false, speculative);
    StreamRun partial = run_streams(**engine, turn_end.get(), jfk, n, true, speculative);
    lat.insert(lat.end(), finals.final_latency.begin(), finals.final_latency.end());
    lat.insert(lat.end(), partial.final_latency.begin(), partial.final_latency.end());
    auto fw = asr_testing::run_reference(py, "streams '" + dir + "' 2 " + std::to_string(n) + " '" + kSpeech + "/jfk.wav'");
    double fw_wall = 0;
    if (fw.ok()) {
      std::stringstream lines(*fw);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.empty() || line[0] != '{') continue;
        auto doc = json::parse(line);
        if (doc.ok()) fw_wall = doc->find("wall_s")->as_double();
      }
    }
    if (fw_wall <= 0) {
      std::fprintf(stderr, "FAILED faster-whisper streams %d\n", n);
      ++g_failures;
      continue;
    }
    const double ours_rt = finals.audio / finals.wall, ours_p = partial.audio / partial.wall, fw_rt = 11.0 * n / fw_wall;
    best_ours = std::max(best_ours, ours_rt);
    best_fw = std::max(best_fw, fw_rt);
    std::printf("| parley, finals only (VAD segments) | %d | %.2f | %.1f |\n", n, finals.wall, ours_rt);
    std::printf("| parley, partials every 300 ms + finals | %d | %.2f | %.1f |\n", n, partial.wall, ours_p);
    std::printf("| faster-whisper transcribe() per stream | %d | %.2f | %.1f |\n", n, fw_wall, fw_rt);
  }
  std::printf("concurrent real-time streams: parley %.1f vs faster-whisper %.1f (%.2fx; goal: more: %s)\n", best_ours, best_fw,
              best_fw > 0 ? best_ours / best_fw : 0.0, best_ours > best_fw ? "met" : "NOT met");
  std::printf("end of speech -> final transcript (wall, %zu utterances): p50 %.0f ms, p99 %.0f ms\n", lat.size(),
              1000 * percentile(lat, 0.5), 1000 * percentile(lat, 0.99));
  if (g_failures > 0) {
    std::fprintf(stderr, "%d calls failed\n", g_failures);
    return 1;
  }
  return 0;
}
