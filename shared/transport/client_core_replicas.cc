// The client's I/O thread, replica side: reading the DEALERs and their monitors, what liveness
// events do to calls (a replica turning live releases parked calls, one dying moves or fails its
// calls), and the replica set (added, retired, removed, gauges). The rules themselves live in
// replica_liveness/replica_discovery. Depends on client_core.h, libzmq, shared/common.
#include <zmq.h>

#include <algorithm>
#include <cerrno>

#include "shared/common/log.h"
#include "shared/transport/client_core.h"

namespace parley::transport::detail {
namespace {

constexpr int kMaxReadBatch = 1024;

}  // namespace

std::string ClientCore::replica_summary() const {
  int known = 0, live = 0, draining = 0;
  for (const auto& r : replicas_) {
    if (r->retired) continue;
    ++known;
    if (r->live() && r->load.draining) ++draining;
    else if (r->live()) ++live;
  }
  return std::to_string(known) + " replicas known: " + std::to_string(live) + " live, " + std::to_string(draining) +
         " draining";
}

Status ClientCore::add_replica(const std::string& endpoint, const std::string& target) {
  for (auto& existing : replicas_) {
    if (existing->endpoint != endpoint) continue;
    if (existing->retired) {
      existing->retired = false;
      existing->target = target;
      PARLEY_LOG(kInfo) << "client " << options_.name << ": replica back" << " endpoint=" << endpoint;
      publish_gauges();
    }
    return Status::ok();
  }
  auto r = std::make_unique<Replica>();
  r->serial = next_serial_++;
  r->endpoint = endpoint;
  r->target = target;
  PARLEY_RETURN_IF_ERROR(
      open_replica_sockets(*r, options_, curve_client_keys_).with_context("client " + options_.name));
  PARLEY_LOG(kDebug) << "client " << options_.name << ": replica added" << " endpoint=" << endpoint
                     << " target=" << target;
  replicas_.push_back(std::move(r));
  poll_dirty_ = true;
  publish_gauges();
  return Status::ok();
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
    bool batch = false;
    if (multipart) {
      stats_.malformed_replies.fetch_add(1, std::memory_order_relaxed);
      PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": multipart message from replica "
                                       << describe(r) << " dropped";
    } else {
      batch = read_message(r, zmq_msg_data(&msg), zmq_msg_size(&msg), now);
    }
    zmq_msg_close(&msg);
    // The calls a batch's callbacks just made (a pipeline refilling itself) go out before the
    // next read, as one batch per replica: a burst of batches is answered batch by batch, not
    // all at its end (which made all calls in flight travel as one convoy, each side idle while
    // the other worked). Single replies keep gathering until the socket is drained.
    if (batch && !inline_turn_ && mailbox_.has_items()) handle_commands(false, now);
  }
}

bool ClientCore::read_message(Replica& r, const void* data, std::size_t size, Clock::time_point now) {
  if (peek_kind(data, size) != v1::BATCH) {
    read_envelope(r, data, size, now);
    return false;
  }
  BatchReader reader;
  if (!reader.open(data, size) || reader.count() > BatchWriter::kMaxReceivedEntries) {
    stats_.malformed_replies.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": malformed BATCH from replica "
                                     << describe(r) << " dropped (" << reader.count() << " envelopes; at most "
                                     << BatchWriter::kMaxReceivedEntries << ")";
    return false;
  }
  stats_.batches_received.fetch_add(1, std::memory_order_relaxed);
  // An entry that is itself a BATCH is read as one envelope of an unexpected kind: counted as
  // malformed and dropped by on_envelope() (not peeked at here first: that walk cost ~2 % of a
  // pipelined call).
  for (std::string_view entry; reader.next(&entry);) read_envelope(r, entry.data(), entry.size(), now);
  return true;
}

bool ClientCore::read_view(Replica& r, const void* data, std::size_t size, Clock::time_point now) {
  ReplyFields f;
  if (!read_reply_fields(data, size, &f) || f.kind != v1::REPLY || f.status_code != 0) return false;
  const std::optional<std::uint64_t> key = ids_.parse(f.correlation_id);
  PendingCall* call = key ? calls_.find(*key) : nullptr;
  // Anything else (an unknown call, a call_sync's, another replica's) goes the ordinary way.
  if (call == nullptr || call->replica != &r || !call->on_view) return false;
  // What on_envelope() does for every envelope.
  if (f.has_load) r.load = f.load;
  if (!f.replica.empty() && r.name != f.replica) r.name.assign(f.replica);
  if (liveness_.heard(r.health, now)) became_live(r, now);
  const ReplyView view = view_of(f);
  stats_.views_in_place.fetch_add(1, std::memory_order_relaxed);
  PendingCall& c = *call;
  c.got_reply = true;
  if (f.end_of_stream) {
    complete_view(c, view);
  } else {
    std::shared_ptr<ViewCallback> callback = c.on_view;  // the call may end inside its callback
    invoke_view(*callback, view);
  }
  return true;
}

void ClientCore::read_envelope(Replica& r, const void* data, std::size_t size, Clock::time_point now) {
  if (views_open_ > 0 && !inline_turn_ && read_view(r, data, size, now)) return;
  // Parsed in place inside the Result the callback receives: each move of an Envelope on the way
  // (Result's constructor, complete()) cost a construction, a swap and a destruction.
  Result<Envelope> env{Envelope()};
  if (!parse_envelope(*env, data, size)) {
    stats_.malformed_replies.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": malformed message from replica "
                                     << describe(r) << " dropped";
    return;
  }
  on_envelope(r, std::move(env), now);
}

void ClientCore::on_envelope(Replica& r, Result<Envelope>&& received, Clock::time_point now) {
  const Envelope& env = *received;
  if (env.has_load()) r.load = load_of(env);
  if (!env.replica().empty() && r.name != env.replica()) r.name = env.replica();
  if (liveness_.heard(r.health, now)) became_live(r, now);
  switch (static_cast<int>(env.kind())) {
    case v1::PONG:
      stats_.pongs.fetch_add(1, std::memory_order_relaxed);
      return;
    case v1::REPLY:
      on_reply(r, std::move(received), now);
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
        if (liveness_.lost(r.health)) became_dead(r, "disconnected", now);
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

void ClientCore::became_live(Replica& r, Clock::time_point now) {
  PARLEY_LOG(kInfo) << "client " << options_.name << ": replica live" << " endpoint=" << r.endpoint
                    << " replica=" << r.name;
  publish_gauges();
  dispatch_waiting(now);
}

void ClientCore::became_dead(Replica& r, const std::string& reason, Clock::time_point now) {
  stats_.replica_deaths.fetch_add(1, std::memory_order_relaxed);
  PARLEY_LOG(kWarn) << "client " << options_.name << ": replica dead: " << reason << " endpoint=" << r.endpoint
                    << " replica=" << r.name << " in_flight=" << r.in_flight;
  publish_gauges();
  std::vector<PendingCall*> affected;
  for (PendingCall* c : calls_.all()) {
    if (c->replica == &r) affected.push_back(c);
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

void ClientCore::handle(TargetsResolved& t, Clock::time_point /*now*/) {
  Reconciliation change = reconcile(replicas_, t.target, t.endpoints);
  for (Replica* r : change.retire) {
    r->retired = true;
    PARLEY_LOG(kInfo) << "client " << options_.name << ": replica retired (gone from " << t.target << ")"
                      << " endpoint=" << r->endpoint << " in_flight=" << r->in_flight;
    if (r->in_flight == 0) retired_dirty_ = true;
  }
  for (const auto& endpoint : change.add) {
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
    if (gone(r)) close_replica_sockets(*r);
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
    if (r->live()) ++live;
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
    out.push_back(ReplicaInfo{r->endpoint, r->target, r->name, r->live(), r->retired, r->load, r->in_flight,
                              r->calls_sent});
  }
  return out;
}

}  // namespace parley::transport::detail
