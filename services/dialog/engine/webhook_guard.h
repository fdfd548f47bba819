// Where a bot's action webhooks may go: only to hosts the deployment allows (dialog.webhook_allow),
// never to loopback, link-local, private or other internal addresses unless an allow entry names
// them explicitly — checked on the resolved address the connection then uses, not on the name
// (DNS rebinding) — so an uploaded bot cannot turn the orchestrator into a scanner of the
// cluster's internal ports (issue 15). Depends on Boost.Asio's address types, shared/common.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::dialog {

/// A webhook URL taken apart: http://HOST[:PORT][/PATH].
struct WebhookUrl {
  std::string host;  ///< lower-cased; an IPv6 literal without brackets
  std::uint16_t port = 80;
  std::string target = "/";
};

/// Parses an action URL. INVALID_ARGUMENT for anything but http://host[:port][/path] (no
/// userinfo, a numeric port 1..65535, a non-empty host).
Result<WebhookUrl> parse_webhook_url(const std::string& url);

/// True for addresses a webhook must not reach by default: unspecified, loopback, link-local
/// (169.254/16 — cloud metadata — and fe80::/10), private (10/8, 172.16/12, 192.168/16), shared
/// CGNAT (100.64/10), IETF/benchmark/reserved ranges, multicast, broadcast, unique-local
/// fc00::/7, and IPv4-mapped/NAT64 forms of those. Kubernetes pod and service networks live in
/// these ranges, so "cluster-internal" is covered.
bool is_internal_address(const boost::asio::ip::address& a);

struct WebhookGuardOptions {
  /// Allowed destinations; empty = webhooks disabled. Entries:
  ///   "actions.example.com"        that host, any port
  ///   "actions.example.com:5055"   that host and port
  ///   "*.example.com"              its subdomains (not example.com itself)
  ///   "*"                          any host (internal addresses still refused)
  ///   "10.0.0.0/8", "10.1.2.3", "fd00::/8", "127.0.0.1:5055"
  ///                                IP literals/CIDR blocks (with an optional port for a single
  ///                                address): allowed even when internal — naming them is the
  ///                                deployment's explicit choice
  std::vector<std::string> allow;
  /// Let host-name entries reach internal addresses too (an in-cluster action server by its
  /// Service name). Off by default.
  bool allow_internal = false;
  /// The JSON body POSTed (the tracker) at most this many bytes; more fails the step.
  std::size_t max_request_bytes = 64 << 10;
  /// The webhook's reply body at most this many bytes.
  std::size_t max_response_bytes = 256 << 10;
};

/// The checks. Immutable after create(); thread-safe.
class WebhookGuard {
 public:
  /// INVALID_ARGUMENT naming a malformed allow entry.
  static Result<WebhookGuard> create(WebhookGuardOptions options);
  /// A guard with no entries: every webhook refused (what tests of other things get).
  WebhookGuard() = default;

  /// At bot load: the URL parses and its host (and port) match an allow entry. PERMISSION_DENIED
  /// "... is not in dialog.webhook_allow" otherwise.
  Status check_url(const std::string& url) const;
  /// At call time, for each resolved address of `url`'s host: OK when the connection may use
  /// it. PERMISSION_DENIED naming the address and why.
  Status check_address(const WebhookUrl& url, const boost::asio::ip::address& address) const;

  const WebhookGuardOptions& options() const { return options_; }

 private:
  struct Entry {
    enum class Kind { kAnyHost, kHost, kSuffix, kNetwork } kind = Kind::kHost;
    std::string host;                  // kHost: the name; kSuffix: ".example.com"
    std::optional<std::uint16_t> port;
    boost::asio::ip::address network;  // kNetwork
    int prefix_bits = 0;
  };
  bool host_allowed(const WebhookUrl& url) const;
  bool network_allows(const boost::asio::ip::address& a, std::uint16_t port) const;

  WebhookGuardOptions options_;
  std::vector<Entry> entries_;
};

}  // namespace parley::dialog
