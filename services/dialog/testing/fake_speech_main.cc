// parley-fake-speech: the fake ASR + TTS of the voice tests as a process, to try voice sessions
// (tools/run's parley-dialog, the web page's microphone, `parley talk`) before the real speech
// services run. Not a product: any speech is heard as --text. Depends on fake_speech.h.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "services/dialog/testing/fake_speech.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> binds;
  parley::dialog::testing::FakeSpeechOptions o;
  o.script.default_text = "what time is breakfast";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--bind") {
      binds.push_back(next());
    } else if (a == "--text") {
      o.script.default_text = next();
    } else if (a == "--speed") {
      o.speed = std::atof(next().c_str());
    } else if (a == "--ms-per-char") {
      o.ms_per_char = std::atoi(next().c_str());
    } else if (a == "--hangover-ms") {
      o.hangover_ms = std::atoi(next().c_str());
    } else {
      std::fprintf(stderr,
                   "usage: parley-fake-speech [--bind tcp://127.0.0.1:7105]... [--text \"what time is breakfast\"]\n"
                   "                          [--speed 4] [--ms-per-char 60] [--hangover-ms 300]\n"
                   "  serves parley.v1.Asr/Recognize (any speech -> --text) and parley.v1.Tts/Synthesize (a tone)\n"
                   "  on each --bind (default: the ASR and TTS ports 7105 and 7106)\n");
      return 2;
    }
  }
  if (binds.empty()) binds = {"tcp://127.0.0.1:7105", "tcp://127.0.0.1:7106"};
  std::vector<std::unique_ptr<parley::dialog::testing::FakeSpeechServer>> servers;
  for (const auto& b : binds) {
    o.endpoint = b;
    auto s = parley::dialog::testing::FakeSpeechServer::start(o);
    if (!s.ok()) {
      std::fprintf(stderr, "parley-fake-speech: %s: %s\n", b.c_str(), s.status().to_string().c_str());
      return 1;
    }
    std::printf("parley-fake-speech: ASR and TTS on %s\n", (*s)->endpoint().c_str());
    servers.push_back(std::move(*s));
  }
  std::fflush(stdout);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}
