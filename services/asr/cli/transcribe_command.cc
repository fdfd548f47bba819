// `parley transcribe` (see transcribe_command.h).
#include "services/asr/cli/transcribe_command.h"

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "parley/v1/asr.pb.h"
#include "parley/v1/envelope.pb.h"
#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"
#include "shared/transport/client.h"

namespace parley::asr {

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string file;
  std::string target = "tcp://127.0.0.1:7105";
  bool stream = false;
  bool fast = false;  // --stream without real-time pacing
  int chunk_ms = 100;
  int timeout_ms = 120'000;
  std::string language = "en";  // a multilingual model (whisper-base) decodes in this language
};

int fail(const std::string& what) {
  std::cerr << "parley transcribe: " << what << "\n";
  return 1;
}

int transcribe_file(const Args& a, transport::Client& client) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) return fail("cannot open " + a.file);
  std::stringstream ss;
  ss << in.rdbuf();
  v1::TranscribeRequest req;
  req.set_wav(ss.str());
  req.mutable_config()->set_language(a.language);
  v1::Envelope env;
  env.set_method("parley.v1.Asr/Transcribe");
  env.mutable_payload()->PackFrom(req);
  transport::CallOptions o;
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  o.idempotent = true;
  auto reply = client.call_sync(env, o);
  if (!reply.ok()) return fail(reply.status().to_string());
  v1::TranscribeResponse resp;
  if (!reply->payload().UnpackTo(&resp)) return fail("reply is not a TranscribeResponse");
  std::cout << resp.text() << "\n";
  std::cerr << "(" << resp.audio_seconds() << " s of audio, real-time factor " << resp.real_time_factor() << ")\n";
  return 0;
}

int stream_file(const Args& a, transport::Client& client) {
  auto wav = audio::read_wav_file(a.file);
  if (!wav.ok()) return fail(wav.status().to_string());
  const std::vector<float> mono = wav->mono();
  v1::RecognizeRequest first;
  auto* cfg = first.mutable_config();
  cfg->mutable_format()->set_encoding(v1::AudioFormat::PCM16);
  cfg->mutable_format()->set_sample_rate_hz(wav->sample_rate);
  cfg->mutable_format()->set_channels(1);
  cfg->set_interim_results(true);
  cfg->set_language(a.language);
  v1::Envelope env;
  env.set_method("parley.v1.Asr/Recognize");
  env.mutable_payload()->PackFrom(first);
  transport::CallOptions o;
  o.client_stream = true;
  o.timeout = std::chrono::milliseconds(a.timeout_ms + static_cast<int>(wav->duration_seconds() * 1000));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status end = Status::ok();
  const auto start = Clock::now();
  auto call = client.call(env, o, [&](Result<v1::Envelope> r) {
    std::lock_guard lock(mu);
    if (!r.ok()) {
      end = r.status();
      done = true;
      cv.notify_all();
      return;
    }
    v1::RecognizeResponse resp;
    if (r->has_payload() && r->payload().UnpackTo(&resp)) {
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "[%6.2f s] ", t);
      if (resp.speech_event() == v1::RecognizeResponse::START_OF_SPEECH) std::cout << stamp << "(speech started)\n";
      for (const auto& res : resp.results()) {
        const std::string text = res.alternatives_size() > 0 ? res.alternatives(0).transcript() : "";
        std::cout << stamp << (res.is_final() ? "final:   " : "partial: ") << text << "\n";
      }
      if (resp.speech_event() == v1::RecognizeResponse::END_OF_SPEECH) std::cout << stamp << "(speech ended)\n";
      std::cout.flush();
    }
    if (r->end_of_stream()) {
      done = true;
      cv.notify_all();
    }
  });
  const std::size_t step = static_cast<std::size_t>(wav->sample_rate) * a.chunk_ms / 1000;
  for (std::size_t pos = 0; pos < mono.size(); pos += step) {
    const std::size_t n = std::min(step, mono.size() - pos);
    v1::RecognizeRequest chunk;
    std::string bytes;
    audio::encode_pcm16_le(std::span<const float>(mono).subspan(pos, n), bytes);
    chunk.mutable_audio()->set_data(std::move(bytes));
    v1::Envelope data;
    data.mutable_payload()->PackFrom(chunk);
    if (!call.send(std::move(data))) break;
    if (!a.fast) std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<std::int64_t>((pos + n) * 1e6 / wav->sample_rate)));
  }
  call.close_send();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!end.is_ok()) return fail(end.to_string());
  return 0;
}

}  // namespace

std::string transcribe_command_usage() {
  return "  parley transcribe FILE.wav [--stream [--fast] [--chunk-ms 100]] [--target tcp://127.0.0.1:7105] [--timeout-ms N]\n"
         "      [--language CODE]   the decoder language on a multilingual model (asr.model_dir whisper-base), default en\n";
}

int run_transcribe_command(const std::vector<std::string>& args) {
  Args a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::cerr << "parley transcribe: " << s << " needs a value\n";
        std::exit(2);
      }
      return args[++i];
    };
    if (s == "--stream") {
      a.stream = true;
    } else if (s == "--fast") {
      a.fast = true;
    } else if (s == "--target") {
      a.target = value();
    } else if (s == "--chunk-ms") {
      a.chunk_ms = std::max(10, std::atoi(value().c_str()));
    } else if (s == "--timeout-ms") {
      a.timeout_ms = std::atoi(value().c_str());
    } else if (s == "--language") {
      a.language = value();
    } else if (!s.empty() && s[0] == '-') {
      std::cerr << "parley transcribe: unknown option " << s << "\n" << transcribe_command_usage();
      return 2;
    } else {
      a.file = s;
    }
  }
  if (a.file.empty()) {
    std::cerr << "usage:\n" << transcribe_command_usage();
    return 2;
  }
  transport::ClientOptions co;
  co.targets = {a.target};
  co.name = "asr";
  co.max_wait_for_replica = std::chrono::milliseconds(5000);
  auto client = transport::Client::create(co);
  if (!client.ok()) return fail(client.status().to_string());
  return a.stream ? stream_file(a, **client) : transcribe_file(a, **client);
}

}  // namespace parley::asr
