// ChildProcess implementation (fork/exec, signals, waitpid with timeout).
#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "shared/common/check.h"

namespace parley::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_path,
                           std::vector<std::string> extra_env)
    : log_path_(std::move(log_path)) {
  PARLEY_CHECK(!argv.empty());
  pid_ = ::fork();
  PARLEY_CHECK(pid_ >= 0) << "fork failed: " << std::strerror(errno);
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    // Die with the test binary so a crashed test never leaves servers behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (const auto& e : extra_env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), log_path_(std::move(other.log_path_)) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool ChildProcess::running() {
  if (pid_ <= 0 || exit_code_) return false;
  return !wait_for(std::chrono::milliseconds(0)).has_value();
}

void ChildProcess::terminate() {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, SIGTERM);
}

void ChildProcess::kill() {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, SIGKILL);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  if (pid_ <= 0) return std::nullopt;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void sleep_for_poll() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

std::string built_binary(const std::string& relative) {
  const char* dir = std::getenv("PARLEY_BINARY_DIR");
  std::string base = dir ? dir : PARLEY_BINARY_DIR;
  return base + "/" + relative;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  PARLEY_CHECK(made != nullptr) << "mkdtemp failed";
  return tmpl;
}

}  // namespace parley::testing
