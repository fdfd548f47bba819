// ReplicaFanout (see replica_fanout.h): per-replica direct clients, a catalog replayed on
// newcomers, and the synced set the shared client routes by.
#include "services/dialog/engine/replica_fanout.h"

#include <algorithm>
#include <future>

#include "shared/common/log.h"

namespace parley::dialog {

ReplicaFanout::ReplicaFanout(ReplicaFanoutOptions options) : options_(std::move(options)) {}

ReplicaFanout::~ReplicaFanout() { stop(); }

void ReplicaFanout::attach(transport::Client* shared) {
  shared_ = shared;
  watcher_ = std::thread([this] { watch(); });
}

void ReplicaFanout::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  std::map<std::string, std::shared_ptr<transport::Client>> clients;
  {
    std::lock_guard lock(clients_mu_);
    clients.swap(clients_);
  }
}

bool ReplicaFanout::stopping() const {
  std::lock_guard lock(stop_mu_);
  return stopping_;
}

bool ReplicaFanout::synced(const std::string& endpoint) const {
  std::lock_guard lock(mu_);
  return synced_.count(endpoint) > 0;
}

std::vector<std::string> ReplicaFanout::live_endpoints() const {
  std::vector<std::string> out;
  if (shared_ == nullptr) return out;
  for (const auto& r : shared_->replicas()) {
    if (r.live && !r.retired) out.push_back(r.endpoint);
  }
  return out;
}

std::shared_ptr<transport::Client> ReplicaFanout::direct(const std::string& endpoint) {
  std::lock_guard lock(clients_mu_);
  auto it = clients_.find(endpoint);
  if (it != clients_.end()) return it->second;
  transport::ClientOptions co;
  co.targets = {endpoint};
  co.name = options_.name + "@" + endpoint;
  co.curve = options_.curve;
  auto c = transport::Client::create(co);
  if (!c.ok()) {
    PARLEY_LOG(kWarn) << options_.name << ": no client for replica " << endpoint << ": " << c.status().to_string();
    return nullptr;
  }
  return clients_.emplace(endpoint, std::shared_ptr<transport::Client>(std::move(*c))).first->second;
}

std::vector<Result<transport::Envelope>> ReplicaFanout::send_all(const std::vector<std::string>& endpoints,
                                                                 const transport::Envelope& request,
                                                                 std::chrono::milliseconds timeout) {
  std::vector<std::future<Result<transport::Envelope>>> futures;
  std::vector<std::shared_ptr<transport::Client>> held;  // alive until every reply is in
  if (stopping()) {
    std::vector<Result<transport::Envelope>> out;
    for (std::size_t i = 0; i < endpoints.size(); ++i) out.push_back(cancelled(options_.name + ": shutting down"));
    return out;
  }
  for (const auto& ep : endpoints) {
    auto promise = std::make_shared<std::promise<Result<transport::Envelope>>>();
    futures.push_back(promise->get_future());
    auto c = direct(ep);
    held.push_back(c);
    if (c == nullptr) {
      promise->set_value(unavailable("no client for replica " + ep));
      continue;
    }
    c->call(request, transport::CallOptions{.timeout = timeout, .idempotent = true},
            [promise](Result<transport::Envelope> r) { promise->set_value(std::move(r)); });
  }
  // Waited in slices so stop() ends the wait: a replica that died mid-call would otherwise hold
  // the caller (the bot sync thread, which shutdown joins) until the deadline. A reply that
  // arrives later lands in its promise, which the callback owns.
  std::vector<Result<transport::Envelope>> out;
  for (auto& f : futures) {
    while (f.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready && !stopping()) {
    }
    if (f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      out.push_back(f.get());
    } else {
      out.push_back(cancelled(options_.name + ": shutting down"));
    }
  }
  return out;
}

void ReplicaFanout::refresh_locked(const std::string& endpoint) {
  auto h = have_.find(endpoint);
  bool all = h != have_.end();
  for (auto it = catalog_.begin(); all && it != catalog_.end(); ++it) {
    all = !it->second.counted || h->second.count(it->first) > 0;
  }
  if (all) {
    synced_.insert(endpoint);
  } else {
    synced_.erase(endpoint);
  }
}

void ReplicaFanout::delivered(const std::string& endpoint, const std::string& key, std::uint64_t version) {
  std::lock_guard lock(mu_);
  // (A replica the watcher has not seen yet is added here; one that left is removed at its next poll.)
  have_[endpoint][key] = version;
  auto e = catalog_.find(key);
  if (e != catalog_.end() && e->second.version == version && !e->second.counted) {
    e->second.counted = true;
    for (const auto& [ep, _] : have_) refresh_locked(ep);  // the others now lack it
  } else {
    refresh_locked(endpoint);
  }
}

Result<transport::Envelope> ReplicaFanout::put(const std::string& key, const transport::Envelope& request,
                                               std::chrono::milliseconds timeout) {
  std::uint64_t version = 0;
  {
    std::lock_guard lock(mu_);
    version = next_version_++;
    auto it = catalog_.find(key);
    // A replaced entry stays counted: replicas holding the older version keep serving it.
    const bool counted = it != catalog_.end() && it->second.counted;
    catalog_[key] = Entry{request, version, counted};
  }
  auto endpoints = live_endpoints();
  if (endpoints.empty() && shared_ != nullptr && shared_->wait_for_live(1, std::min(timeout, options_.wait_for_replica))) {
    endpoints = live_endpoints();
  }
  if (endpoints.empty()) {
    return unavailable(options_.name + ": no live replica (" + std::to_string(shared_ ? shared_->replicas().size() : 0) +
                       " known); each one gets '" + key + "' when it comes up");
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& ep : endpoints) pending_[ep][key] = version;
  }
  auto results = send_all(endpoints, request, timeout);
  {
    std::lock_guard lock(mu_);
    for (const auto& ep : endpoints) {
      auto p = pending_.find(ep);
      if (p == pending_.end()) continue;
      auto v = p->second.find(key);
      if (v != p->second.end() && v->second == version) p->second.erase(v);
      if (p->second.empty()) pending_.erase(p);
    }
  }
  std::optional<transport::Envelope> first;
  std::string errors;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (results[i].ok()) {
      delivered(endpoints[i], key, version);
      if (!first) first = std::move(*results[i]);
      continue;
    }
    // That replica stays out of sync; the watcher sends it what it lacks.
    errors += (errors.empty() ? "" : "; ") + endpoints[i] + ": " + results[i].status().to_string();
  }
  if (!errors.empty()) {
    return Status(results.front().ok() ? StatusCode::kUnavailable : results.front().status().code(),
                  options_.name + " replicas failed: " + errors);
  }
  return std::move(*first);
}

Status ReplicaFanout::drop(const std::string& key, const transport::Envelope& request, std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    catalog_.erase(key);
    for (auto& [ep, have] : have_) {
      have.erase(key);
      refresh_locked(ep);
    }
  }
  const auto endpoints = live_endpoints();
  auto results = send_all(endpoints, request, timeout);
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (!results[i].ok() && results[i].status().code() != StatusCode::kNotFound) {
      return results[i].status().with_context(options_.name + " replica " + endpoints[i]);
    }
  }
  return Status::ok();
}

void ReplicaFanout::ask_each(const transport::Envelope& request, std::chrono::steady_clock::time_point deadline,
                             std::function<void(std::vector<ReplicaReply>)> done) {
  auto endpoints = live_endpoints();
  std::sort(endpoints.begin(), endpoints.end());
  if (endpoints.empty()) return done({});
  // Each reply lands in its slot; the last one in hands them all to `done`. The clients are not
  // held by the callbacks (a callback owning the last reference would destroy its client on the
  // client's own I/O thread): clients_ keeps them, and a client destroyed with a call open ends
  // it with CANCELLED, so `done` always runs.
  struct Gather {
    std::mutex mu;
    std::vector<ReplicaReply> replies;
    std::size_t left = 0;
    std::function<void(std::vector<ReplicaReply>)> done;
  };
  auto g = std::make_shared<Gather>();
  for (const auto& ep : endpoints) g->replies.push_back(ReplicaReply{ep, unavailable("not asked")});
  g->left = endpoints.size();
  g->done = std::move(done);
  auto land = [g](std::size_t i, Result<transport::Envelope> r) {
    std::function<void(std::vector<ReplicaReply>)> finish;
    {
      std::lock_guard lock(g->mu);
      g->replies[i].reply = std::move(r);
      if (--g->left == 0) finish = std::move(g->done);
    }
    if (finish) finish(std::move(g->replies));
  };
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    auto c = stopping() ? nullptr : direct(endpoints[i]);
    if (c == nullptr) {
      land(i, stopping() ? cancelled(options_.name + ": shutting down") : unavailable("no client for replica " + endpoints[i]));
      continue;
    }
    c->call(request, transport::CallOptions{.timeout = {}, .deadline = deadline, .idempotent = true},
            [land, i](Result<transport::Envelope> r) { land(i, std::move(r)); });
  }
}

void ReplicaFanout::replay(const std::string& endpoint) {
  // What this replica lacks (entries it never took, or took at an older version).
  std::vector<std::pair<std::string, Entry>> missing;
  {
    std::lock_guard lock(mu_);
    const auto& have = have_[endpoint];
    const auto pend = pending_.find(endpoint);
    for (const auto& [key, entry] : catalog_) {
      auto v = have.find(key);
      const bool on_its_way = pend != pending_.end() && pend->second.count(key) > 0 && pend->second.at(key) == entry.version;
      if ((v == have.end() || v->second != entry.version) && !on_its_way) missing.emplace_back(key, entry);
    }
  }
  for (const auto& [key, entry] : missing) {
    auto r = send_all({endpoint}, entry.request, options_.replay_timeout).front();
    if (!r.ok()) {
      replay_failures_.fetch_add(1);
      PARLEY_LOG_EVERY_MS(kWarn, 1000) << options_.name << ": replica " << endpoint << " did not take '" << key
                                       << "' (retrying): " << r.status().to_string();
      return;
    }
    delivered(endpoint, key, entry.version);
  }
  if (synced(endpoint)) {
    replays_.fetch_add(1);
    PARLEY_LOG(kInfo).kv("replica", endpoint).kv("entries", missing.size()) << options_.name << ": replica in sync";
  }
}

void ReplicaFanout::watch() {
  while (true) {
    {
      std::unique_lock lock(stop_mu_);
      if (stop_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; })) return;
    }
    const auto live = live_endpoints();
    const std::set<std::string> live_set(live.begin(), live.end());
    std::vector<std::string> behind;
    {
      std::lock_guard lock(mu_);
      // A replica that died or left forgets what it held: when it is back it may have lost it.
      for (auto it = have_.begin(); it != have_.end();) {
        if (live_set.count(it->first)) {
          ++it;
        } else {
          synced_.erase(it->first);
          it = have_.erase(it);
        }
      }
      for (const auto& ep : live) {
        if (have_.emplace(ep, std::map<std::string, std::uint64_t>{}).second) refresh_locked(ep);
        // Behind: lacks an entry, counted or not (one no replica took yet still gets replayed).
        const auto& have = have_[ep];
        const auto pend = pending_.find(ep);
        bool lacks = false;
        for (auto it = catalog_.begin(); !lacks && it != catalog_.end(); ++it) {
          auto v = have.find(it->first);
          const bool on_its_way = pend != pending_.end() && pend->second.count(it->first) > 0 &&
                                  pend->second.at(it->first) == it->second.version;
          lacks = (v == have.end() || v->second != it->second.version) && !on_its_way;
        }
        if (lacks) behind.push_back(ep);
      }
    }
    {
      std::vector<std::shared_ptr<transport::Client>> gone;  // closed outside the lock
      std::lock_guard lock(clients_mu_);
      for (auto it = clients_.begin(); it != clients_.end();) {
        if (live_set.count(it->first)) {
          ++it;
        } else {
          gone.push_back(std::move(it->second));
          it = clients_.erase(it);
        }
      }
    }
    for (const auto& ep : behind) {
      {
        std::lock_guard lock(stop_mu_);
        if (stopping_) return;
      }
      replay(ep);
    }
  }
}

}  // namespace parley::dialog
