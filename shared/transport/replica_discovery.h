// Private to the transport: which replicas a client should have for its dns:// targets — the
// periodic re-resolution (a thread of its own, getaddrinfo blocks) and how a resolution changes
// the replica set. Exists so discovery is one unit, apart from the call lifecycle, with the
// reconciliation testable as a pure function. Depends on replica.h, resolver.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "shared/transport/replica.h"
#include "shared/transport/resolver.h"

namespace parley::transport::detail {

/// How the replica set changes when `target` resolves to a set of endpoints.
struct Reconciliation {
  /// Endpoints to add: unknown ones, and known ones that were retired (they come back).
  std::vector<std::string> add;
  /// Replicas of `target` that are no longer among its endpoints: retire them (no new calls,
  /// closed once their calls are done).
  std::vector<Replica*> retire;
};
/// Pure: compares `endpoints` (what `target` resolves to now) with `replicas`. An endpoint known
/// under another target is left alone (one replica per endpoint).
Reconciliation reconcile(std::span<const std::unique_ptr<Replica>> replicas, const std::string& target,
                         const std::vector<std::string>& endpoints);

/// Re-resolves dns:// targets every `interval` (and at once on refresh()) on a thread of its own
/// and reports each successful resolution. A failed one is logged and reported nowhere: the
/// client keeps the replicas it knows (a DNS hiccup must not empty the set).
///
///   ReplicaDiscovery d(name, {"dns://nlu-headless:7101"}, resolver, 5s,
///                      [core](std::string target, std::vector<std::string> eps) { core->post(...); });
///   d.start(keep_alive);   // ...  d.refresh();  ...  d.stop();
///
/// Threading: start/stop/refresh from any thread; `on_resolved` runs on the discovery thread.
class ReplicaDiscovery {
 public:
  using OnResolved = std::function<void(std::string target, std::vector<std::string> endpoints)>;

  ReplicaDiscovery(std::string client_name, std::vector<std::string> dns_targets, Resolver resolver,
                   std::chrono::milliseconds interval, OnResolved on_resolved);
  ~ReplicaDiscovery();
  ReplicaDiscovery(const ReplicaDiscovery&) = delete;
  ReplicaDiscovery& operator=(const ReplicaDiscovery&) = delete;

  bool has_targets() const { return !targets_.empty(); }
  /// Starts the thread (no-op without targets). `keep_alive` is held by the thread: whatever owns
  /// this object stays alive while it runs (detach()).
  void start(std::shared_ptr<void> keep_alive);
  /// Stops and joins the thread.
  void stop();
  /// Stops the thread without waiting (it ends after its current resolution).
  void detach();
  /// Resolves again now instead of at the next interval.
  void refresh();
  /// One pass over every target (what the thread does each interval; tests call it directly).
  void resolve_once();

 private:
  void loop();

  const std::string client_name_;
  const std::vector<std::string> targets_;
  const Resolver resolver_;
  const std::chrono::milliseconds interval_;
  const OnResolved on_resolved_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;       // guarded by mu_
  bool refresh_ = false;    // guarded by mu_
};

}  // namespace parley::transport::detail
