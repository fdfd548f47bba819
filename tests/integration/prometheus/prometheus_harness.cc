// Prometheus harness (see prometheus_harness.h): config generation, process control, a tiny
// HTTP client, and just enough JSON reading for the query and targets APIs.
// Self-contained on purpose (POSIX only): it must run against any target, in any test binary.
#include "tests/integration/prometheus/prometheus_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace parley::testing {
namespace {

template <typename Pred>
bool poll_until(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The value string of the first sample in a query API reply: ..."value":[<ts>,"<v>"]...
std::optional<double> first_sample_value(const std::string& json) {
  auto v = json.find("\"value\":[");
  if (v == std::string::npos) return std::nullopt;
  auto comma = json.find(',', v);
  auto open = json.find('"', comma);
  auto close = json.find('"', open + 1);
  if (comma == std::string::npos || open == std::string::npos || close == std::string::npos) return std::nullopt;
  std::string text = json.substr(open + 1, close - open - 1);
  if (text == "NaN") return std::nan("");
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  return std::strtod(text.c_str(), nullptr);
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<SimpleReply> simple_get(int port, const std::string& target, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return unavailable("connect to port " + std::to_string(port) + ": " + why);
  }
  std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return unavailable("send failed");
  }
  std::string in;
  char buf[8192];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ::close(fd);
      return deadline_exceeded("no complete reply for " + target);
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.size() < 12) return data_loss("bad HTTP reply: " + in);
  SimpleReply r;
  r.status = std::atoi(in.c_str() + 9);
  r.body = in.substr(head_end + 4);
  return r;
}

std::string PrometheusProcess::binary() {
  for (const char* p : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

Result<std::unique_ptr<PrometheusProcess>> PrometheusProcess::start(const std::vector<std::string>& targets,
                                                                    std::chrono::milliseconds ready_timeout) {
  std::string bin = binary();
  if (bin.empty()) return unavailable("prometheus is not installed");
  std::unique_ptr<PrometheusProcess> p(new PrometheusProcess());
  std::string tmpl = (std::filesystem::temp_directory_path() / "parley-prometheus-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return unavailable("mkdtemp failed");
  p->dir_ = tmpl;
  p->port_ = free_port();
  if (p->port_ <= 0) return unavailable("no free TCP port for prometheus");

  std::string config = p->dir_ + "/prometheus.yml";
  {
    std::ofstream f(config);
    f << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
      << "scrape_configs:\n  - job_name: parley\n    static_configs:\n      - targets: [";
    for (std::size_t i = 0; i < targets.size(); ++i) f << (i ? ", " : "") << '"' << targets[i] << '"';
    f << "]\n";
  }
  // Only the flags we need: Debian's package may lack the console templates that other flags
  // would point at.
  std::vector<std::string> argv{bin, "--config.file=" + config, "--storage.tsdb.path=" + p->dir_ + "/data",
                                "--web.listen-address=127.0.0.1:" + std::to_string(p->port_), "--log.level=warn"};
  std::string log_path = p->dir_ + "/prometheus.log";
  p->pid_ = ::fork();
  if (p->pid_ < 0) return unavailable(std::string("fork failed: ") + std::strerror(errno));
  if (p->pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  bool ready = poll_until(
      [&] {
        auto r = simple_get(p->port_, "/-/ready", std::chrono::milliseconds(500));
        return r.ok() && r->status == 200;
      },
      ready_timeout);
  if (!ready) return unavailable("prometheus did not become ready on port " + std::to_string(p->port_) + ":\n" + p->log());
  return p;
}

PrometheusProcess::~PrometheusProcess() { stop(); }

void PrometheusProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    bool exited = poll_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, std::chrono::seconds(10));
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string PrometheusProcess::log() const {
  if (dir_.empty()) return "";
  std::ifstream in(dir_ + "/prometheus.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<std::optional<double>> PrometheusProcess::query(const std::string& promql) {
  auto r = simple_get(port_, "/api/v1/query?query=" + url_encode(promql), std::chrono::seconds(5));
  if (!r.ok()) return r.status();
  if (r->status != 200 || r->body.find("\"status\":\"success\"") == std::string::npos) {
    return invalid_argument("query '" + promql + "' failed: HTTP " + std::to_string(r->status) + " " + r->body);
  }
  return first_sample_value(r->body);
}

Result<double> PrometheusProcess::wait_for_value(const std::string& promql, double expected,
                                                 std::chrono::milliseconds timeout) {
  std::optional<double> last;
  Status last_error;
  bool matched = poll_until(
      [&] {
        auto v = query(promql);
        if (!v.ok()) {
          last_error = v.status();
          return false;
        }
        last = *v;
        return last.has_value() && *last == expected;
      },
      timeout);
  if (matched) return *last;
  std::string seen = last ? std::to_string(*last) : "no result";
  if (!last_error.is_ok()) seen += " (last error: " + last_error.to_string() + ")";
  return deadline_exceeded("'" + promql + "' never returned " + std::to_string(expected) + "; last: " + seen);
}

Result<std::string> PrometheusProcess::target_health(const std::string& target) {
  auto r = simple_get(port_, "/api/v1/targets", std::chrono::seconds(5));
  if (!r.ok()) return r.status();
  auto at = r->body.find("\"scrapeUrl\":\"http://" + target + "/metrics\"");
  if (at == std::string::npos) return not_found("target " + target + " not listed yet");
  auto h = r->body.find("\"health\":\"", at);
  if (h == std::string::npos) return data_loss("no health for " + target + " in " + r->body);
  h += 10;
  return r->body.substr(h, r->body.find('"', h) - h);
}

void expect_prometheus_scrapes(const std::string& target, const std::vector<PromExpectation>& expectations) {
  auto prom = PrometheusProcess::start({target});
  ASSERT_TRUE(prom.ok()) << prom.status().to_string();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1000), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         deadline - std::chrono::steady_clock::now()));
  };
  for (const auto& e : expectations) {
    auto v = (*prom)->wait_for_value(e.promql, e.value, left());
    EXPECT_TRUE(v.ok()) << v.status().to_string() << "\n--- prometheus log ---\n" << (*prom)->log();
  }
  std::string health;
  bool up = poll_until(
      [&] {
        auto h = (*prom)->target_health(target);
        if (h.ok()) health = *h;
        return h.ok() && *h == "up";
      },
      left());
  EXPECT_TRUE(up) << "target " << target << " health: '" << health << "'";
  (*prom)->stop();
}

}  // namespace parley::testing
