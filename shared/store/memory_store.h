// MemoryStore: the in-process SessionStore (the default when one orchestrator replica runs).
// Exists so a single replica needs no Redis, and so tests of TTL and CAS logic run without a
// server and without sleeping (injectable clock). Depends on session_store.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "shared/store/session_store.h"

namespace parley::store {

struct MemoryStoreOptions {
  /// Time source for TTLs; tests inject a manual clock. Default: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
  /// Background sweep of expired keys every this often; 0 = no thread (expired keys are then
  /// invisible at once and freed by sweep() or by a put/remove of the same key).
  std::chrono::milliseconds sweep_interval{0};
  /// Live keys allowed; a put creating one more gets RESOURCE_EXHAUSTED. 0 = unlimited.
  std::size_t max_keys = 0;
  /// Bytes of one value; a larger put gets RESOURCE_EXHAUSTED. 0 = unlimited.
  std::size_t max_value_bytes = 0;
};

/// SessionStore in a hash map under one mutex. Thread-safe; no call blocks beyond the mutex.
///
///   ManualClock clock;   // e.g. a time_point the test advances
///   MemoryStore store({.clock = [&] { return clock.now; }});
///   auto v = store.put("k", "state", kMustNotExist, std::chrono::seconds(30));   // v == 1
///   clock.now += std::chrono::seconds(31);
///   store.get("k");        // NOT_FOUND
///   store.sweep();         // 1 (frees it)
///
/// Ownership: the store owns copies of keys and values. The sweep thread (when configured) is
/// joined by the destructor.
class MemoryStore final : public SessionStore {
 public:
  explicit MemoryStore(MemoryStoreOptions options = {});
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Result<Entry> get(std::string_view key) override;
  Result<Version> put(std::string_view key, std::string_view value, Version expected_version,
                      std::chrono::milliseconds ttl) override;
  Result<bool> remove(std::string_view key) override;
  Result<std::size_t> count() override;
  Result<std::vector<std::string>> list(std::size_t limit) override;
  Status health() override { return Status::ok(); }
  std::string describe() const override { return "memory"; }

  /// Frees every expired key now; returns how many.
  std::size_t sweep();
  /// Keys held, expired-but-not-swept included (for tests of the sweep).
  std::size_t stored_keys() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Item {
    std::string value;
    Version version = 0;
    TimePoint expires_at = TimePoint::max();
  };

  TimePoint now() const;
  bool live(const Item& item, TimePoint now) const { return now < item.expires_at; }
  std::size_t sweep_locked(TimePoint now);
  void sweep_loop();

  MemoryStoreOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Item> items_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace parley::store
