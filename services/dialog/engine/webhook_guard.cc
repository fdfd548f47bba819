// Webhook destinations: URL parsing, allow entries, internal-address classification (see
// webhook_guard.h). Depends on webhook_guard.h, Boost.Asio address types.
#include "services/dialog/engine/webhook_guard.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "shared/common/utf8.h"

namespace parley::dialog {
namespace {

namespace ip = boost::asio::ip;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<std::uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int v = std::stoi(s);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::optional<ip::address> parse_ip(const std::string& s) {
  boost::system::error_code ec;
  auto a = ip::make_address(s, ec);
  if (ec) return std::nullopt;
  return a;
}

/// 16 bytes for either family (IPv4 as ::ffff:a.b.c.d) so one prefix test serves both.
std::array<unsigned char, 16> bytes16(const ip::address& a) {
  if (a.is_v6()) return a.to_v6().to_bytes();
  return ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
}

bool in_prefix(const ip::address& a, const ip::address& net, int bits) {
  if (a.is_v4() != net.is_v4()) return false;
  auto x = bytes16(a), y = bytes16(net);
  int total = net.is_v4() ? bits + 96 : bits;
  for (int i = 0; i < 16 && total > 0; ++i, total -= 8) {
    unsigned char mask = total >= 8 ? 0xFF : static_cast<unsigned char>(0xFF << (8 - total));
    if ((x[static_cast<std::size_t>(i)] & mask) != (y[static_cast<std::size_t>(i)] & mask)) return false;
  }
  return true;
}

bool v4_internal(const ip::address_v4& a) {
  const auto b = a.to_bytes();
  const unsigned o0 = b[0], o1 = b[1], o2 = b[2];
  return o0 == 0 || o0 == 10 || o0 == 127 || o0 >= 224 ||            // this net, private, loopback, multicast+reserved
         (o0 == 100 && (o1 & 0xC0) == 64) ||                          // 100.64/10 CGNAT (shared)
         (o0 == 169 && o1 == 254) ||                                  // link-local (cloud metadata)
         (o0 == 172 && (o1 & 0xF0) == 16) ||                          // 172.16/12
         (o0 == 192 && o1 == 168) ||                                  // 192.168/16
         (o0 == 192 && o1 == 0 && (o2 == 0 || o2 == 2)) ||            // IETF protocol, TEST-NET-1
         (o0 == 192 && o1 == 88 && o2 == 99) ||                       // 6to4 relay anycast
         (o0 == 198 && (o1 & 0xFE) == 18) ||                          // 198.18/15 benchmarking
         (o0 == 198 && o1 == 51 && o2 == 100) || (o0 == 203 && o1 == 0 && o2 == 113);  // TEST-NET-2/3
}

}  // namespace

Result<WebhookUrl> parse_webhook_url(const std::string& url) {
  const std::string prefix = "http://";
  if (url.size() < prefix.size() || lower(url.substr(0, prefix.size())) != prefix) {
    return invalid_argument("webhook url must start with http:// (got '" + excerpt(url) + "')");
  }
  std::string rest = url.substr(prefix.size());
  WebhookUrl u;
  auto slash = rest.find_first_of("/?#");
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) {
    u.target = rest.substr(slash);
    if (u.target[0] != '/') u.target = "/" + u.target;
    if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  }
  for (char c : u.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return invalid_argument("webhook url has a space or control character in its path");
    }
  }
  if (hostport.find('@') != std::string::npos) return invalid_argument("webhook url must not carry user:password@");
  std::string port;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return invalid_argument("webhook url has an unclosed [IPv6] host");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return invalid_argument("webhook url: bad text after the [IPv6] host");
      port = hostport.substr(close + 2);
    }
    if (!parse_ip(u.host) || !parse_ip(u.host)->is_v6()) return invalid_argument("webhook url: bad IPv6 address");
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port = hostport.substr(colon + 1);
  }
  u.host = lower(u.host);
  if (u.host.empty()) return invalid_argument("webhook url has no host");
  if (hostport[0] != '[' && u.host.find(':') != std::string::npos) {
    return invalid_argument("webhook url: an IPv6 host must be in brackets (http://[::1]:8080/)");
  }
  for (char c : u.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':')) {
      return invalid_argument("webhook url host '" + excerpt(u.host) + "' has characters a host name cannot have");
    }
  }
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) return invalid_argument("webhook url port '" + excerpt(port) + "' is not 1..65535");
    u.port = *p;
  } else if (hostport.find(':') != std::string::npos && hostport[0] != '[') {
    return invalid_argument("webhook url has an empty port");
  }
  return u;
}

bool is_internal_address(const ip::address& a) {
  if (a.is_v4()) return v4_internal(a.to_v4());
  const ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return v4_internal(ip::make_address_v4(ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  if (v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.is_link_local() || v6.is_site_local()) {
    return true;
  }
  if ((b[0] & 0xFE) == 0xFC) return true;                                     // fc00::/7 unique local
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // 2001:db8::/32 documentation
  // Forms that embed an IPv4 address: ::/96 (compatible), 64:ff9b::/96 (NAT64), 2002::/16 (6to4).
  auto embedded = [&](int at) {
    return v4_internal(ip::address_v4(ip::address_v4::bytes_type{b[static_cast<std::size_t>(at)], b[static_cast<std::size_t>(at + 1)],
                                                                 b[static_cast<std::size_t>(at + 2)], b[static_cast<std::size_t>(at + 3)]}));
  };
  const bool first96_zero = std::all_of(b.begin(), b.begin() + 12, [](unsigned char c) { return c == 0; });
  if (first96_zero) return true;  // ::a.b.c.d (deprecated), never a public destination
  const bool nat64 = b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
                     std::all_of(b.begin() + 4, b.begin() + 12, [](unsigned char c) { return c == 0; });
  if (nat64) return embedded(12);
  if (b[0] == 0x20 && b[1] == 0x02) return embedded(2);
  return false;
}

Result<WebhookGuard> WebhookGuard::create(WebhookGuardOptions options) {
  WebhookGuard g;
  for (const std::string& raw : options.allow) {
    std::string e = lower(raw);
    e.erase(0, e.find_first_not_of(" \t"));
    e.erase(e.find_last_not_of(" \t") + 1);
    if (e.empty()) continue;
    const std::string what = "dialog.webhook_allow entry '" + excerpt(raw) + "'";
    Entry entry;
    if (e == "*") {
      entry.kind = Entry::Kind::kAnyHost;
      g.entries_.push_back(entry);
      continue;
    }
    // CIDR block (no port).
    if (auto slash = e.find('/'); slash != std::string::npos) {
      auto net = parse_ip(e.substr(0, slash));
      auto bits = e.substr(slash + 1);
      if (!net || bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return invalid_argument(what + ": expected ADDRESS/BITS");
      }
      entry.prefix_bits = std::stoi(bits);
      if (entry.prefix_bits > (net->is_v4() ? 32 : 128)) return invalid_argument(what + ": prefix too long");
      entry.kind = Entry::Kind::kNetwork;
      entry.network = *net;
      g.entries_.push_back(entry);
      continue;
    }
    // [v6]:port, v6 literal, v4[:port], host[:port], *.suffix[:port].
    std::string host = e, port;
    if (e[0] == '[') {
      auto close = e.find(']');
      if (close == std::string::npos) return invalid_argument(what + ": unclosed [");
      host = e.substr(1, close - 1);
      if (close + 1 < e.size()) {
        if (e[close + 1] != ':') return invalid_argument(what + ": expected ]:PORT");
        port = e.substr(close + 2);
      }
    } else if (std::count(e.begin(), e.end(), ':') == 1) {
      host = e.substr(0, e.find(':'));
      port = e.substr(e.find(':') + 1);
    }
    if (!port.empty()) {
      entry.port = parse_port(port);
      if (!entry.port) return invalid_argument(what + ": bad port");
    }
    if (auto a = parse_ip(host)) {
      entry.kind = Entry::Kind::kNetwork;
      entry.network = *a;
      entry.prefix_bits = a->is_v4() ? 32 : 128;
    } else if (host.rfind("*.", 0) == 0 && host.size() > 2) {
      entry.kind = Entry::Kind::kSuffix;
      entry.host = host.substr(1);  // ".example.com"
    } else if (!host.empty() && host.find('*') == std::string::npos) {
      entry.kind = Entry::Kind::kHost;
      entry.host = host;
    } else {
      return invalid_argument(what + ": expected HOST[:PORT], *.DOMAIN, ADDRESS[/BITS] or *");
    }
    g.entries_.push_back(entry);
  }
  g.options_ = std::move(options);
  return g;
}

bool WebhookGuard::host_allowed(const WebhookUrl& url) const {
  for (const Entry& e : entries_) {
    if (e.port && *e.port != url.port) continue;
    switch (e.kind) {
      case Entry::Kind::kAnyHost: return true;
      case Entry::Kind::kHost:
        if (url.host == e.host) return true;
        break;
      case Entry::Kind::kSuffix:
        if (url.host.size() > e.host.size() && url.host.ends_with(e.host)) return true;
        break;
      case Entry::Kind::kNetwork:
        if (auto a = parse_ip(url.host); a && in_prefix(*a, e.network, e.prefix_bits)) return true;
        break;
    }
  }
  return false;
}

bool WebhookGuard::network_allows(const ip::address& a, std::uint16_t port) const {
  for (const Entry& e : entries_) {
    if (e.kind != Entry::Kind::kNetwork || (e.port && *e.port != port)) continue;
    ip::address x = a;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) x = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    if (in_prefix(x, e.network, e.prefix_bits)) return true;
  }
  return false;
}

Status WebhookGuard::check_url(const std::string& url) const {
  auto u = parse_webhook_url(url);
  if (!u.ok()) return u.status();
  if (entries_.empty()) {
    return permission_denied("webhook " + excerpt(url, 120) +
                             ": webhooks are disabled on this deployment (dialog.webhook_allow is empty)");
  }
  if (!host_allowed(*u)) {
    return permission_denied("webhook host '" + excerpt(u->host) + ":" + std::to_string(u->port) +
                             "' is not in dialog.webhook_allow");
  }
  if (auto a = parse_ip(u->host); a && is_internal_address(*a) && !network_allows(*a, u->port)) {
    return permission_denied("webhook address " + u->host +
                             " is internal (loopback, private, link-local...); only an explicit address entry in "
                             "dialog.webhook_allow permits it");
  }
  return Status::ok();
}

Status WebhookGuard::check_address(const WebhookUrl& url, const ip::address& address) const {
  if (network_allows(address, url.port)) return Status::ok();  // named explicitly by the deployment
  if (is_internal_address(address) && !options_.allow_internal) {
    return permission_denied("webhook host '" + excerpt(url.host) + "' resolves to " + address.to_string() +
                             ", an internal address (not allowed unless dialog.webhook_allow names it)");
  }
  if (!host_allowed(url)) {
    return permission_denied("webhook host '" + excerpt(url.host) + "' is not in dialog.webhook_allow");
  }
  return Status::ok();
}

}  // namespace parley::dialog
