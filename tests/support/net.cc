// Loopback helpers: free ports, blocking HTTP client, Prometheus text lookups.
#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <sstream>

namespace parley::testing {

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point end) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}
}  // namespace

RawSocket::RawSocket(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) close();
}

RawSocket::~RawSocket() { close(); }

bool RawSocket::send(const std::string& s) {
  return fd_ >= 0 && ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

bool RawSocket::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (data_.find(needle) == std::string::npos) {
    if (fd_ < 0 || !wait_fd(fd_, POLLIN, end)) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    data_.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

void RawSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string http_post_bytes(const std::string& target, const std::string& body, const std::string& extra_headers) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

Result<HttpReply> http_request(const std::string& method, int port, const std::string& target,
                               const std::string& body, std::chrono::milliseconds timeout,
                               const std::map<std::string, std::string>& headers) {
  auto end = std::chrono::steady_clock::now() + timeout;
  Fd s{::socket(AF_INET, SOCK_STREAM, 0)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return unavailable("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  std::ostringstream req;
  req << method << " " << target << " HTTP/1.1\r\nHost: 127.0.0.1:" << port
      << "\r\nConnection: close\r\nContent-Length: " << body.size() << "\r\n";
  for (const auto& [k, v] : headers) req << k << ": " << v << "\r\n";
  req << "\r\n" << body;
  std::string out = req.str();
  size_t sent = 0;
  while (sent < out.size()) {
    if (!wait_fd(s.fd, POLLOUT, end)) return deadline_exceeded("send timed out");
    ssize_t n = ::send(s.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return unavailable("send failed");
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[8192];
  while (true) {
    if (!wait_fd(s.fd, POLLIN, end)) return deadline_exceeded("no complete reply within timeout");
    ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n < 0) return unavailable("recv failed");
    if (n == 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return data_loss("reply has no header terminator");
  HttpReply reply;
  std::istringstream head(in.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12) return data_loss("bad status line: " + line);
  reply.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    reply.headers[name] = value;
  }
  std::string raw = in.substr(head_end + 4);
  if (reply.headers["transfer-encoding"] == "chunked") {
    size_t pos = 0;
    while (pos < raw.size()) {
      auto eol = raw.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      reply.body += raw.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
  } else {
    reply.body = raw;
  }
  return reply;
}

double metric_value(const std::string& exposition, const std::string& name,
                    const std::string& labels_substring) {
  std::istringstream in(exposition);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    std::string labels;
    size_t value_pos = name.size();
    if (next == '{') {
      auto close = line.find('}', name.size());
      if (close == std::string::npos) continue;
      labels = line.substr(name.size(), close - name.size() + 1);
      value_pos = close + 1;
    }
    if (!labels_substring.empty() && labels.find(labels_substring) == std::string::npos) continue;
    sum += std::strtod(line.c_str() + value_pos, nullptr);
    found = true;
  }
  return found ? sum : std::nan("");
}

}  // namespace parley::testing
