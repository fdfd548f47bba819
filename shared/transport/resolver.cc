// Target parsing and getaddrinfo-based resolution.
// Exists so dns:// targets follow a headless Service's pod IPs.
// Depends on POSIX getaddrinfo, shared/common.
#include "shared/transport/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace parley::transport {

Result<Target> parse_target(const std::string& text) {
  Target t;
  t.text = text;
  if (text.starts_with("tcp://") || text.starts_with("ipc://") || text.starts_with("inproc://")) {
    if (text.find("://") + 3 >= text.size()) return invalid_argument("target '" + text + "' has no address");
    return t;
  }
  if (!text.starts_with("dns://")) {
    return invalid_argument("target '" + text + "': expected tcp://host:port, dns://host:port, ipc:// or inproc://");
  }
  std::string rest = text.substr(6);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return invalid_argument("target '" + text + "': expected dns://host:port");
  }
  t.dns = true;
  t.host = rest.substr(0, colon);
  if (t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  std::string port = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), t.port);
  if (ec != std::errc() || end != port.data() + port.size() || t.port <= 0 || t.port > 65535) {
    return invalid_argument("target '" + text + "': port '" + port + "' is not a number in 1..65535");
  }
  return t;
}

Result<std::vector<std::string>> resolve_dns(const std::string& host, int port, bool ipv6) {
  addrinfo hints{};
  hints.ai_family = ipv6 ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) return unavailable("resolve " + host + ": " + ::gai_strerror(rc));
  std::vector<std::string> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf, sizeof(buf));
      out.push_back("tcp://" + std::string(buf) + ":" + port_text);
    } else if (a->ai_family == AF_INET6 && ipv6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf, sizeof(buf));
      out.push_back("tcp://[" + std::string(buf) + "]:" + port_text);
    }
  }
  ::freeaddrinfo(res);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Resolver default_resolver(bool ipv6) {
  return [ipv6](const std::string& dns_target) -> Result<std::vector<std::string>> {
    PARLEY_ASSIGN_OR_RETURN(Target t, parse_target(dns_target));
    if (!t.dns) return std::vector<std::string>{t.text};
    return resolve_dns(t.host, t.port, ipv6);
  };
}

}  // namespace parley::transport
