// Replica discovery (see replica_discovery.h): the re-resolution thread and the reconciliation of
// a resolution with the known replicas. Depends on replica_discovery.h, shared/common (log).
#include "shared/transport/replica_discovery.h"

#include <algorithm>
#include <set>

#include "shared/common/log.h"

namespace parley::transport::detail {

Reconciliation reconcile(std::span<const std::unique_ptr<Replica>> replicas, const std::string& target,
                         const std::vector<std::string>& endpoints) {
  Reconciliation out;
  const std::set<std::string> wanted(endpoints.begin(), endpoints.end());
  for (const auto& r : replicas) {
    if (r->target == target && !r->retired && wanted.count(r->endpoint) == 0) out.retire.push_back(r.get());
  }
  for (const auto& endpoint : wanted) {
    auto it = std::find_if(replicas.begin(), replicas.end(), [&](const auto& r) { return r->endpoint == endpoint; });
    if (it == replicas.end() || (*it)->retired) out.add.push_back(endpoint);
  }
  return out;
}

ReplicaDiscovery::ReplicaDiscovery(std::string client_name, std::vector<std::string> dns_targets, Resolver resolver,
                                   std::chrono::milliseconds interval, OnResolved on_resolved)
    : client_name_(std::move(client_name)),
      targets_(std::move(dns_targets)),
      resolver_(std::move(resolver)),
      interval_(interval),
      on_resolved_(std::move(on_resolved)) {}

ReplicaDiscovery::~ReplicaDiscovery() { stop(); }

void ReplicaDiscovery::start(std::shared_ptr<void> keep_alive) {
  if (targets_.empty()) return;
  thread_ = std::thread([this, keep_alive = std::move(keep_alive)] { loop(); });
}

void ReplicaDiscovery::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void ReplicaDiscovery::detach() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.detach();
}

void ReplicaDiscovery::refresh() {
  {
    std::lock_guard lock(mu_);
    refresh_ = true;
  }
  cv_.notify_all();
}

void ReplicaDiscovery::resolve_once() {
  for (const auto& target : targets_) {
    Result<std::vector<std::string>> endpoints = unavailable("resolver threw");
    try {
      endpoints = resolver_(target);
    } catch (...) {
    }
    if (endpoints.ok()) {
      on_resolved_(target, std::move(*endpoints));
    } else {
      // Keep the replicas we have: a DNS hiccup must not empty the set.
      PARLEY_LOG_EVERY_MS(kWarn, 10'000) << "client " << client_name_ << ": cannot resolve " << target << ": "
                                         << endpoints.status().to_string();
    }
  }
}

void ReplicaDiscovery::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    refresh_ = false;
    lock.unlock();
    resolve_once();
    lock.lock();
    cv_.wait_for(lock, interval_, [&] { return stop_ || refresh_; });
  }
}

}  // namespace parley::transport::detail
