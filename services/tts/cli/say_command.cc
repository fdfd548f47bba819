// `parley say` (see say_command.h): one SynthesizeRequest over the transport, or to an in-process
// TtsService with --local; chunks are appended as they arrive and written as one WAV at the end.
// Depends on services/tts/tts_service.h, shared/transport/client.h, shared/audio.
#include "services/tts/cli/say_command.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>

#include "parley/v1/envelope.pb.h"
#include "parley/v1/tts.pb.h"
#include "services/tts/tts_service.h"
#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"
#include "shared/common/model_paths.h"
#include "shared/transport/client.h"

namespace parley::tts {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string target = "tcp://127.0.0.1:7106";
  bool local = false;
  std::string local_voice;
  std::string output;
  v1::SynthesizeRequest request;
  int timeout_ms = 120'000;
};

std::optional<std::string> parse(const std::vector<std::string>& args, Args& a) {
  std::string text;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& k = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto number = [&](double& d) -> std::optional<std::string> {
      auto v = value();
      if (!v) return k + " needs a value";
      char* end = nullptr;
      d = std::strtod(v->c_str(), &end);
      if (end == v->c_str() || *end != '\0') return k + ": '" + *v + "' is not a number";
      return std::nullopt;
    };
    double d = 0;
    if (k == "--target") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.target = *v;
    } else if (k == "--local") {
      a.local = true;
      if (i + 1 < args.size() && args[i + 1].size() > 5 && args[i + 1].substr(args[i + 1].size() - 5) == ".onnx") a.local_voice = args[++i];
    } else if (k == "-o" || k == "--output") {
      auto v = value();
      if (!v) return k + " needs a file name";
      a.output = *v;
    } else if (k == "--voice") {
      auto v = value();
      if (!v) return k + " needs a value";
      a.request.set_voice(*v);
    } else if (k == "--rate") {
      if (auto e = number(d)) return e;
      a.request.set_speaking_rate(static_cast<float>(d));
    } else if (k == "--sample-rate") {
      if (auto e = number(d)) return e;
      a.request.set_sample_rate_hz(static_cast<int>(d));
    } else if (k == "--ssml") {
      a.request.set_ssml(true);
    } else if (k == "--timeout-ms") {
      if (auto e = number(d)) return e;
      a.timeout_ms = static_cast<int>(d);
    } else if (!k.empty() && k[0] == '-' && k != "-") {
      return "unknown option " + k;
    } else {
      text += (text.empty() ? "" : " ");
      text += k;
    }
  }
  if (a.output.empty()) return std::string("-o OUT.wav is required");
  if (text.empty()) return std::string("no text to say");
  a.request.set_text(text);
  return std::nullopt;
}

// Collects the streamed chunks (any thread may call add()).
struct Collector {
  std::vector<float> audio;
  int rate = 0;
  int chunks = 0;
  std::int64_t ttfa_us = 0;
  Status add(const v1::SynthesizeResponse& r) {
    if (r.audio().has_format()) rate = r.audio().format().sample_rate_hz();
    if (r.time_to_first_audio_us() > 0) ttfa_us = r.time_to_first_audio_us();
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> s, audio::decode_pcm16_le(r.audio().data()));
    audio.insert(audio.end(), s.begin(), s.end());
    ++chunks;
    return Status::ok();
  }
};

std::string default_phonemizer() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string dir = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : ".";
  dir = dir.substr(0, dir.find_last_of('/'));
  for (const std::string& c : {dir + "/../../services/tts/phonemizer/parley-phonemize", dir + "/parley-phonemize"}) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "parley-phonemize";
}

Status run_local(const Args& a, Collector& c) {
  TtsOptions o;
  o.voice_paths = {a.local_voice.empty() ? model_root() + "/tts-joe/en_US-joe-medium.onnx" : a.local_voice};
  o.phonemizer.program = std::getenv("PARLEY_PHONEMIZER") ? std::getenv("PARLEY_PHONEMIZER") : default_phonemizer();
  o.engines = 1;
  PARLEY_ASSIGN_OR_RETURN(auto svc, TtsService::create(o, nullptr));
  struct Ctx : service::CallContext {
    std::string m = "parley.v1.Tts/Synthesize", empty;
    const std::string& method() const override { return m; }
    const std::string& session_id() const override { return empty; }
    const std::string& trace_id() const override { return empty; }
    std::chrono::steady_clock::time_point deadline() const override { return Clock::time_point::max(); }
    bool cancelled() const override { return false; }
    void add_timing(std::string, std::chrono::microseconds) override {}
  } ctx;
  struct Writer : service::StreamWriter<v1::SynthesizeResponse> {
    Collector& c;
    Status err;
    explicit Writer(Collector& col) : c(col) {}
    bool write(const v1::SynthesizeResponse& r) override {
      err = c.add(r);
      return err.is_ok();
    }
  } w(c);
  PARLEY_RETURN_IF_ERROR(svc->synthesize(a.request, w, ctx));
  return w.err;
}

Status run_remote(const Args& a, Collector& c) {
  transport::ClientOptions options;
  options.targets = {a.target};
  options.name = "tts";
  options.max_wait_for_replica = std::chrono::milliseconds(std::min(a.timeout_ms, 5000));
  PARLEY_ASSIGN_OR_RETURN(auto client, transport::Client::create(options));
  v1::Envelope env;
  env.set_method("parley.v1.Tts/Synthesize");
  env.mutable_payload()->PackFrom(a.request);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status failure;
  transport::CallOptions co;
  co.timeout = std::chrono::milliseconds(a.timeout_ms);
  client->call(std::move(env), co, [&](Result<v1::Envelope> r) {
    std::lock_guard lock(mu);
    if (done) return;
    if (!r.ok()) {
      failure = r.status();
      done = true;
    } else {
      if (r->has_payload()) {
        v1::SynthesizeResponse part;
        if (!r->payload().UnpackTo(&part)) {
          failure = internal_error("reply is not a SynthesizeResponse");
          done = true;
        } else if (Status s = c.add(part); !s.is_ok()) {
          failure = s;
          done = true;
        }
      }
      if (r->end_of_stream()) done = true;
    }
    if (done) cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  return failure;
}

}  // namespace

std::string say_command_usage() {
  return "  parley say [--target tcp://127.0.0.1:7106 | --local [VOICE.onnx]] [--voice NAME] [--rate R]\n"
         "             [--sample-rate HZ] [--ssml] [--timeout-ms N] -o OUT.wav TEXT\n";
}

int run_say_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Args a;
  if (auto e = parse(args, a)) {
    err << "parley say: " << *e << "\nusage:\n" << say_command_usage();
    return 2;
  }
  Collector c;
  const auto start = Clock::now();
  const Status s = a.local ? run_local(a, c) : run_remote(a, c);
  if (!s.is_ok()) {
    err << "parley say: " << s.to_string() << "\n";
    return 1;
  }
  if (c.rate <= 0 || c.audio.empty()) {
    err << "parley say: the service sent no audio\n";
    return 1;
  }
  if (Status w = audio::write_wav_file(a.output, c.audio, c.rate); !w.is_ok()) {
    err << "parley say: " << w.to_string() << "\n";
    return 1;
  }
  const double secs = static_cast<double>(c.audio.size()) / c.rate;
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  out << "wrote " << a.output << ": " << std::fixed << std::setprecision(2) << secs << " s at " << c.rate << " Hz, "
      << c.chunks << " chunks, first audio after " << std::setprecision(1) << c.ttfa_us / 1000.0 << " ms, total "
      << wall * 1000.0 << " ms\n";
  return 0;
}

}  // namespace parley::tts
