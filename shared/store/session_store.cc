// open_store: turns a store URL from configuration into a MemoryStore or a RedisStore.
// Exists so the orchestrator has one config key (`store.url`) for both deployments.
// Depends on memory_store.h, redis_store.h.
#include "shared/store/session_store.h"

#include <charconv>

#include "shared/store/memory_store.h"
#include "shared/store/redis_store.h"

namespace parley::store {
namespace {

bool parse_number(std::string_view s, long long& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

Result<RedisStoreOptions> parse_redis_url(std::string_view url) {
  const std::string_view full = url;
  auto bad = [&](const std::string& why) {
    return invalid_argument("bad session store URL '" + std::string(full) + "': " + why +
                            " (expected redis://[:password@]host[:port][/db][?prefix=P&timeout_ms=N&pool=N])");
  };
  url.remove_prefix(std::string_view("redis://").size());
  RedisStoreOptions o;
  std::string_view query;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
  }
  if (auto at = url.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = url.substr(0, at);
    url = url.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      o.password = std::string(userinfo.substr(colon + 1));
    } else {
      o.password = std::string(userinfo);
    }
  }
  if (auto slash = url.find('/'); slash != std::string_view::npos) {
    std::string_view db = url.substr(slash + 1);
    url = url.substr(0, slash);
    long long n = 0;
    if (!db.empty()) {
      if (!parse_number(db, n) || n < 0 || n > 15) return bad("db must be a number 0..15");
      o.db = static_cast<int>(n);
    }
  }
  if (auto colon = url.rfind(':'); colon != std::string_view::npos) {
    long long n = 0;
    if (!parse_number(url.substr(colon + 1), n) || n < 1 || n > 65535) return bad("bad port");
    o.port = static_cast<int>(n);
    url = url.substr(0, colon);
  }
  if (url.empty()) return bad("no host");
  o.host = std::string(url);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) return bad("query item '" + std::string(kv) + "' has no '='");
    std::string_view k = kv.substr(0, eq);
    std::string_view v = kv.substr(eq + 1);
    long long n = 0;
    if (k == "prefix") {
      o.key_prefix = std::string(v);
    } else if (k == "timeout_ms") {
      if (!parse_number(v, n) || n < 1) return bad("timeout_ms must be a positive number");
      o.command_timeout = std::chrono::milliseconds(n);
      o.connect_timeout = std::chrono::milliseconds(n);
    } else if (k == "pool") {
      if (!parse_number(v, n) || n < 1 || n > 1024) return bad("pool must be 1..1024");
      o.pool_size = static_cast<std::size_t>(n);
    } else {
      return bad("unknown option '" + std::string(k) + "'");
    }
  }
  return o;
}

}  // namespace

Result<std::unique_ptr<SessionStore>> open_store(std::string_view url) {
  if (url == "memory://" || url == "memory") {
    return std::unique_ptr<SessionStore>(std::make_unique<MemoryStore>(
        MemoryStoreOptions{.sweep_interval = std::chrono::seconds(10)}));
  }
  if (url.rfind("redis://", 0) == 0) {
    PARLEY_ASSIGN_OR_RETURN(RedisStoreOptions o, parse_redis_url(url));
    return std::unique_ptr<SessionStore>(std::make_unique<RedisStore>(std::move(o)));
  }
  return invalid_argument("unknown session store URL '" + std::string(url) +
                          "' (use memory:// or redis://host:port/db)");
}

}  // namespace parley::store
