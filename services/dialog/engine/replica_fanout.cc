// ReplicaFanout (see replica_fanout.h): per-replica direct clients, a catalog replayed on
// newcomers, and the synced set the shared client routes by.
#include "services/dialog/engine/replica_fanout.h"

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
  std::vector<Result<transport::Envelope>> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

Result<transport::Envelope> ReplicaFanout::put(const std::string& key, const transport::Envelope& request,
                                               std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    catalog_[key] = request;
    ++generation_;
  }
  const auto endpoints = live_endpoints();
  if (endpoints.empty()) {
    return unavailable(options_.name + ": no live replica (" + std::to_string(shared_ ? shared_->replicas().size() : 0) +
                       " known); each one gets '" + key + "' when it comes up");
  }
  auto results = send_all(endpoints, request, timeout);
  std::optional<transport::Envelope> first;
  std::string errors;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (results[i].ok()) {
      if (!first) first = std::move(*results[i]);
      continue;
    }
    errors += (errors.empty() ? "" : "; ") + endpoints[i] + ": " + results[i].status().to_string();
    std::lock_guard lock(mu_);
    synced_.erase(endpoints[i]);  // it gets the whole catalog again before it takes turns
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
    ++generation_;
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

void ReplicaFanout::replay(const std::string& endpoint) {
  std::map<std::string, transport::Envelope> catalog;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    catalog = catalog_;
    generation = generation_;
  }
  for (const auto& [key, request] : catalog) {
    auto r = send_all({endpoint}, request, options_.replay_timeout).front();
    if (!r.ok()) {
      replay_failures_.fetch_add(1);
      PARLEY_LOG_EVERY_MS(kWarn, 1000) << options_.name << ": replica " << endpoint << " did not take '" << key
                                       << "' (retrying): " << r.status().to_string();
      return;
    }
  }
  std::lock_guard lock(mu_);
  // A put/drop during the replay may have missed this replica: replay again at the next poll.
  if (generation != generation_) return;
  synced_.insert(endpoint);
  replays_.fetch_add(1);
  PARLEY_LOG(kInfo).kv("replica", endpoint).kv("entries", catalog.size()) << options_.name << ": replica in sync";
}

void ReplicaFanout::watch() {
  while (true) {
    {
      std::unique_lock lock(stop_mu_);
      if (stop_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; })) return;
    }
    const auto live = live_endpoints();
    const std::set<std::string> live_set(live.begin(), live.end());
    std::vector<std::string> newcomers;
    {
      std::lock_guard lock(mu_);
      // A replica that died or left loses its place: when it is back it may have lost its state.
      for (auto it = synced_.begin(); it != synced_.end();) {
        it = live_set.count(*it) ? std::next(it) : synced_.erase(it);
      }
      for (const auto& ep : live) {
        if (!synced_.count(ep)) newcomers.push_back(ep);
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
    for (const auto& ep : newcomers) {
      {
        std::lock_guard lock(stop_mu_);
        if (stopping_) return;
      }
      replay(ep);
    }
  }
}

}  // namespace parley::dialog
