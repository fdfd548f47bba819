// Client targets: which endpoints a target names, and the default DNS resolver.
// Exists because a Kubernetes headless Service is one name for every pod IP: the client connects
// to all of them and re-resolves to follow scaling. Depends on shared/common (POSIX getaddrinfo).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::transport {

/// Maps a "dns://host:port" target to the replica endpoints it currently names
/// ("tcp://10.0.3.7:7101", ...). Called on the client's resolver thread (may block).
using Resolver = std::function<Result<std::vector<std::string>>(const std::string& dns_target)>;

/// A parsed target: either one endpoint (tcp://, ipc://, inproc://) or a DNS name to resolve.
struct Target {
  std::string text;  // as given
  bool dns = false;
  std::string host;  // dns only
  int port = 0;      // dns only
};

/// Validates and classifies a target string.
Result<Target> parse_target(const std::string& text);

/// getaddrinfo(host, port): every address, de-duplicated and sorted, as tcp:// endpoints
/// (IPv6 ones as tcp://[addr]:port, only when `ipv6` is true).
Result<std::vector<std::string>> resolve_dns(const std::string& host, int port, bool ipv6);

/// The Resolver used when ClientOptions::resolver is unset.
Resolver default_resolver(bool ipv6);

}  // namespace parley::transport
