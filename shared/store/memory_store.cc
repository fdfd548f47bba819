// MemoryStore implementation: a hash map, lazy expiry on access, optional sweep thread.
// Exists as the single-replica store and the reference semantics RedisStore must match.
// Depends on memory_store.h, common.h.
#include "shared/store/memory_store.h"

#include <algorithm>

#include "shared/store/common.h"

namespace parley::store {

MemoryStore::MemoryStore(MemoryStoreOptions options) : options_(std::move(options)) {
  if (options_.sweep_interval.count() > 0) {
    sweeper_ = std::thread([this] { sweep_loop(); });
  }
}

MemoryStore::~MemoryStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

MemoryStore::TimePoint MemoryStore::now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

Result<Entry> MemoryStore::get(std::string_view key) {
  PARLEY_RETURN_IF_ERROR(detail::check_key(key));
  const TimePoint t = now();
  std::lock_guard lock(mu_);
  auto it = items_.find(std::string(key));
  if (it == items_.end() || !live(it->second, t)) return detail::key_not_found(key);
  return Entry{it->second.value, it->second.version};
}

Result<Version> MemoryStore::put(std::string_view key, std::string_view value,
                                 Version expected_version, std::chrono::milliseconds ttl) {
  PARLEY_RETURN_IF_ERROR(detail::check_put_args(key, expected_version, ttl));
  if (options_.max_value_bytes > 0 && value.size() > options_.max_value_bytes) {
    return resource_exhausted("value for key '" + std::string(key) + "' is " +
                              std::to_string(value.size()) + " bytes, over the store's limit of " +
                              std::to_string(options_.max_value_bytes));
  }
  const TimePoint t = now();
  std::lock_guard lock(mu_);
  auto it = items_.find(std::string(key));
  const bool exists = it != items_.end() && live(it->second, t);
  const Version current = exists ? it->second.version : 0;
  if (expected_version != kAnyVersion && expected_version != current) {
    return detail::version_conflict(key, expected_version, current);
  }
  if (!exists && options_.max_keys > 0 && items_.size() >= options_.max_keys) {
    sweep_locked(t);
    it = items_.find(std::string(key));
    if (items_.size() >= options_.max_keys) {
      return resource_exhausted("session store is full (" + std::to_string(options_.max_keys) +
                                " keys)");
    }
  }
  if (it == items_.end()) it = items_.emplace(std::string(key), Item{}).first;
  Item& item = it->second;
  item.value.assign(value);
  item.version = current + 1;
  item.expires_at = ttl.count() > 0 ? t + ttl : TimePoint::max();
  return item.version;
}

Result<bool> MemoryStore::remove(std::string_view key) {
  PARLEY_RETURN_IF_ERROR(detail::check_key(key));
  const TimePoint t = now();
  std::lock_guard lock(mu_);
  auto it = items_.find(std::string(key));
  if (it == items_.end()) return false;
  const bool was_live = live(it->second, t);
  items_.erase(it);
  return was_live;
}

Result<std::size_t> MemoryStore::count() {
  const TimePoint t = now();
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [&](const auto& kv) { return live(kv.second, t); }));
}

Result<std::vector<std::string>> MemoryStore::list(std::size_t limit) {
  const TimePoint t = now();
  std::vector<std::string> keys;
  std::lock_guard lock(mu_);
  for (const auto& [k, item] : items_) {
    if (keys.size() >= limit) break;
    if (live(item, t)) keys.push_back(k);
  }
  return keys;
}

std::size_t MemoryStore::sweep() {
  const TimePoint t = now();
  std::lock_guard lock(mu_);
  return sweep_locked(t);
}

std::size_t MemoryStore::stored_keys() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

std::size_t MemoryStore::sweep_locked(TimePoint t) {
  return std::erase_if(items_, [&](const auto& kv) { return !live(kv.second, t); });
}

void MemoryStore::sweep_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, options_.sweep_interval, [this] { return stopping_; });
    if (stopping_) break;
    sweep_locked(now());
  }
}

}  // namespace parley::store
