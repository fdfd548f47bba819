// PhonemizerClient: fork/exec of parley-phonemize with two pipes, line protocol, timeouts.
// Why: see phonemizer_client.h. Depends on phonemizer_client.h, POSIX.
#include "services/tts/phonemizer_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace parley::tts {

PhonemizerClient::~PhonemizerClient() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_locked();
}

void PhonemizerClient::stop_locked() {
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
  to_child_ = from_child_ = -1;
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  buffer_.clear();
}

Status PhonemizerClient::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pid_ > 0) return Status::ok();
  return start_locked();
}

Status PhonemizerClient::start_locked() {
  if (options_.program.empty() || ::access(options_.program.c_str(), X_OK) != 0) {
    return unavailable("phonemizer '" + options_.program + "' is not an executable (build parley-phonemize; tts.phonemizer)");
  }
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return internal_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return internal_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> args = {options_.program, "--voice=" + options_.voice};
  if (!options_.data_dir.empty()) args.push_back("--data=" + options_.data_dir);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return internal_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  pid_ = pid;
  to_child_ = in[1];
  from_child_ = out[0];
  auto hello = read_line_locked();
  if (!hello.ok() || hello->rfind("ready ", 0) != 0) {
    stop_locked();
    return unavailable("phonemizer '" + options_.program + "' did not start (voice '" + options_.voice +
                       "'): " + (hello.ok() ? *hello : hello.status().message()));
  }
  const std::string rest = hello->substr(6);
  version_ = rest.substr(0, rest.find(' '));
  return Status::ok();
}

Result<std::string> PhonemizerClient::read_line_locked() {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    const std::size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return deadline_exceeded("phonemizer did not answer within " + std::to_string(options_.timeout.count()) + " ms");
    pollfd p{from_child_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(from_child_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable("phonemizer exited");
    buffer_.append(buf, static_cast<std::size_t>(n));
    if (buffer_.size() > (1u << 20)) return internal_error("phonemizer answered an over-long line");
  }
}

Result<std::string> PhonemizerClient::ask_locked(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line += '\n';
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(to_child_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable("phonemizer pipe closed");
    off += static_cast<std::size_t>(n);
  }
  PARLEY_ASSIGN_OR_RETURN(std::string reply, read_line_locked());
  if (reply.rfind("!error", 0) == 0) return invalid_argument("phonemizer: " + reply.substr(1));
  return reply;
}

Result<std::string> PhonemizerClient::phonemize(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  // SIGPIPE from a dead helper must not kill the service.
  static const bool ignore_sigpipe = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)ignore_sigpipe;
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (pid_ <= 0) {
      last = start_locked();
      if (!last.is_ok()) continue;
    }
    auto r = ask_locked(text);
    if (r.ok() || r.status().code() == StatusCode::kInvalidArgument) return r;
    last = r.status();
    stop_locked();  // dead or hung: restart once
  }
  return last;
}

}  // namespace parley::tts
