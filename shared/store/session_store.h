// SessionStore: versioned key/value storage for dialog session state, with per-key TTL and
// compare-and-set, so that several orchestrator replicas can share sessions without silently
// overwriting each other's turns. Depends on shared/common (Status/Result) only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::store {

/// Version of a stored value. Starts at 1 when a key is created and grows by one on every put.
/// A key that was removed or expired starts again at 1 when recreated (session ids are unique,
/// so this ABA case does not arise for sessions).
using Version = std::int64_t;

/// `put(..., kMustNotExist, ...)`: create only; ABORTED when the key exists.
inline constexpr Version kMustNotExist = 0;
/// `put(..., kAnyVersion, ...)`: unconditional write (last writer wins). Avoid for sessions.
inline constexpr Version kAnyVersion = -1;

/// A value and the version it had when read.
struct Entry {
  std::string value;
  Version version = 0;
};

/// The interface the orchestrator codes against. Implementations: MemoryStore (one process),
/// RedisStore (shared by replicas). `open_store(url)` picks one from a URL.
///
///   auto store = open_store("redis://127.0.0.1:6379/0");           // or "memory://"
///   if (!store.ok()) return store.status();
///   auto e = (*store)->get("s-42");                                  // NOT_FOUND when absent
///   Version expected = e.ok() ? e->version : kMustNotExist;
///   auto v = (*store)->put("s-42", new_state, expected, std::chrono::minutes(30));
///   if (v.status().code() == StatusCode::kAborted) { /* someone else wrote: re-read, re-apply */ }
///
/// Errors (every method): UNAVAILABLE when the backend cannot be reached (the call may be
/// retried; the store reconnects by itself), DEADLINE_EXCEEDED when it did not answer within the
/// configured timeout (the outcome of a put is then unknown: re-read before retrying),
/// INVALID_ARGUMENT for an empty key, a negative TTL or a version below kAnyVersion.
///
/// Threading: every method is thread-safe and blocking (a network round trip for Redis; call
/// it from a worker, not from an I/O thread that must stay responsive). Keys and values are
/// arbitrary bytes; the store copies them.
class SessionStore {
 public:
  virtual ~SessionStore() = default;

  /// The value and its version; NOT_FOUND when the key is absent or its TTL passed.
  /// Reading does not refresh the TTL (writing does).
  virtual Result<Entry> get(std::string_view key) = 0;

  /// Compare-and-set: writes `value` if the key's current version is `expected_version`
  /// (kMustNotExist: the key must be absent; kAnyVersion: no check), and returns the new version.
  /// ABORTED ("version conflict ...") when the version differs; nothing is written then.
  /// `ttl` > 0: the key expires `ttl` after this write (every write refreshes it);
  /// `ttl` == 0: no expiry. RESOURCE_EXHAUSTED when a size limit of the store is hit.
  virtual Result<Version> put(std::string_view key, std::string_view value,
                              Version expected_version, std::chrono::milliseconds ttl) = 0;

  /// Deletes the key. True when it existed, false when it was already absent (not an error).
  virtual Result<bool> remove(std::string_view key) = 0;

  /// Number of live keys (for an "active sessions" gauge). O(keys) for Redis (a SCAN of the
  /// store's key prefix): call it from a periodic metrics task, not per request.
  virtual Result<std::size_t> count() = 0;

  /// Up to `limit` live keys, in no particular order (admin listing, tests).
  virtual Result<std::vector<std::string>> list(std::size_t limit) = 0;

  /// OK when the backend answers (for /readyz, called from a worker or a periodic task).
  virtual Status health() = 0;

  /// "memory" or "redis://host:port/db" (no password), for logs.
  virtual std::string describe() const = 0;
};

/// Opens a store from a URL:
///   "memory://"                                   MemoryStore with default options
///   "redis://[:password@]host[:port][/db][?prefix=P&timeout_ms=N&pool=N]"
///                                                 RedisStore (port 6379, db 0 by default)
/// INVALID_ARGUMENT for an unknown scheme or a malformed URL. Opening Redis does not connect yet:
/// the first call does (so a replica can start before Redis is up; health() tells readiness).
Result<std::unique_ptr<SessionStore>> open_store(std::string_view url);

}  // namespace parley::store
