// Platform: the whole Parley platform for a test or benchmark — parley-asr, parley-nlu, parley-qa,
// parley-lm, parley-tts started from this build tree on free ports (or, for NLU/QA/LM, the
// model-free fakes of services/dialog/testing on the real transport), and parley-dialog with the
// demo bot pointed at them; ready once every service answers /readyz and the bot has trained.
// Why: the voice end-to-end test, the browser's real-speech case and voice_latency_bench --real
// all need the same start-up, readiness rules and "what is missing" message.
// Depends on tests/support (ChildProcess, http), services/dialog/testing (the fakes).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace parley::dialog::testing {
class FakeServiceServer;
}

namespace parley::testing {

/// How one backing service runs.
enum class Backing {
  kReal,  ///< the built process (parley-<kind>), with its default model
  kFake,  ///< nlu/qa/lm only: the model-free fake on the real transport, in this process
  kOff,   ///< asr/tts only: not started (the dialog runs without voice input / speech output)
};

struct PlatformOptions {
  std::string dir;  ///< logs go here (default: a fresh temp dir)
  Backing asr = Backing::kReal, tts = Backing::kReal;
  Backing nlu = Backing::kReal, qa = Backing::kReal, lm = Backing::kReal;
  /// Extra flags per process: keys "asr", "nlu", "qa", "lm", "tts", "dialog".
  std::map<std::string, std::vector<std::string>> extra_args;
  std::string bot_file;  ///< default: services/dialog/bots/demo/bot.yaml of the source tree
  std::chrono::seconds ready_timeout{240};
};

/// Owns every process it started; the destructor stops them (SIGTERM, then SIGKILL).
///
///   auto p = Platform::start({});
///   if (!p->missing().empty()) GTEST_SKIP() << p->missing();   // a real service is not built/ready
///   ASSERT_TRUE(p->ready()) << p->logs();
///   VoiceClient::connect({.port = p->api_port(), ...});
class Platform {
 public:
  static std::unique_ptr<Platform> start(const PlatformOptions& options);
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  /// Why a real service asked for is not running ("" when all are): its binary is not built, or
  /// it exited / never got ready (model missing) — with the tail of its log.
  const std::string& missing() const { return missing_; }
  /// parley-dialog is up and the bot trained (NLU) and ingested (QA).
  bool ready() const { return ready_; }
  int api_port() const { return api_port_; }
  /// The ZeroMQ endpoint of a backing service ("asr", "nlu", "qa", "lm", "tts"), "" when off.
  std::string endpoint(const std::string& kind) const;
  /// The HTTP (metrics) port of a real process, 0 when none.
  int http_port(const std::string& kind) const;
  /// Every process's log (for failure messages), each prefixed with its name.
  std::string logs() const;
  const std::string& dir() const { return dir_; }

 private:
  Platform() = default;
  struct Service {
    std::string endpoint;
    int http_port = 0;
    std::unique_ptr<ChildProcess> process;
    std::unique_ptr<dialog::testing::FakeServiceServer> fake;
  };
  bool start_real(const std::string& kind, const std::string& binary, std::vector<std::string> extra,
                  std::chrono::seconds timeout);

  std::string dir_, missing_;
  std::map<std::string, Service> services_;
  std::unique_ptr<ChildProcess> dialog_;
  int api_port_ = 0, dialog_http_port_ = 0;
  bool ready_ = false;
};

/// True under CI (CI set, as .ci/run does): a missing real service is then a failure, not a skip.
bool under_ci();

}  // namespace parley::testing
