// API keys of the public HTTP API: each key has scopes (`admin` manages bots, `client` talks) and
// a tenant (sessions and uploaded bots belong to the tenant whose key created them), read from
// api.keys and api.keys_file; and the per-address limiter of failed key attempts.
// Depends on shared/common (Status), nothing of HTTP.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::dialog {

/// Keys shorter than this are accepted with a warning in the log.
inline constexpr std::size_t kMinSecretBytes = 16;

/// One bearer key.
struct ApiKey {
  std::string secret;
  /// Sessions and uploaded bots of this tenant are reachable only with its keys.
  std::string tenant;
  bool admin = false;   ///< may PUT / DELETE / reload bots
  bool client = false;  ///< may create sessions, take turns, open voice sessions, read bots
};

/// The caller a request was admitted as.
struct Caller {
  std::string tenant;  ///< "" when the API runs without keys
  bool admin = false;
  bool client = false;
  std::string rate_key;  ///< what the rate limiter buckets by (the key, or the client address)
};

/// Parses one api.keys entry:
///   "SECRET"                          client scope; tenant "key:<12 hex of SHA-1(SECRET)>"
///   "SCOPES:TENANT:SECRET"            SCOPES = admin | client | admin+client (or "admin,client")
/// e.g. "admin+client:acme:5b0e7c..." or "client:acme-web:9f2d...". TENANT is [A-Za-z0-9_.-]{1,64}.
/// The secret may contain ':' only in the second form; an empty one is refused. (Secrets shorter
/// than kMinSecretBytes are guessable: the process logs a warning for each.) `default_tenant` (a
/// Secret's file name) replaces the hashed tenant of a plain key.
Result<ApiKey> parse_api_key(const std::string& entry, const std::string& default_tenant = "");

/// Keys from `path`: a file with one entry per line (blank lines and # comments skipped), or a
/// directory with one entry per file (a Kubernetes Secret mounted as a volume; dot-files skipped;
/// a plain secret's tenant is the file's name).
Result<std::vector<ApiKey>> read_api_keys_file(const std::string& path);

/// Finds the key whose secret is `presented` (constant-time comparison per key), or nullopt.
std::optional<ApiKey> find_api_key(const std::vector<ApiKey>& keys, const std::string& presented);

/// Failed key attempts per client address: after `max_failures` within `window`, the address is
/// refused (429, before the key is even looked at) until `window` has passed since its first
/// failure of the window — an online guesser gets a handful of tries a minute. Thread-safe;
/// memory bounded (`max_addresses`; the oldest windows are dropped first).
class FailedAuthLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  FailedAuthLimiter(int max_failures = 10, std::chrono::milliseconds window = std::chrono::minutes(1),
                    std::size_t max_addresses = 100'000)
      : max_failures_(max_failures), window_(window), max_addresses_(max_addresses) {}
  /// True while `address` is locked out (seconds until it is not in *retry_after_s).
  bool locked(const std::string& address, Clock::time_point now = Clock::now(), int* retry_after_s = nullptr);
  /// Records a failed attempt from `address`.
  void failed(const std::string& address, Clock::time_point now = Clock::now());

 private:
  struct Window {
    Clock::time_point start;
    int failures = 0;
  };
  int max_failures_;
  std::chrono::milliseconds window_;
  std::size_t max_addresses_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // guarded by mu_
};

/// "10.1.2.3:5555" -> "10.1.2.3"; "[::1]:80" -> "::1"; IPv6 addresses are kept to their /64 so
/// one host cannot spread over its whole prefix.
std::string client_address(const std::string& remote);

}  // namespace parley::dialog
