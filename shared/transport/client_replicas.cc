// Client replicas: one DEALER (+ monitor) per endpoint, liveness from pings/pongs and socket
// events, least-loaded bookkeeping from load reports, and DNS re-resolution.
// Depends on client_core.h, libzmq, shared/common.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <set>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/transport/client_core.h"

namespace parley::transport::detail {
namespace {

constexpr int kMaxReadBatch = 1024;
constexpr int kMonitorEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

/// Z85 keys go to libzmq with their terminating NUL (the 41-byte form it documents).
std::string_view z85_option(const std::string& key) { return std::string_view(key.c_str(), key.size() + 1); }

}  // namespace

std::string ClientCore::describe(const Replica& r) const {
  if (r.name.empty() || r.name == r.endpoint) return r.endpoint;
  return r.endpoint + " (" + r.name + ")";
}

std::string ClientCore::replica_summary() const {
  int known = 0, live = 0, draining = 0;
  for (const auto& r : replicas_) {
    if (r->retired) continue;
    ++known;
    if (r->live && r->load.draining) ++draining;
    else if (r->live) ++live;
  }
  return std::to_string(known) + " replicas known: " + std::to_string(live) + " live, " + std::to_string(draining) +
         " draining";
}

Status ClientCore::add_replica(const std::string& endpoint, const std::string& target) {
  for (auto& existing : replicas_) {
    if (existing->endpoint == endpoint) {
      if (existing->retired) {
        existing->retired = false;
        existing->target = target;
        PARLEY_LOG(kInfo) << "client " << options_.name << ": replica back" << " endpoint=" << endpoint;
        publish_gauges();
      }
      return Status::ok();
    }
  }
  void* ctx = options_.zmq_context ? options_.zmq_context : shared_context();
  auto r = std::make_unique<Replica>();
  r->serial = next_serial_++;
  r->endpoint = endpoint;
  r->target = target;
  r->socket = zmq_socket(ctx, ZMQ_DEALER);
  if (r->socket == nullptr) return internal_error("zmq_socket(DEALER): " + zmq_error_text(errno));
  Status s = set_int(r->socket, ZMQ_LINGER, 0, "ZMQ_LINGER");
  // Queue nothing for a replica that is not connected: we only send to live ones, and stale
  // requests must not pile up behind a dead link.
  if (s.is_ok()) s = set_int(r->socket, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
  if (s.is_ok()) s = set_int(r->socket, ZMQ_SNDHWM, options_.send_hwm, "ZMQ_SNDHWM");
  if (s.is_ok()) s = set_int(r->socket, ZMQ_RCVHWM, options_.recv_hwm, "ZMQ_RCVHWM");
  if (s.is_ok()) s = set_int64(r->socket, ZMQ_MAXMSGSIZE, options_.max_message_bytes, "ZMQ_MAXMSGSIZE");
  if (s.is_ok()) {
    s = set_int(r->socket, ZMQ_RECONNECT_IVL, static_cast<int>(options_.reconnect_interval.count()),
                "ZMQ_RECONNECT_IVL");
  }
  if (s.is_ok()) {
    s = set_int(r->socket, ZMQ_RECONNECT_IVL_MAX, static_cast<int>(options_.reconnect_interval_max.count()),
                "ZMQ_RECONNECT_IVL_MAX");
  }
  if (s.is_ok()) {
    s = apply_heartbeat(r->socket, Heartbeat{options_.heartbeat_interval, options_.heartbeat_timeout,
                                             options_.heartbeat_ttl});
  }
  if (s.is_ok() && endpoint_is_ipv6(endpoint)) s = set_int(r->socket, ZMQ_IPV6, 1, "ZMQ_IPV6");
  if (s.is_ok() && options_.curve) {
    s = set_bytes(r->socket, ZMQ_CURVE_SERVERKEY, z85_option(options_.curve->server_public_key), "ZMQ_CURVE_SERVERKEY");
    if (s.is_ok()) {
      s = set_bytes(r->socket, ZMQ_CURVE_PUBLICKEY, z85_option(curve_client_keys_.public_key), "ZMQ_CURVE_PUBLICKEY");
    }
    if (s.is_ok()) {
      s = set_bytes(r->socket, ZMQ_CURVE_SECRETKEY, z85_option(curve_client_keys_.secret_key), "ZMQ_CURVE_SECRETKEY");
    }
  }
  if (s.is_ok()) {
    // Process-wide numbering: libzmq unbinds a closed monitor's inproc name asynchronously, so
    // names are never reused (a new client at a recycled address would collide).
    static std::atomic<unsigned long long> monitor_counter{0};
    char name[64];
    std::snprintf(name, sizeof(name), "inproc://parley-client-monitor-%llu", monitor_counter.fetch_add(1));
    if (zmq_socket_monitor(r->socket, name, kMonitorEvents) != 0) {
      s = internal_error("zmq_socket_monitor: " + zmq_error_text(errno));
    } else {
      r->monitor = zmq_socket(ctx, ZMQ_PAIR);
      if (r->monitor == nullptr || zmq_connect(r->monitor, name) != 0) {
        s = internal_error("monitor socket: " + zmq_error_text(errno));
      }
    }
  }
  if (s.is_ok() && zmq_connect(r->socket, endpoint.c_str()) != 0) {
    s = invalid_argument("connect " + endpoint + ": " + zmq_error_text(errno));
  }
  if (s.is_ok()) {
    r->socket_fd = socket_fd(r->socket);
    r->monitor_fd = socket_fd(r->monitor);
    if (r->socket_fd < 0 || r->monitor_fd < 0) s = internal_error("ZMQ_FD: " + zmq_error_text(errno));
  }
  if (!s.is_ok()) {
    close_replica(*r);
    return s.with_context("client " + options_.name);
  }
  PARLEY_LOG(kDebug) << "client " << options_.name << ": replica added" << " endpoint=" << endpoint
                     << " target=" << target;
  replicas_.push_back(std::move(r));
  poll_dirty_ = true;
  publish_gauges();
  return Status::ok();
}

void ClientCore::close_replica(Replica& r) {
  if (r.socket != nullptr && r.monitor != nullptr) zmq_socket_monitor(r.socket, nullptr, 0);
  close_socket(r.monitor);
  close_socket(r.socket);
  r.monitor = nullptr;
  r.socket = nullptr;
}

void ClientCore::read_replica(Replica& r, Clock::time_point now) {
  for (int n = 0; n < kMaxReadBatch; ++n) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, r.socket, ZMQ_DONTWAIT) < 0) {
      int err = errno;
      zmq_msg_close(&msg);
      if (err == EINTR) continue;
      r.dirty = false;  // drained: ZMQ_FD will signal the next arrival
      return;
    }
    bool more = zmq_msg_more(&msg) != 0;
    bool multipart = more;
    while (more) {  // a server of ours sends one frame; drop anything else whole
      zmq_msg_t part;
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, r.socket, 0) < 0) {
        zmq_msg_close(&part);
        break;
      }
      more = zmq_msg_more(&part) != 0;
      zmq_msg_close(&part);
    }
    Envelope env;
    bool parsed = false;
    if (!multipart && zmq_msg_size(&msg) <= static_cast<std::size_t>(INT32_MAX)) {
      try {
        parsed = env.ParseFromArray(zmq_msg_data(&msg), static_cast<int>(zmq_msg_size(&msg)));
      } catch (...) {  // allocation failure only
        parsed = false;
      }
    }
    zmq_msg_close(&msg);
    if (!parsed) {
      stats_.malformed_replies.fetch_add(1, std::memory_order_relaxed);
      PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": malformed message from replica "
                                       << describe(r) << " dropped";
      continue;
    }
    on_envelope(r, std::move(env), now);
  }
}

void ClientCore::on_envelope(Replica& r, Envelope&& env, Clock::time_point now) {
  r.last_heard = now;
  if (env.has_load()) r.load = load_of(env);
  if (!env.replica().empty() && r.name != env.replica()) r.name = env.replica();
  if (!r.live) mark_live(r, now);
  switch (static_cast<int>(env.kind())) {
    case v1::PONG:
      stats_.pongs.fetch_add(1, std::memory_order_relaxed);
      return;
    case v1::REPLY:
      on_reply(r, std::move(env), now);
      return;
    default:
      stats_.malformed_replies.fetch_add(1, std::memory_order_relaxed);
      PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": unexpected " << kind_name(env.kind())
                                       << " from replica " << describe(r) << " dropped";
      return;
  }
}

void ClientCore::read_monitor(Replica& r, Clock::time_point now) {
  r.monitor_dirty = false;
  MonitorEvent ev;
  while (r.monitor != nullptr && read_monitor_event(r.monitor, &ev)) {
    switch (ev.event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        send_ping(r);  // live on the pong, without waiting for the next ping tick
        break;
      case ZMQ_EVENT_DISCONNECTED:
        // The link is gone, and with it every reply still owed on it (a new connection gets a
        // new routing id): no point waiting for dead_after.
        mark_dead(r, "disconnected", now);
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
        stats_.handshake_failures.fetch_add(1, std::memory_order_relaxed);
        PARLEY_LOG_EVERY_MS(kWarn, 5000) << "client " << options_.name << ": handshake with replica "
                                         << describe(r) << " failed (event " << ev.event << ", value " << ev.value
                                         << "): wrong CURVE keys or not a Parley server?";
        break;
      }
      default:
        break;
    }
  }
}

void ClientCore::mark_live(Replica& r, Clock::time_point now) {
  if (r.live) return;
  r.live = true;
  PARLEY_LOG(kInfo) << "client " << options_.name << ": replica live" << " endpoint=" << r.endpoint
                    << " replica=" << r.name;
  publish_gauges();
  dispatch_waiting(now);
}

void ClientCore::mark_dead(Replica& r, const std::string& reason, Clock::time_point now) {
  if (!r.live) return;
  r.live = false;
  stats_.replica_deaths.fetch_add(1, std::memory_order_relaxed);
  PARLEY_LOG(kWarn) << "client " << options_.name << ": replica dead: " << reason << " endpoint=" << r.endpoint
                    << " replica=" << r.name << " in_flight=" << r.in_flight;
  publish_gauges();
  std::vector<PendingCall*> affected;
  for (auto& [id, c] : calls_) {
    if (c.replica == &r) affected.push_back(&c);
  }
  for (PendingCall* c : affected) {
    // If the replica is only hung, it should not work on for nobody once it recovers.
    std::string why = "replica " + describe(r) + " died (" + reason + ")";
    send_cancel(r, c->token->correlation_id, cancelled(why));
    release(*c);
    retry_or_fail(*c, why, now);
  }
}

void ClientCore::send_ping(Replica& r) {
  r.dirty = true;
  if (send_copy(r.socket, ping_bytes_, ZMQ_DONTWAIT) == 0) {
    stats_.pings_sent.fetch_add(1, std::memory_order_relaxed);
  }
  // EAGAIN: not connected (ZMQ_IMMEDIATE) or the queue is full; liveness will tell.
}

void ClientCore::ping_tick(Clock::time_point now) {
  for (auto& r : replicas_) {
    if (r->live && now - r->last_heard > options_.dead_after) {
      auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - r->last_heard).count();
      mark_dead(*r, "nothing received for " + std::to_string(silent) + " ms", now);
    }
    send_ping(*r);
  }
  next_ping_ = now + options_.ping_interval;
  dispatch_waiting(now);
}

void ClientCore::probe_tick(Clock::time_point now) {
  // The ping sent on HANDSHAKE_SUCCEEDED can race libzmq attaching the new pipe (EAGAIN under
  // ZMQ_IMMEDIATE); probing bounds how long a replica that is up stays unused.
  for (auto& r : replicas_) {
    if (!r->live) send_ping(*r);
  }
  next_probe_ = now + options_.probe_interval;
  // A call parks when every send was refused (a replica still believed live is reconnecting, or
  // its queue is full): try again each tick rather than only when a replica turns live.
  dispatch_waiting(now);
}

void ClientCore::handle(TargetsResolved& t, Clock::time_point /*now*/) {
  std::set<std::string> wanted(t.endpoints.begin(), t.endpoints.end());
  for (auto& r : replicas_) {
    if (r->target != t.target || r->retired || wanted.count(r->endpoint) != 0) continue;
    r->retired = true;
    PARLEY_LOG(kInfo) << "client " << options_.name << ": replica retired (gone from " << t.target << ")"
                      << " endpoint=" << r->endpoint << " in_flight=" << r->in_flight;
    if (r->in_flight == 0) retired_dirty_ = true;
  }
  for (const auto& endpoint : wanted) {
    Status s = add_replica(endpoint, t.target);
    if (!s.is_ok()) {
      PARLEY_LOG_EVERY_MS(kWarn, 5000) << "client " << options_.name << ": cannot add replica: " << s.to_string();
    }
  }
  publish_gauges();
}

void ClientCore::remove_retired() {
  retired_dirty_ = false;
  auto gone = [](const std::unique_ptr<Replica>& r) { return r->retired && r->in_flight == 0; };
  for (auto& r : replicas_) {
    if (gone(r)) close_replica(*r);
  }
  auto end = std::remove_if(replicas_.begin(), replicas_.end(), gone);
  if (end != replicas_.end()) {
    replicas_.erase(end, replicas_.end());
    rebuild_poll_items();  // poll_replicas_ must not keep pointers to what was just freed
  }
  publish_gauges();
}

void ClientCore::publish_gauges() {
  std::uint32_t live = 0;
  std::uint32_t total = 0;
  for (auto& r : replicas_) {
    if (r->retired) continue;
    ++total;
    if (r->live) ++live;
  }
  stats_.replicas_total.store(total);
  {
    std::lock_guard lock(live_mu_);
    stats_.replicas_live.store(live);
  }
  live_cv_.notify_all();
}

std::vector<ReplicaInfo> ClientCore::snapshot() const {
  std::vector<ReplicaInfo> out;
  out.reserve(replicas_.size());
  for (const auto& r : replicas_) {
    out.push_back(ReplicaInfo{r->endpoint, r->target, r->name, r->live, r->retired, r->load, r->in_flight,
                              r->calls_sent});
  }
  return out;
}

void ClientCore::resolver_loop() {
  std::unique_lock lock(resolve_mu_);
  while (!resolver_stop_) {
    refresh_requested_ = false;
    lock.unlock();
    for (const auto& target : dns_targets_) {
      Result<std::vector<std::string>> endpoints = unavailable("resolver threw");
      try {
        endpoints = options_.resolver(target);
      } catch (...) {
      }
      if (endpoints.ok()) {
        post(TargetsResolved{target, std::move(*endpoints)});
      } else {
        // Keep the replicas we have: a DNS hiccup must not empty the set.
        PARLEY_LOG_EVERY_MS(kWarn, 10'000) << "client " << options_.name << ": cannot resolve " << target << ": "
                                           << endpoints.status().to_string();
      }
    }
    lock.lock();
    resolve_cv_.wait_for(lock, options_.resolve_interval, [&] { return resolver_stop_ || refresh_requested_; });
  }
}

}  // namespace parley::transport::detail
