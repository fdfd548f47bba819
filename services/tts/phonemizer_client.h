// Runs the GPL-3.0 helper `parley-phonemize` (espeak-ng) as a child process and asks it for
// phonemes over pipes, one line per request. Why: parley-tts is Apache-2.0 and does not link
// espeak-ng (services/tts/README.md, "Licensing"); a dead or hung helper is restarted, never
// allowed to hang a request. Depends on shared/common/status.h, POSIX (fork/exec, pipes, poll).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::tts {

struct PhonemizerOptions {
  std::string program;                 ///< path of parley-phonemize
  std::string voice = "en-us";         ///< espeak-ng voice
  std::string data_dir;                ///< espeak-ng data (empty = the library's default)
  std::chrono::milliseconds timeout{5000};  ///< per request; past it the helper is killed
};

/// One helper process. phonemize() is thread-safe (serialised); use one client per worker for
/// parallelism. The process starts on first use and again after a failure.
class PhonemizerClient {
 public:
  explicit PhonemizerClient(PhonemizerOptions options) : options_(std::move(options)) {}
  ~PhonemizerClient();
  PhonemizerClient(const PhonemizerClient&) = delete;
  PhonemizerClient& operator=(const PhonemizerClient&) = delete;

  /// IPA phonemes of `text` (one clause; newlines are sent as spaces). Unavailable when the
  /// helper cannot be started or dies twice in a row, DeadlineExceeded on a hang.
  Result<std::string> phonemize(std::string_view text);
  /// Starts the helper now (so a broken install fails at service start, not at the first call).
  Status start();
  /// "1.51" after start().
  const std::string& espeak_version() const { return version_; }

 private:
  Status start_locked();
  void stop_locked();
  Result<std::string> read_line_locked();
  Result<std::string> ask_locked(std::string_view text);

  PhonemizerOptions options_;
  std::mutex mu_;
  int pid_ = -1, to_child_ = -1, from_child_ = -1;
  std::string buffer_, version_;
};

}  // namespace parley::tts
