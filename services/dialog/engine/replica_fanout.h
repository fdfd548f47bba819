// Keeps every replica of a stateful service holding the same per-bot state: NLU replicas each
// need every bot's trained model, QA replicas every knowledge base. Calls that set state (Train,
// Ingest) go to every live replica, are kept in a catalog, and are replayed on a replica that
// appears (scale-out, a rolling update, a restarted pod); until a replica has the whole catalog
// the shared client's routing keeps turns off it (ClientOptions::replica_filter).
// Depends on shared/transport.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shared/transport/client.h"

namespace parley::dialog {

struct ReplicaFanoutOptions {
  /// For logs and errors ("nlu").
  std::string name = "service";
  /// CURVE for the per-replica clients (the same as the shared client's).
  std::optional<transport::CurveClientOptions> curve;
  /// Deadline of one replayed call on a new replica.
  std::chrono::milliseconds replay_timeout{60'000};
  /// put() with no live replica waits this long for one (like the shared client's
  /// max_wait_for_replica) before answering UNAVAILABLE.
  std::chrono::milliseconds wait_for_replica{300};
  /// How often the replica set is checked for newcomers.
  std::chrono::milliseconds poll_interval{200};
};

/// One per stateful service. The shared client (the one turns use) is created with
/// `replica_filter = [f](auto& ep) { return f->synced(ep); }` and then attached.
///
///   auto f = std::make_shared<ReplicaFanout>(ReplicaFanoutOptions{.name = "nlu"});
///   co.replica_filter = [f](const std::string& ep) { return f->synced(ep); };
///   auto client = transport::Client::create(co);
///   f->attach(client->get());                       // starts the watcher thread
///   auto r = f->put("demo", train_envelope, 60s);   // every live replica, and every later one
///   f->stop();                                      // before the client goes
///
/// Threading: every method is thread-safe; put()/drop() block (never from an actor handler).
class ReplicaFanout {
 public:
  explicit ReplicaFanout(ReplicaFanoutOptions options);
  ~ReplicaFanout();
  ReplicaFanout(const ReplicaFanout&) = delete;
  ReplicaFanout& operator=(const ReplicaFanout&) = delete;

  /// Starts watching `shared`'s replicas (it must outlive stop()).
  void attach(transport::Client* shared);
  /// Stops the watcher; put()/drop() in flight return CANCELLED at once (their replies are
  /// dropped), and later ones do too. Idempotent.
  void stop();

  /// True when the replica at `endpoint` has every catalog entry (cheap; the client's I/O thread
  /// calls it at each pick).
  bool synced(const std::string& endpoint) const;

  /// Records `request` under `key` (replacing the previous one) and sends it to every live
  /// replica in parallel. Returns the first reply when every live replica answered OK;
  /// UNAVAILABLE when there is none (new replicas still get it from the catalog); otherwise the
  /// failures, by replica (those replicas get the whole catalog again before they take turns).
  Result<transport::Envelope> put(const std::string& key, const transport::Envelope& request,
                                  std::chrono::milliseconds timeout);
  /// Forgets `key` and sends `request` (DropBot, DropKnowledgeBase) to every live replica;
  /// NOT_FOUND from a replica counts as done.
  Status drop(const std::string& key, const transport::Envelope& request, std::chrono::milliseconds timeout);

  /// One replica's answer to ask_each.
  struct ReplicaReply {
    std::string endpoint;
    Result<transport::Envelope> reply;
  };
  /// Sends `request` (a question, e.g. TrainingStatus: not recorded in the catalog) to every live
  /// replica at once, without blocking; `done` runs once, on any thread, with one reply per
  /// replica in endpoint order when each has answered or failed (by `deadline`). No live replica:
  /// `done({})` at once.
  void ask_each(const transport::Envelope& request, std::chrono::steady_clock::time_point deadline,
                std::function<void(std::vector<ReplicaReply>)> done);

  /// Replicas that got the whole catalog replayed (newcomers), and replay calls that failed.
  std::uint64_t replays() const { return replays_.load(); }
  std::uint64_t replay_failures() const { return replay_failures_.load(); }

 private:
  std::vector<std::string> live_endpoints() const;
  std::shared_ptr<transport::Client> direct(const std::string& endpoint);
  /// Sends `request` to each endpoint at once; one result per endpoint, in order.
  std::vector<Result<transport::Envelope>> send_all(const std::vector<std::string>& endpoints,
                                                    const transport::Envelope& request,
                                                    std::chrono::milliseconds timeout);
  void watch();
  void replay(const std::string& endpoint);

  ReplicaFanoutOptions options_;
  transport::Client* shared_ = nullptr;

  struct Entry {
    transport::Envelope request;
    std::uint64_t version = 0;
    /// Some replica took it: only then may a replica without it be kept from turns (before,
    /// no replica can serve that bot's turns and every other bot's turns must keep flowing).
    bool counted = false;
  };
  /// Recomputes whether `endpoint` holds every counted catalog entry, in any version (an older
  /// version still serves while the new one is sent), with mu_ held.
  void refresh_locked(const std::string& endpoint);
  void delivered(const std::string& endpoint, const std::string& key, std::uint64_t version);

  mutable std::mutex mu_;  // catalog_, next_version_, have_, synced_
  std::map<std::string, Entry> catalog_;
  std::uint64_t next_version_ = 1;
  /// Per live replica: the version of each entry it took (what it holds).
  std::map<std::string, std::map<std::string, std::uint64_t>> have_;
  std::set<std::string> synced_;  // replicas holding the whole catalog (what the filter reads)
  /// Per replica: entries a put() is sending it right now (the watcher does not send them twice).
  std::map<std::string, std::map<std::string, std::uint64_t>> pending_;

  std::mutex clients_mu_;
  // Per-replica (direct) clients; shared: a put() in flight keeps its client if the watcher drops it.
  std::map<std::string, std::shared_ptr<transport::Client>> clients_;

  bool stopping() const;

  mutable std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread watcher_;
  std::atomic<std::uint64_t> replays_{0}, replay_failures_{0};
};

}  // namespace parley::dialog
