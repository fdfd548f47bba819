// ChildProcess: starts a real program for an integration test and guarantees it is gone afterwards.
// Exists because integration tests run several real Parley processes on loopback; a leaked child
// would poison later tests. POSIX fork/exec; output goes to a log file the test can print.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace parley::testing {

/// One child process. Not thread-safe; owned by the test that started it.
///
///   ChildProcess p({"build/services/echo/parley-echo", "--http.port=0"}, "/tmp/echo.log");
///   ... p.terminate(); auto code = p.wait_for(std::chrono::seconds(10));
class ChildProcess {
 public:
  /// Starts argv[0] with argv; stdout+stderr go to log_path (appended). Aborts the test binary
  /// (PARLEY_CHECK) if fork/exec cannot even be attempted.
  ChildProcess(std::vector<std::string> argv, std::string log_path,
               std::vector<std::string> extra_env = {});
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  /// Kills (SIGKILL) and reaps the child if it is still running.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();
  void terminate();  // SIGTERM
  void kill();       // SIGKILL
  /// Waits up to `timeout`; returns the exit code (128+signal when killed by a signal), or nullopt
  /// when still running at the timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  const std::string& log_path() const { return log_path_; }
  /// The log's contents (for failure messages).
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

void sleep_for_poll();

/// Polls `pred` every 20 ms until it is true or `timeout` passes; returns the last value.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    sleep_for_poll();
  }
}

/// Path to a built binary, relative to the build tree ("services/echo/parley-echo").
std::string built_binary(const std::string& relative);

/// A fresh temp directory removed by the caller (or left for post-mortem).
std::string make_temp_dir(const std::string& prefix);

}  // namespace parley::testing
