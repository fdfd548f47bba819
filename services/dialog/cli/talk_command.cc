// `parley talk` (see talk_command.h): a voice session from the terminal — a WAV file streamed in
// real time and/or typed lines in, events printed as they come, the bot's audio written to a WAV.
// Depends on voice_client.h, shared/audio (WAV, resampling), Boost.Beast (session creation).
#include "services/dialog/cli/talk_command.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "services/dialog/cli/voice_client.h"
#include "shared/audio/pcm.h"
#include "shared/audio/resampler.h"
#include "shared/audio/wav.h"

namespace parley::dialog {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int usage(std::ostream& out) {
  out << talk_command_usage();
  return 2;
}

/// POST /v1/bots/{bot}/sessions; the new session's id.
Result<std::string> create_session(const std::string& host, int port, const std::string& bot, const std::string& key) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(10s);
    stream.connect(resolver.resolve(host, std::to_string(port)));
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/bots/" + bot + "/sessions", 11};
    req.set(bhttp::field::host, host);
    if (!key.empty()) req.set(bhttp::field::authorization, "Bearer " + key);
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    if (res.result_int() != 201) {
      return unavailable("could not start a session (HTTP " + std::to_string(res.result_int()) + "): " + res.body());
    }
    v1::Session s;
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    (void)google::protobuf::util::JsonStringToMessage(res.body(), &s, o);
    if (s.id().empty()) return internal_error("the session reply has no id: " + res.body());
    return s.id();
  } catch (const std::exception& e) {
    return unavailable(std::string("cannot reach parley-dialog: ") + e.what());
  }
}

double stage_ms(const v1::VoiceEvent& e, const std::string& stage) {
  for (const auto& t : e.timings()) {
    if (t.stage() == stage) return static_cast<double>(t.duration_us()) / 1000.0;
  }
  return -1;
}

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

}  // namespace

std::string talk_command_usage() {
  return "  parley talk [--bot demo] [--url http://127.0.0.1:8080] [--key KEY] [--session ID]\n"
         "             [--wav QUESTION.wav] [--out REPLY.wav] [--text] [--fast] [--output-rate HZ] [--quiet]\n"
         "      a voice session: streams the WAV in real time (--fast: at once), prints partial and final\n"
         "      transcripts, the bot's replies, events and timings, writes the bot's audio to --out;\n"
         "      --text sends each stdin line as a typed turn once the previous reply was heard (end of input\n"
         "      ends the session)\n";
}

int run_talk_command(std::vector<std::string> args) {
  std::string bot = "demo", url = "http://127.0.0.1:8080", key, session, wav, out_path;
  bool text = false, fast = false, quiet = false;
  int output_rate = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    std::string rate;
    if (a == "--bot") {
      if (!value(bot)) return usage(std::cerr);
    } else if (a == "--url") {
      if (!value(url)) return usage(std::cerr);
    } else if (a == "--key") {
      if (!value(key)) return usage(std::cerr);
    } else if (a == "--session") {
      if (!value(session)) return usage(std::cerr);
    } else if (a == "--wav") {
      if (!value(wav)) return usage(std::cerr);
    } else if (a == "--out") {
      if (!value(out_path)) return usage(std::cerr);
    } else if (a == "--output-rate") {
      if (!value(rate)) return usage(std::cerr);
      output_rate = std::atoi(rate.c_str());
    } else if (a == "--text") {
      text = true;
    } else if (a == "--fast") {
      fast = true;
    } else if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage:\n" << talk_command_usage();
      return 0;
    } else {
      std::cerr << "parley talk: unknown argument '" << a << "'\n";
      return usage(std::cerr);
    }
  }
  if (wav.empty() && !text) {
    std::cerr << "parley talk: give --wav FILE and/or --text\n";
    return usage(std::cerr);
  }
  if (url.rfind("http://", 0) != 0) {
    std::cerr << "parley talk: --url must start with http://\n";
    return 2;
  }
  std::string hostport = url.substr(7);
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  std::string host = hostport;
  int port = 80;
  if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = std::atoi(hostport.substr(colon + 1).c_str());
  }

  // The question: mono PCM16 at its own rate (resampled to 16 kHz when outside 8..48 kHz).
  std::string pcm;
  int rate = 16000;
  std::size_t speech_end_byte = 0;
  if (!wav.empty()) {
    auto audio = audio::read_wav_file(wav);
    if (!audio.ok()) {
      std::cerr << "parley talk: " << audio.status().to_string() << "\n";
      return 1;
    }
    std::vector<float> mono = audio->mono();
    rate = audio->sample_rate;
    if (rate < 8000 || rate > 48000) {
      auto resampled = audio::Resampler::resample(mono, rate, 16000);
      if (!resampled.ok()) {
        std::cerr << "parley talk: " << resampled.status().to_string() << "\n";
        return 1;
      }
      mono = std::move(*resampled);
      rate = 16000;
    }
    audio::encode_pcm16_le(mono, pcm);
    // Where the question's speech ends (its last 20 ms above -40 dBFS): the client-side latency
    // is measured from there.
    const std::size_t f = static_cast<std::size_t>(rate) / 50;
    for (std::size_t i = 0; i + f <= mono.size(); i += f) {
      double e = 0;
      for (std::size_t j = i; j < i + f; ++j) e += static_cast<double>(mono[j]) * mono[j];
      if (std::sqrt(e / static_cast<double>(f)) > 0.01) speech_end_byte = (i + f) * 2;
    }
    // A second of quiet after the question, so the recognizer hears it end.
    pcm.append(static_cast<std::size_t>(rate) * 2, '\0');
  }

  if (session.empty()) {
    auto s = create_session(host, port, bot, key);
    if (!s.ok()) {
      std::cerr << "parley talk: " << s.status().message() << "\n";
      return 1;
    }
    session = *s;
  }
  VoiceClientOptions o;
  o.host = host;
  o.port = port;
  o.session_id = session;
  o.key = key;
  o.sample_rate = rate;
  o.output_sample_rate = output_rate;
  auto connected = VoiceClient::connect(o);
  if (!connected.ok()) {
    std::cerr << "parley talk: " << connected.status().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<VoiceClient> client = std::move(*connected);
  if (!quiet) std::cout << "Talking with bot '" << bot << "' (session " << session << ").\n" << std::flush;

  std::mutex mu;
  std::condition_variable cv;
  std::string bot_audio;
  int bot_rate = 0;
  std::atomic<std::int64_t> speech_sent_at_ns{0};  // when the question's speech ended, as streamed
  double measured_ms = -1;
  bool measured_printed = false;
  // Progress of the replies (guarded by mu): the next input waits for the reply in progress.
  int turns = 0, spoken = 0, finished = 0;
  bool closed = false;
  Clock::time_point last_event = Clock::now();
  // Waits until a turn after `after` answered and all speech so far was played (or ended).
  auto wait_reply = [&](int after) {
    std::unique_lock lock(mu);
    const auto deadline = Clock::now() + 60s;
    while (!closed && Clock::now() < deadline) {
      if (turns > after && spoken == finished && Clock::now() - last_event > 400ms) return;
      cv.wait_for(lock, 100ms);
    }
  };

  // Reader: print events as they come, keep the bot's audio.
  std::thread reader([&] {
    bool partial_shown = false;
    while (true) {
      auto m = client->next(24h);
      if (!m) break;
      std::lock_guard lock(mu);
      last_event = Clock::now();
      cv.notify_all();
      if (m->audio) {
        bot_audio += m->data;
        continue;
      }
      const v1::VoiceEvent& e = m->event;
      const std::string& t = e.type();
      if (t == "partial") {
        if (!quiet) std::cout << "\r  … " << e.text() << "\033[K" << std::flush;
        partial_shown = true;
        continue;
      }
      if (partial_shown) {
        std::cout << "\r\033[K";
        partial_shown = false;
      }
      if (t == "final") {
        std::cout << "you> " << e.text();
        if (e.ignored()) std::cout << "   (ignored: " << e.reason() << ")";
        std::cout << "\n";
      } else if (t == "turn") {
        ++turns;
        for (const auto& msg : e.turn().messages()) std::cout << "bot> " << msg.text() << "\n";
        if (!quiet) {
          std::cout << "     [turn " << e.turn().turn() << ": intent " << e.turn().intent().name() << ", outcome "
                    << e.turn().outcome();
          for (const auto& s : e.turn().timings()) {
            if (s.stage() == "total") std::cout << ", dialog " << ms_text(s.duration_us() / 1000.0);
          }
          std::cout << "]\n";
        }
      } else if (t == "bot_speech_started") {
        ++spoken;
        bot_rate = e.sample_rate_hz();
        // The first audio frame follows this event at once: the client-side latency of the first
        // reply to the WAV's question.
        if (measured_ms < 0 && speech_sent_at_ns.load() > 0) {
          measured_ms = static_cast<double>(m->at.time_since_epoch().count() - speech_sent_at_ns.load()) / 1e6;
        }
        if (!quiet) {
          std::cout << "     [speaking at " << e.sample_rate_hz() << " Hz; end of speech -> first audio "
                    << ms_text(stage_ms(e, "voice.first_audio")) << " = endpoint " << ms_text(stage_ms(e, "voice.endpoint"))
                    << " + dialog " << ms_text(stage_ms(e, "voice.dialog_first_text")) << " + tts "
                    << ms_text(stage_ms(e, "voice.tts_first_audio")) << " + playout " << ms_text(stage_ms(e, "voice.playout"));
          if (measured_ms >= 0 && !measured_printed) {
            std::cout << "; measured here " << ms_text(measured_ms);
            measured_printed = true;
          }
          std::cout << "]\n";
        }
      } else if (t == "bot_speech_ended") {
        ++finished;
        if (!quiet) std::cout << "     [bot finished speaking: " << e.audio_ms() << " ms]\n";
      } else if (t == "interrupted") {
        finished = spoken;
        std::cout << "     [interrupted (" << e.source() << ") after: \"" << e.text() << "\"]\n";
      } else if (t == "error") {
        std::cout << "     [error from " << e.source() << ": " << e.error().message() << "]\n";
      } else if (t == "speech_started" || t == "speech_ended") {
        if (!quiet) std::cout << "     [" << t << " at " << e.audio_ms() << " ms]\n";
      }
      std::cout << std::flush;
    }
    std::lock_guard lock(mu);
    closed = true;
    cv.notify_all();
  });

  int rc = 0;
  if (!pcm.empty()) {
    // 20 ms frames, in real time unless --fast.
    const std::size_t frame = static_cast<std::size_t>(rate) / 50 * 2;
    const auto start = Clock::now();
    for (std::size_t off = 0, i = 0; off < pcm.size(); off += frame, ++i) {
      if (!client->send_audio(std::string_view(pcm).substr(off, frame)).is_ok()) {
        rc = 1;
        break;
      }
      if (!fast) std::this_thread::sleep_until(start + (i + 1) * 20ms);
      if (off + frame >= speech_end_byte && speech_sent_at_ns.load() == 0) {
        speech_sent_at_ns = Clock::now().time_since_epoch().count();
      }
    }
    if (text) wait_reply(0);  // typed lines come after the spoken question is answered
  }
  if (text) {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line == "/quit" || line == "/exit") break;
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      int before;
      {
        std::lock_guard lock(mu);
        before = turns;
      }
      if (!client->send_text(line).is_ok()) break;
      wait_reply(before);  // the reply is heard before the next line goes
    }
  }
  (void)client->send_end();  // the server closes once the last reply has been spoken
  reader.join();
  const auto code = client->close_code();
  if (code != 1000) {
    std::cerr << "parley talk: the session ended with " << code << " " << client->close_reason() << "\n";
    rc = 1;
  }
  if (!out_path.empty()) {
    std::lock_guard lock(mu);
    auto samples = audio::decode_pcm16_le(bot_audio);
    Status w = samples.ok() ? audio::write_wav_file(out_path, *samples, bot_rate > 0 ? bot_rate : 16000)
                            : samples.status();
    if (!w.is_ok()) {
      std::cerr << "parley talk: " << w.to_string() << "\n";
      return 1;
    }
    if (!quiet) {
      std::cout << "wrote " << out_path << " (" << bot_audio.size() / 2 << " samples at " << (bot_rate > 0 ? bot_rate : 16000)
                << " Hz)\n";
    }
  }
  return rc;
}

}  // namespace parley::dialog
