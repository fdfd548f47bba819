// Voice latency benchmark: N concurrent voice sessions, each streaming the shared speech clips in
// real time (20 ms frames) into /v1/sessions/{id}/voice, measure end of user speech -> first bot
// audio byte (p50 / p99) as the client sees it, with each stage's share as the server reports it
// (endpoint, dialog to the first reply text, TTS to its first audio, playout), and which
// concurrency still holds real time. By default against a parley-dialog it starts with fake
// NLU/QA/LM and fake ASR/TTS on the real transport (the orchestrator's own share of the latency);
// with --real against the real platform it starts itself (parley-asr, -nlu, -qa, -lm, -tts and
// parley-dialog from this build tree, tests/support/platform.h); with --url against a running
// platform with the real services (tools/run).
// Depends on services/dialog (the voice client, the fakes), shared/audio, tests/support.
//
//   voice_latency_bench [--sessions 1,4,8] [--clips N] [--barge-ins 5] [--url http://127.0.0.1:8080 [--key K]]
//                       [--real [--flag asr:--asr.max_silence_ms=600 ...]]
//                       [--bot demo] [--fake-text "what time is breakfast"] [--service-delay-ms 0]
// Then barge-ins: a typed question (--barge-question), and 600 ms into the spoken reply a clip
// spoken over the bot.
// Exits non-zero when a voice turn fails (no transcript, no audio, an error event) or, with --url
// or --real, when the platform has no real ASR or TTS behind it (a fallback would make the figures
// lie; --real also when a real service does not start).
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "services/dialog/cli/voice_client.h"
#include "services/dialog/testing/fake_services.h"
#include "services/dialog/testing/fake_speech.h"
#include "shared/audio/pcm.h"
#include "shared/audio/resampler.h"
#include "shared/audio/wav.h"
#include "shared/common/log.h"
#include "tests/support/net.h"
#include "tests/support/platform.h"
#include "tests/support/process.h"

#ifndef PARLEY_TESTDATA
#define PARLEY_TESTDATA "../shared/testdata"
#endif

namespace {

using namespace parley;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Clip {
  std::string name;
  std::string pcm;  // 16 kHz PCM16 mono
  double seconds = 0;
  /// Where the speech starts and ends: the first / last 20 ms frame louder than -40 dBFS (clips
  /// carry some quiet around the speech, which is part of no one's latency).
  double speech_start_seconds = -1, speech_end_seconds = 0;
};

struct Sample {
  bool ok = false;
  std::string why;         // when not ok
  double latency_ms = 0;   // client: end of the clip's speech -> the reply's first audio
  std::map<std::string, double> stages_ms;  // server: voice.* of bot_speech_started
  std::string clip, transcript;  // the clip's name, its last final
  int finals = 0;
};

double stage_of(const Sample& s, const std::string& name) {
  auto it = s.stages_ms.find(name);
  return it == s.stages_ms.end() ? 0.0 : it->second;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(idx);
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

std::vector<Clip> load_clips(std::size_t max_clips) {
  std::vector<std::string> paths;
  const std::string dir = std::string(PARLEY_TESTDATA) + "/speech";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".wav") paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Clip> out;
  for (const auto& p : paths) {
    if (out.size() >= max_clips) break;
    auto wav = audio::read_wav_file(p);
    if (!wav.ok()) {
      std::fprintf(stderr, "%s: %s\n", p.c_str(), wav.status().to_string().c_str());
      continue;
    }
    std::vector<float> mono = wav->mono();
    if (wav->sample_rate != 16000) {
      auto r = audio::Resampler::resample(mono, wav->sample_rate, 16000);
      if (!r.ok()) continue;
      mono = std::move(*r);
    }
    Clip c;
    c.name = std::filesystem::path(p).stem().string();
    audio::encode_pcm16_le(mono, c.pcm);
    c.seconds = static_cast<double>(mono.size()) / 16000.0;
    for (std::size_t f = 0; f + 320 <= mono.size(); f += 320) {
      double e = 0;
      for (std::size_t i = f; i < f + 320; ++i) e += static_cast<double>(mono[i]) * mono[i];
      if (std::sqrt(e / 320) > 0.01) {
        c.speech_end_seconds = static_cast<double>(f + 320) / 16000.0;
        if (c.speech_start_seconds < 0) c.speech_start_seconds = static_cast<double>(f) / 16000.0;
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::string> new_session(int port, const std::string& bot, const std::string& key) {
  std::map<std::string, std::string> h;
  if (!key.empty()) h["Authorization"] = "Bearer " + key;
  auto r = testing::http_request("POST", port, "/v1/bots/" + bot + "/sessions", "", 10s, h);
  if (!r.ok()) return r.status();
  if (r->status != 201) return unavailable("POST sessions: HTTP " + std::to_string(r->status) + " " + r->body);
  v1::Session s;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(r->body, &s, o);
  return s.id();
}

/// One utterance: a fresh voice session streams `clip` then quiet in real time; the latency is
/// from the end of the clip's speech (as streamed) to the first audio of the reply to the last
/// final transcript.
Sample run_one(const std::string& host, int port, const std::string& bot, const std::string& key, const Clip& clip,
               bool require_speech, bool trace) {
  Sample s;
  auto session = new_session(port, bot, key);
  if (!session.ok()) {
    s.why = session.status().to_string();
    return s;
  }
  dialog::VoiceClientOptions o;
  o.host = host;
  o.port = port;
  o.session_id = *session;
  o.key = key;
  auto c = dialog::VoiceClient::connect(o);
  if (!c.ok()) {
    s.why = c.status().to_string();
    return s;
  }
  auto& client = **c;
  auto ready = client.next(10s);
  if (!ready || ready->event.type() != "ready") {
    s.why = "no ready event";
    return s;
  }
  if (require_speech && (!ready->event.asr() || !ready->event.tts())) {
    s.why = "the platform has no speech recognition or synthesis (asr=" + std::to_string(ready->event.asr()) +
            " tts=" + std::to_string(ready->event.tts()) + ")";
    return s;
  }
  // The sender streams the clip, then quiet (the recognizer endpoints on its own) until the reader
  // is done: a live microphone never stops sending, and a recognizer that hears nothing for
  // asr.idle_timeout ends its stream.
  std::atomic<std::int64_t> clip_end_ns{0};
  std::atomic<bool> send_failed{false}, reader_done{false};
  std::thread sender([&] {
    const std::size_t frame = 640;
    const std::string quiet(frame, '\0');
    const auto speech_end_byte = static_cast<std::size_t>(clip.speech_end_seconds * 16000) * 2;
    const auto start = Clock::now();
    for (std::size_t off = 0, i = 0; !reader_done; off += frame, ++i) {
      const std::string_view f = off < clip.pcm.size() ? std::string_view(clip.pcm).substr(off, frame) : std::string_view(quiet);
      if (!client.send_audio(f).is_ok()) {
        send_failed = true;
        return;
      }
      // Frame i goes out at start + i * 20 ms: the speech ended when its last frame went out.
      if (off + frame >= speech_end_byte && clip_end_ns.load() == 0) {
        clip_end_ns = Clock::now().time_since_epoch().count();
      }
      std::this_thread::sleep_until(start + (i + 1) * 20ms);
    }
  });
  // Reads events: every non-ignored final starts reply 1, 2, ...; the measured reply is the last
  // one's (a clip with a long pause may be heard as two utterances).
  int finals = 0;
  std::map<int, std::pair<Clock::time_point, v1::VoiceEvent>> started;  // reply -> bot_speech_started
  std::string error;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(clip.seconds * 1000) + 20000);
  while (Clock::now() < deadline) {
    auto m = client.next(100ms);
    if (!m) {
      if (!client.timed_out()) break;  // closed
      // Done once the quiet was streamed and the last final's reply has started speaking.
      if (clip_end_ns.load() > 0 && finals > 0 && started.count(finals) &&
          Clock::now().time_since_epoch().count() - clip_end_ns.load() > 1'600'000'000LL) {
        break;
      }
      continue;
    }
    if (trace) {
      const double t = clip_end_ns.load() == 0 ? 0.0 : static_cast<double>(m->at.time_since_epoch().count() - clip_end_ns.load()) / 1e6;
      if (!m->audio) std::fprintf(stderr, "    [%s %+7.0f ms] %s\n", clip.name.c_str(), t, m->data.substr(0, 300).c_str());
    }
    if (m->audio) continue;
    const auto& e = m->event;
    if (e.type() == "final" && !e.ignored() && !e.text().empty()) {
      ++finals;
      s.transcript = e.text();
    }
    if (e.type() == "bot_speech_started") started[e.reply()] = {m->at, e};
    if (e.type() == "error") error = e.source() + ": " + e.error().message();
  }
  reader_done = true;
  sender.join();
  (void)client.send_interrupt();
  (void)client.send_end();
  while (client.next(3s)) {
  }
  if (send_failed) {
    s.why = "the connection closed while streaming (" + std::to_string(client.close_code()) + ")";
  } else if (!error.empty()) {
    s.why = error;
  } else if (finals == 0) {
    s.why = "no transcript";
  } else if (!started.count(finals)) {
    s.why = "no bot audio for the reply";
  } else {
    const auto& [at, e] = started.at(finals);
    s.latency_ms = static_cast<double>(at.time_since_epoch().count() - clip_end_ns.load()) / 1e6;
    for (const auto& t : e.timings()) s.stages_ms[t.stage()] = static_cast<double>(t.duration_us()) / 1000.0;
    s.ok = true;
    s.finals = finals;
  }
  return s;
}

/// One barge-in: the user types `question`, and 600 ms into the bot's spoken reply says `over`
/// (a clip, in real time; the microphone sends quiet before it). Measures the interrupting speech's start -> the `interrupted` event (the barge-in rule's
/// 400 ms of speech included), the bot audio that still arrived after it (must be none), and the
/// bot audio a client that does not flush still had buffered then (at most voice.playout_lead).
struct BargeIn {
  bool ok = false;
  std::string why;
  double detect_ms = 0, buffered_ms = 0;
  std::size_t bytes_after = 0;
};

BargeIn run_barge_in(const std::string& host, int port, const std::string& bot, const std::string& key,
                     const std::string& question, const Clip& over) {
  BargeIn b;
  auto session = new_session(port, bot, key);
  if (!session.ok()) {
    b.why = session.status().to_string();
    return b;
  }
  dialog::VoiceClientOptions o;
  o.host = host;
  o.port = port;
  o.session_id = *session;
  o.key = key;
  auto c = dialog::VoiceClient::connect(o);
  if (!c.ok()) {
    b.why = c.status().to_string();
    return b;
  }
  auto& client = **c;
  std::atomic<bool> speak_over{false};
  std::atomic<std::int64_t> over_start_ns{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    const std::string quiet_frame(640, '\0');
    auto stream = [&](const std::string& pcm) {
      const auto start = Clock::now();
      for (std::size_t off = 0, i = 0; off < pcm.size() && !stop; off += 640, ++i) {
        (void)client.send_audio(std::string_view(pcm).substr(off, 640));
        std::this_thread::sleep_until(start + (i + 1) * 20ms);
      }
    };
    (void)client.send_text(question);
    // Quiet until told to speak over the bot (the microphone keeps sending).
    auto next = Clock::now();
    while (!speak_over && !stop) {
      (void)client.send_audio(quiet_frame);
      next += 20ms;
      std::this_thread::sleep_until(next);
    }
    if (stop) return;
    // The interrupting speech starts this far into the clip.
    over_start_ns = (Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(over.speech_start_seconds * 1e6)))
                        .time_since_epoch()
                        .count();
    stream(over.pcm + std::string(16000 * 2, '\0'));
  });
  Clock::time_point speech_started{}, interrupted_at{};
  std::size_t received = 0;
  int rate = 16000;
  const auto deadline = Clock::now() + 30s;
  bool interrupted = false, new_reply = false;
  while (Clock::now() < deadline) {
    auto m = client.next(20ms);
    if (speech_started != Clock::time_point{} && !speak_over && Clock::now() - speech_started > 600ms) speak_over = true;
    if (interrupted && Clock::now() - interrupted_at > 600ms) break;
    if (!m) {
      if (!client.timed_out()) break;
      continue;
    }
    if (m->audio) {
      if (interrupted && !new_reply) b.bytes_after += m->data.size();
      if (!interrupted) received += m->data.size();
      continue;
    }
    const auto& e = m->event;
    if (e.type() == "bot_speech_started") {
      if (interrupted) new_reply = true;
      if (speech_started == Clock::time_point{}) {
        speech_started = m->at;
        rate = e.sample_rate_hz() > 0 ? e.sample_rate_hz() : rate;
      }
    } else if (e.type() == "interrupted" && !interrupted) {
      interrupted = true;
      interrupted_at = m->at;
    } else if (e.type() == "error") {
      b.why = e.source() + ": " + e.error().message();
    }
  }
  stop = true;
  sender.join();
  (void)client.send_end();
  while (client.next(2s)) {
  }
  if (!b.why.empty()) return b;
  if (!interrupted || over_start_ns.load() == 0) {
    b.why = speech_started == Clock::time_point{} ? "the bot never spoke" : "the bot was not interrupted";
    return b;
  }
  b.detect_ms = static_cast<double>(interrupted_at.time_since_epoch().count() - over_start_ns.load()) / 1e6;
  const double received_ms = static_cast<double>(received / 2) * 1000.0 / rate;
  const double played_ms = std::chrono::duration<double, std::milli>(interrupted_at - speech_started).count();
  b.buffered_ms = std::max(0.0, received_ms - played_ms);
  b.ok = true;
  return b;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_level(log::Level::kWarn);
  std::vector<int> levels = {1, 4, 8};
  std::size_t max_clips = 8;
  std::string url, key, bot = "demo", fake_text = "what time is breakfast";
  int service_delay_ms = 0;
  int barge_ins = 5;
  bool start_real = false, verbose = false, trace = false;
  std::string only_clip;
  std::map<std::string, std::vector<std::string>> flags;  // --real: extra flags per process
  std::string barge_question = "what time is breakfast";  // a typed question with a long spoken answer
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--sessions") levels = parse_list(next());
    else if (k == "--clips") max_clips = static_cast<std::size_t>(std::atoi(next().c_str()));
    else if (k == "--url") url = next();
    else if (k == "--key") key = next();
    else if (k == "--bot") bot = next();
    else if (k == "--fake-text") fake_text = next();
    else if (k == "--service-delay-ms") service_delay_ms = std::atoi(next().c_str());
    else if (k == "--barge-ins") barge_ins = std::atoi(next().c_str());
    else if (k == "--barge-question") barge_question = next();
    else if (k == "--real") start_real = true;
    else if (k == "--verbose") verbose = true;
    else if (k == "--trace") trace = verbose = true;
    else if (k == "--clip") only_clip = next();
    else if (k == "--flag") {
      const std::string f = next();
      const auto colon = f.find(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "--flag takes PROCESS:--key=value (PROCESS: asr nlu qa lm tts dialog)\n");
        return 2;
      }
      flags[f.substr(0, colon)].push_back(f.substr(colon + 1));
    }
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  const auto clips = load_clips(max_clips);
  if (clips.empty()) {
    std::fprintf(stderr, "no speech clips in %s/speech (the shared test data)\n", PARLEY_TESTDATA);
    return 1;
  }

  // The platform: a running one (--url), or parley-dialog started here in front of fakes.
  std::string host = "127.0.0.1";
  int port = 0;
  std::vector<std::unique_ptr<dialog::testing::FakeServiceServer>> fakes;
  std::unique_ptr<dialog::testing::FakeSpeechServer> speech;
  std::unique_ptr<testing::ChildProcess> dialog_process;
  std::unique_ptr<testing::Platform> platform;
  const bool real = !url.empty() || start_real;
  if (start_real) {
    testing::PlatformOptions po;
    po.extra_args = flags;
    const auto t0 = Clock::now();
    platform = testing::Platform::start(po);
    if (!platform->missing().empty() || !platform->ready()) {
      std::fprintf(stderr, "the real platform did not start:\n%s\n%s\n", platform->missing().c_str(), platform->logs().c_str());
      return 1;
    }
    port = platform->api_port();
    url = "http://127.0.0.1:" + std::to_string(port);
    std::printf("started the real platform in %.1f s (logs in %s)\n",
                std::chrono::duration<double>(Clock::now() - t0).count(), platform->dir().c_str());
  } else if (real) {
    std::string hp = url.substr(url.find("//") == std::string::npos ? 0 : url.find("//") + 2);
    if (auto slash = hp.find('/'); slash != std::string::npos) hp.resize(slash);
    host = hp.substr(0, hp.rfind(':'));
    port = std::atoi(hp.substr(hp.rfind(':') + 1).c_str());
  } else {
    for (const char* kind : {"nlu", "qa", "lm"}) {
      auto s = dialog::testing::FakeServiceServer::start(kind);
      if (!s.ok()) {
        std::fprintf(stderr, "fake %s: %s\n", kind, s.status().to_string().c_str());
        return 1;
      }
      (*s)->delay_us = service_delay_ms * 1000;
      fakes.push_back(std::move(*s));
    }
    dialog::testing::FakeSpeechOptions so;
    so.script.default_text = fake_text;
    auto sp = dialog::testing::FakeSpeechServer::start(so);
    if (!sp.ok()) {
      std::fprintf(stderr, "fake speech: %s\n", sp.status().to_string().c_str());
      return 1;
    }
    speech = std::move(*sp);
    port = testing::free_tcp_port();
    const std::string bin = testing::built_binary("services/dialog/parley-dialog");
    dialog_process = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{bin, "--api.port=" + std::to_string(port), "--http.port=" + std::to_string(testing::free_tcp_port()),
                                 "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                                 "--dialog.nlu_targets=" + fakes[0]->endpoint(), "--dialog.qa_targets=" + fakes[1]->endpoint(),
                                 "--dialog.lm_targets=" + fakes[2]->endpoint(), "--dialog.asr_targets=" + speech->endpoint(),
                                 "--dialog.tts_targets=" + speech->endpoint(), "--log.level=warn"},
        testing::make_temp_dir("voice-bench") + "/dialog.log");
    const bool up = testing::wait_until(
        [&] {
          auto r = testing::http_get(port, "/v1/bots/" + bot);
          return r.ok() && r->status == 200 && r->body.find("\"kbIngested\":true") != std::string::npos;
        },
        30s);
    if (!up) {
      std::fprintf(stderr, "parley-dialog did not come up:\n%s\n", dialog_process->log().c_str());
      return 1;
    }
  }

  std::printf("voice latency benchmark: %zu speech clips streamed in real time per session, %s\n", clips.size(),
              real ? ("against " + url + " (real services)").c_str()
                   : "against parley-dialog + fake NLU/QA/LM and fake ASR (300 ms endpoint) / TTS (first audio ~20 ms)");
  std::printf("latency = end of the clip's speech -> first bot audio at the client; stage shares from the server's "
              "timings\n\n");
  std::printf("%8s %6s %6s | %17s | %-44s | %s\n", "sessions", "turns", "failed", "latency p50 / p99 ms",
              "mean stage ms (share): endpoint, dialog, tts, playout", "real time");
  bool failed_any = false;
  double base_p50 = 0;
  int held = 0;
  for (int n : levels) {
    std::mutex mu;
    std::vector<Sample> samples;
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t k = 0; k < clips.size(); ++k) {
          const Clip& clip = clips[(k + static_cast<std::size_t>(t)) % clips.size()];
          if (!only_clip.empty() && clip.name.find(only_clip) == std::string::npos) continue;
          Sample s = run_one(host, port, bot, key, clip, real, trace);
          s.clip = clip.name;
          if (!s.ok) s.why = clip.name + ": " + s.why;
          std::lock_guard lock(mu);
          samples.push_back(std::move(s));
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<double> lat;
    std::map<std::string, double> stage_sum;
    std::size_t failed = 0;
    for (const auto& s : samples) {
      if (!s.ok) {
        ++failed;
        std::fprintf(stderr, "  failed: %s\n", s.why.c_str());
        continue;
      }
      lat.push_back(s.latency_ms);
      if (verbose) {
        std::fprintf(stderr, "  %-28.28s %6.0f ms  endpoint %4.0f dialog %4.0f tts %4.0f  finals %d  \"%s\"\n", s.clip.c_str(), s.latency_ms,
                     stage_of(s, "voice.endpoint"), stage_of(s, "voice.dialog_first_text"), stage_of(s, "voice.tts_first_audio"),
                     s.finals, s.transcript.substr(0, 60).c_str());
      }
      for (const auto& [k, v] : s.stages_ms) stage_sum[k] += v;
    }
    failed_any = failed_any || failed > 0;
    const double p50 = percentile(lat, 0.5), p99 = percentile(lat, 0.99);
    const double first = stage_sum["voice.first_audio"] > 0 ? stage_sum["voice.first_audio"] : 1;
    auto stage = [&](const char* name) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f (%.0f%%)", lat.empty() ? 0.0 : stage_sum[name] / static_cast<double>(lat.size()),
                    100.0 * stage_sum[name] / first);
      return std::string(buf);
    };
    if (base_p50 == 0) base_p50 = p50;
    // Real time holds while the sessions' latency stays near one session's (no queueing).
    const bool realtime = failed == 0 && !lat.empty() && p50 <= 1.5 * base_p50 + 50;
    if (realtime) held = std::max(held, n);
    const std::string stages = stage("voice.endpoint") + ", " + stage("voice.dialog_first_text") + ", " +
                               stage("voice.tts_first_audio") + ", " + stage("voice.playout");
    std::printf("%8d %6zu %6zu | %8.0f / %7.0f | %-44s | %s\n", n, lat.size(), failed, p50, p99, stages.c_str(),
                realtime ? "yes" : "no");
  }
  std::printf("\nconcurrent voice sessions in real time (of those tried): %d\n", held);

  // Barge-in: one session at a time speaks over the bot's reply.
  std::vector<double> detect, buffered;
  std::size_t after = 0, barge_failed = 0;
  // Speech over the bot: the clips with at least 1.5 s of speech (a barge-in needs 400 ms of it).
  std::vector<const Clip*> long_clips;
  for (const auto& c : clips) {
    if (c.speech_end_seconds - c.speech_start_seconds >= 1.5) long_clips.push_back(&c);
  }
  for (int t = 0; t < barge_ins && !long_clips.empty(); ++t) {
    const Clip& over = *long_clips[static_cast<std::size_t>(t) % long_clips.size()];
    BargeIn b = run_barge_in(host, port, bot, key, barge_question, over);
    if (!b.ok) {
      ++barge_failed;
      std::fprintf(stderr, "  barge-in failed (%s over the reply): %s\n", over.name.c_str(), b.why.c_str());
      continue;
    }
    detect.push_back(b.detect_ms);
    buffered.push_back(b.buffered_ms);
    after += b.bytes_after;
  }
  failed_any = failed_any || barge_failed > 0;
  std::printf("barge-in (%zu of %d): speech over the bot -> `interrupted` p50 / p99 %.0f / %.0f ms (the rule waits for "
              "400 ms of speech with words); bot audio after `interrupted`: %zu bytes; still buffered in a client that "
              "does not flush: p50 / p99 %.0f / %.0f ms (bound: voice.playout_lead)\n",
              detect.size(), barge_ins, percentile(detect, 0.5), percentile(detect, 0.99), after,
              percentile(buffered, 0.5), percentile(buffered, 0.99));
  if (after > 0) {
    std::printf("FAILED: bot audio arrived after `interrupted`\n");
    failed_any = true;
  }
  std::printf("target: end of speech -> first audio p50 < 1000 ms on 2 CPU cores with the default models, "
              "< 300 ms on a GPU%s\n",
              real ? "" : " (these figures use fake ASR/TTS/NLU/LM: the orchestrator's part only)");
  if (failed_any) {
    std::printf("FAILED: some voice turns failed (see stderr); they are excluded from the figures\n");
    return 1;
  }
  return 0;
}
