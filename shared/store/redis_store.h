// RedisStore: the SessionStore shared by several orchestrator replicas, on a real Redis server
// through hiredis (blocking, binary-safe, the Debian-packaged C client). Compare-and-set runs as
// one Lua script, so it is atomic on the server. Depends on session_store.h and libhiredis.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shared/store/session_store.h"

struct redisContext;  // hiredis, kept out of this header

namespace parley::store {

struct RedisStoreOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  ///< sent with AUTH when not empty
  /// Every key is stored as `key_prefix + key`; count() and list() see only this prefix, so one
  /// Redis can hold several deployments' sessions and other data.
  std::string key_prefix = "parley:session:";
  std::chrono::milliseconds connect_timeout{1000};
  /// Each command's send + reply must complete within this; else DEADLINE_EXCEEDED and the
  /// connection is closed (its late reply must never be read as another command's).
  std::chrono::milliseconds command_timeout{1000};
  /// Connections held at most; a call waits up to command_timeout for a free one.
  std::size_t pool_size = 4;
  /// After a failed connect, calls fail fast with UNAVAILABLE for this long instead of each
  /// paying a connect attempt (Redis down: no thundering herd, quick fallbacks).
  std::chrono::milliseconds reconnect_backoff{200};
  /// Bytes of one value; a larger put gets RESOURCE_EXHAUSTED before anything is sent. 0 = none.
  std::size_t max_value_bytes = 4 << 20;
};

/// SessionStore on Redis. Each key is a hash {v: value, ver: version, tok: last writer's token}
/// with PEXPIRE for the TTL.
///
///   RedisStore store({.host = "127.0.0.1", .port = 6379});
///   auto v = store.put("s-1", state, kMustNotExist, std::chrono::minutes(30));
///   auto e = store.get("s-1");
///   auto v2 = store.put("s-1", state2, e->version, std::chrono::minutes(30));  // ABORTED on a race
///
/// Threading: thread-safe. A pool of up to `pool_size` connections, created lazily; each call
/// borrows one connection for its round trip(s) and returns it, so calls from different threads
/// run in parallel up to the pool size and a connection is never used by two threads at once.
/// Calls block (network I/O, bounded by the timeouts above).
///
/// Connection loss: the failed call returns UNAVAILABLE naming the server; all idle connections
/// are dropped (after a restart they are all dead) and the next call reconnects. A call that
/// failed on a reused connection is retried once on a fresh one: safe for get/remove/count, and
/// for put because the script recognises its own retried write by a per-call token (a write
/// that reached the server before the connection broke reports success, not a false conflict).
/// Timeouts are not retried: the caller decides (re-read first, the put may have landed).
///
/// Ownership: the store owns its connections; the destructor closes them (no call may be in
/// flight then).
class RedisStore final : public SessionStore {
 public:
  explicit RedisStore(RedisStoreOptions options);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  Result<Entry> get(std::string_view key) override;
  Result<Version> put(std::string_view key, std::string_view value, Version expected_version,
                      std::chrono::milliseconds ttl) override;
  Result<bool> remove(std::string_view key) override;
  Result<std::size_t> count() override;
  Result<std::vector<std::string>> list(std::size_t limit) override;
  Status health() override;
  std::string describe() const override;

  /// Connections opened since construction (tests check reconnects; metrics may export it).
  std::uint64_t connects() const;

 private:
  class Pool;
  struct Reply;

  /// Runs one command (argv binary-safe) with the retry-once-on-fresh-connection rule.
  Result<Reply> command(const std::vector<std::string>& argv);
  Result<Reply> put_script(const std::vector<std::string>& args);
  Result<std::vector<std::string>> scan(std::size_t limit);

  RedisStoreOptions options_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace parley::store
