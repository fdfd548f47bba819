// The client's I/O thread: the loop, the commands, the life of a call (dispatch, retries,
// replies, deadlines). Replica events are in client_core_replicas.cc; the liveness, picking and
// discovery rules in replica_liveness/replica_picker/replica_discovery; the public API in client.cc.
// Depends on client_core.h, libzmq, shared/common.
#include "shared/transport/client_core.h"

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/transport/envelope_codec.h"

namespace parley::transport::detail {
namespace {

constexpr int kMaxCommandBatch = 4096;

}  // namespace

ClientCore::ClientCore(ClientOptions options)
    : options_(std::move(options)),
      ids_("c"),
      liveness_(LivenessOptions{options_.ping_interval, options_.dead_after, options_.probe_interval}) {}

ClientCore::~ClientCore() {
  // stop() ran (Client's destructor) unless init() failed; sockets are closed either way.
  for (auto& r : replicas_) close_replica_sockets(*r);
}

Clock::time_point ClientCore::deadline_for(const CallOptions& options, Clock::time_point now) const {
  if (options.deadline) return *options.deadline;
  return now + (options.timeout.count() > 0 ? options.timeout : options_.default_timeout);
}

Status ClientCore::init() {
  if (options_.targets.empty()) return invalid_argument("client " + options_.name + ": no targets");
  if (options_.ping_interval.count() <= 0 || options_.dead_after.count() <= 0 ||
      options_.probe_interval.count() <= 0) {
    return invalid_argument("client " + options_.name + ": ping_interval, dead_after and probe_interval must be positive");
  }
  if (options_.curve) {
    if (!curve_available()) return failed_precondition("client: CURVE requested but libzmq lacks it");
    PARLEY_RETURN_IF_ERROR(validate_curve_key(options_.curve->server_public_key, "server CURVE public key"));
    curve_client_keys_ = options_.curve->client_keys;
    if (curve_client_keys_.secret_key.empty()) {
      PARLEY_ASSIGN_OR_RETURN(curve_client_keys_, generate_curve_keypair());
    }
    PARLEY_RETURN_IF_ERROR(validate_curve_key(curve_client_keys_.public_key, "client CURVE public key"));
    PARLEY_RETURN_IF_ERROR(validate_curve_key(curve_client_keys_.secret_key, "client CURVE secret key"));
  }
  std::vector<std::string> dns_targets;
  for (const auto& text : options_.targets) {
    PARLEY_ASSIGN_OR_RETURN(Target t, parse_target(text));
    if (t.dns) {
      dns_targets.push_back(t.text);
    } else {
      PARLEY_RETURN_IF_ERROR(add_replica(t.text, t.text));
    }
  }
  if (!dns_targets.empty() && !options_.resolver) options_.resolver = default_resolver(options_.dns_ipv6);
  // The discovery thread posts what it resolved; the I/O thread reconciles (handle(TargetsResolved)).
  discovery_ = std::make_unique<ReplicaDiscovery>(
      options_.name, std::move(dns_targets), options_.resolver, options_.resolve_interval,
      [this](std::string target, std::vector<std::string> endpoints) {
        post(TargetsResolved{std::move(target), std::move(endpoints)});
      });
  Envelope ping;
  ping.set_kind(v1::PING);
  ping.set_correlation_id("ping");
  // Tells each replica this client reads BATCH replies (proto/README.md, "Batches").
  ping.mutable_load()->set_accepts_batches(true);
  ping.SerializeToString(&ping_bytes_);
  return Status::ok();
}

void ClientCore::start() {
  auto self = shared_from_this();
  io_thread_ = std::thread([self] { self->run(); });
  if (discovery_) discovery_->start(self);
}

void ClientCore::stop() {
  if (on_io_thread()) {
    PARLEY_BUG() << "client " << options_.name << " destroyed from its own I/O thread (a reply callback)";
    // The thread cannot join itself: let both threads finish on their own (each holds the core).
    if (discovery_) discovery_->detach();
    stop_.store(true);
    if (io_thread_.joinable()) io_thread_.detach();
    return;
  }
  std::lock_guard lock(stop_mu_);
  if (discovery_) discovery_->stop();
  stop_.store(true);
  mailbox_.wake();
  if (io_thread_.joinable()) io_thread_.join();
}

void ClientCore::refresh_targets() {
  if (discovery_) discovery_->refresh();
}

bool ClientCore::wait_for_live(std::size_t live, std::chrono::milliseconds timeout) {
  std::unique_lock lock(live_mu_);
  return live_cv_.wait_for(lock, timeout, [&] { return stats_.replicas_live.load() >= live; });
}

ReplyView view_of(const Envelope& reply) {
  ReplyView v;
  v.has_payload = reply.has_payload();
  v.type_url = reply.payload().type_url();
  v.value = reply.payload().value();
  v.end_of_stream = reply.end_of_stream();
  v.sequence = reply.sequence();
  for (const auto& t : reply.timings()) v.service_time_us += t.duration_us();
  v.replica = reply.replica();
  return v;
}

ReplyView view_of(const ReplyFields& f) {
  return ReplyView{f.has_payload, f.type_url, f.value, f.end_of_stream, f.sequence, f.service_time_us, f.replica};
}

// ---------------------------------------------------------------------------------------------
// The I/O loop

void ClientCore::run() {
  mailbox_.set_owner(std::this_thread::get_id());
  std::unique_lock loop(loop_mu_);  // let go only while asleep in poll(2): see run_inline()
  Clock::time_point now = Clock::now();
  liveness_.start(now);
  bool mailbox_signaled = false;
  // poll(2) on raw descriptors (the mailbox's eventfd, every socket's ZMQ_FD): zmq_poll would add
  // a ZMQ_EVENTS round (two system calls) per socket before and after every sleep.
  while (!stop_.load(std::memory_order_relaxed)) {
    now = Clock::now();
    if (!deferred_.empty()) run_deferred();
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      if (replicas_[i]->monitor_dirty) read_monitor(*replicas_[i], now);
      if (replicas_[i]->dirty) read_replica(*replicas_[i], now);
    }
    if (mailbox_signaled || mailbox_.has_items()) {
      handle_commands(mailbox_signaled, now);
      mailbox_signaled = false;
    }
    run_timers(Clock::now());
    if (retired_dirty_) remove_retired();
    bool dirty = false;
    for (auto& r : replicas_) dirty = dirty || r->dirty || r->monitor_dirty;
    if (dirty) continue;  // sent something: drain before sleeping
    if (poll_dirty_) rebuild_poll_items();
    now = Clock::now();
    int timeout = 0;
    sleep_until_ = now;
    if (!mailbox_.has_items()) {
      sleep_until_ = next_timer(now);  // poll(2) rounds up: the loop wakes at or after it
      timeout = poll_timeout_ms(now);
    }
    loop_idle_ = true;
    loop.unlock();
    int rc = ::poll(poll_fds_.data(), poll_fds_.size(), timeout);
    loop.lock();
    loop_idle_ = false;
    if (rc < 0) {
      if (errno != EINTR) {
        PARLEY_LOG_EVERY_MS(kError, 1000) << "client " << options_.name << ": poll: " << std::strerror(errno);
      }
      continue;
    }
    mailbox_signaled = poll_fds_[0].revents != 0;
    for (std::size_t i = 0; i < poll_replicas_.size(); ++i) {
      if (poll_fds_[1 + 2 * i].revents != 0) poll_replicas_[i]->dirty = true;
      if (poll_fds_[2 + 2 * i].revents != 0) poll_replicas_[i]->monitor_dirty = true;
    }
  }
  shutdown();
}

void ClientCore::handle_commands(bool signaled, Clock::time_point now) {
  commands_.clear();
  mailbox_.drain(commands_, signaled);
  int n = 0;
  // REQUESTs for one replica go out together at the end (flush_batches): one libzmq message per
  // replica per turn under load, the plain envelope when there was only one.
  gathering_ = true;
  for (auto& command : commands_) {
    std::visit([&](auto& c) { handle(c, now); }, command);
    if (++n == kMaxCommandBatch) now = Clock::now(), n = 0;
  }
  gathering_ = false;
  flush_batches(now);
  commands_.clear();
}

bool ClientCore::submit(Command&& command) {
  if (!on_io_thread() && run_inline(command)) return true;
  return post(std::move(command));
}

bool ClientCore::run_inline(Command& command) {
  if (!std::holds_alternative<StartCall>(command) && !std::holds_alternative<StreamSend>(command) &&
      !std::holds_alternative<CancelCall>(command)) {
    return false;
  }
  // Only while the loop sleeps (a busy loop takes the command in its turn: never wait for it),
  // and only with nothing queued: commands posted before this one go first (a call's StreamSend
  // after its StartCall; one thread's calls in order).
  std::unique_lock loop(loop_mu_, std::try_to_lock);
  if (!loop.owns_lock() || !loop_idle_ || mailbox_.has_items()) return false;
  const Clock::time_point now = Clock::now();
  stats_.commands_inline.fetch_add(1, std::memory_order_relaxed);
  inline_turn_ = true;
  auto* start = std::get_if<StartCall>(&command);
  const std::uint64_t key = start ? start->token->key : 0;
  std::visit([&](auto& c) { handle(c, now); }, command);
  if (start) {
    // The fd call_sync may poll for its reply (handle() moved the token into the call).
    if (const PendingCall* c = calls_.find(key); c && c->replica) {
      c->token->sent_on_fd.store(c->replica->socket_fd, std::memory_order_relaxed);
      // A call_sync's reply may be here already (on a loaded machine the sender is often
      // preempted right after its send while the server answers): read it now instead of waking
      // the loop for it, which would then hand it back to this thread (rule 8).
      if (c->token->sync && has_input(*c->replica)) {
        inline_owner_ = c->token.get();
        read_replica(*c->replica, now);  // may end the call: `c` is not used after this
        inline_owner_ = nullptr;
      }
    }
  }
  inline_turn_ = false;
  end_inline_turn(now);
  return true;
}

void ClientCore::end_inline_turn(Clock::time_point now) {
  // The sleeping loop must wake when this turn left it work: a callback to run, a socket whose
  // ZMQ_FD notification our send may have swallowed (rule 3: the loop would drain it before
  // sleeping; asleep, it cannot), or a timer earlier than the one it sleeps for.
  bool wake = !deferred_.empty() || next_timer(now) < sleep_until_;
  for (auto& r : replicas_) {
    if (!wake && r->dirty && has_input(*r)) wake = true;
  }
  if (wake) mailbox_.wake();
}

bool ClientCore::read_for(CallToken& token) {
  const int fd = token.sent_on_fd.load(std::memory_order_relaxed);
  std::unique_lock loop(loop_mu_, std::try_to_lock);
  if (!loop.owns_lock() || !loop_idle_) return false;
  Replica* replica = nullptr;
  for (auto& r : replicas_) {
    if (r->socket_fd == fd) replica = r.get();
  }
  if (replica == nullptr) return false;  // closed meanwhile (the call moved on): the fd may be reused
  const Clock::time_point now = Clock::now();
  inline_turn_ = true;
  inline_owner_ = &token;
  read_replica(*replica, now);  // to EAGAIN: the ZMQ_FD edge is re-armed for the loop
  inline_owner_ = nullptr;
  inline_turn_ = false;
  end_inline_turn(now);
  return true;
}

void ClientCore::run_deferred() {
  std::vector<Deferred> work;
  work.swap(deferred_);
  for (auto& d : work) invoke(d.callback, std::move(d.result));
}

void ClientCore::rebuild_poll_items() {
  poll_fds_.clear();
  poll_replicas_.clear();
  poll_fds_.push_back({mailbox_.fd(), POLLIN, 0});
  for (auto& r : replicas_) {
    poll_fds_.push_back({r->socket_fd, POLLIN, 0});
    poll_fds_.push_back({r->monitor_fd, POLLIN, 0});
    poll_replicas_.push_back(r.get());
  }
  poll_dirty_ = false;
}

Clock::time_point ClientCore::next_timer(Clock::time_point /*now*/) const {
  const bool all_live = stats_.replicas_live.load(std::memory_order_relaxed) >= replicas_.size();
  Clock::time_point next = liveness_.next_due(all_live, !waiting_.empty());
  if (!calls_.deadlines().empty()) next = std::min(next, calls_.deadlines().earliest());
  for (const PendingCall* c : waiting_) next = std::min(next, c->wait_until);
  return next;
}

int ClientCore::poll_timeout_ms(Clock::time_point now) const {
  return static_cast<int>(std::clamp<std::int64_t>(
      std::chrono::ceil<std::chrono::milliseconds>(next_timer(now) - now).count(), 0, 60'000));
}

bool ClientCore::has_input(const Replica& r) {
  int events = 0;
  std::size_t len = sizeof(events);
  if (zmq_getsockopt(r.socket, ZMQ_EVENTS, &events, &len) != 0) return true;  // let the loop look
  return (events & ZMQ_POLLIN) != 0;
}

void ClientCore::run_timers(Clock::time_point now) {
  while (!calls_.deadlines().empty() && calls_.deadlines().earliest() <= now) {
    PendingCall& c = *calls_.deadlines().top();
    if (c.replica != nullptr) {
      Replica& r = *c.replica;
      Status why = deadline_exceeded("no reply from replica " + describe(r) + " within the deadline");
      send_cancel(r, c.token->correlation_id, why);
      complete(c, why);
    } else {
      std::string why = c.last_error.empty() ? "" : "; last error: " + c.last_error;
      complete(c, unavailable("no live replica of " + options_.name + " before the deadline (" + replica_summary() +
                              ")" + why));
    }
  }
  if (!waiting_.empty()) {
    std::vector<PendingCall*> expired;
    for (PendingCall* c : waiting_) {
      if (c->wait_until <= now) expired.push_back(c);
    }
    for (PendingCall* c : expired) {
      std::string why = c->last_error.empty() ? "" : "; last error: " + c->last_error;
      complete(*c, unavailable("no live replica of " + options_.name + " within " +
                               std::to_string(options_.max_wait_for_replica.count()) + " ms (" + replica_summary() +
                               ")" + why));
    }
  }
  if (!liveness_.is_due(now)) return;
  liveness_view_.clear();
  for (auto& r : replicas_) liveness_view_.push_back(r.get());
  ReplicaLiveness::Work work = liveness_.due(now, liveness_view_);
  for (const auto& [i, silent] : work.died) {
    became_dead(*liveness_view_[i], "nothing received for " + std::to_string(silent.count()) + " ms", now);
  }
  for (std::size_t i : work.ping) send_ping(*liveness_view_[i]);
  if (work.retry_parked) {
    // A call parks when every send was refused (a replica still believed live is reconnecting,
    // or its queue is full): try again each tick rather than only when a replica turns live.
    dispatch_waiting(now);
  }
}

void ClientCore::shutdown() {
  run_deferred();
  mailbox_.close();
  std::vector<Command> rest;
  mailbox_.drain(rest, true);
  for (auto& command : rest) {
    if (auto* s = std::get_if<StartCall>(&command)) {
      s->token->done.store(true);
      stats_.failures_by_code[static_cast<int>(StatusCode::kCancelled)].fetch_add(1);
      invoke(s->on_reply, cancelled("client " + options_.name + " stopped"));
    } else if (auto* t = std::get_if<RunTask>(&command)) {
      t->fn();
    }
  }
  for (PendingCall* c : calls_.all()) {
    Status why = cancelled("client " + options_.name + " stopped");
    if (c->replica) send_cancel(*c->replica, c->token->correlation_id, why);
    complete(*c, why);
  }
  for (auto& r : replicas_) close_replica_sockets(*r);
  replicas_.clear();
  publish_gauges();
}

// ---------------------------------------------------------------------------------------------
// Commands

void ClientCore::handle(StartCall& s, Clock::time_point now) {
  PendingCall* call = calls_.open(s.token->key);
  if (call == nullptr) {
    PARLEY_BUG() << "client: duplicate correlation id " << s.token->correlation_id;
    invoke(s.on_reply, internal_error("duplicate correlation id"));
    return;
  }
  PendingCall& c = *call;
  c.token = std::move(s.token);
  c.body = std::move(s.body);
  c.options = s.options;
  c.options.max_attempts = std::max(1, c.options.max_attempts);
  if (!c.options.idempotent) c.options.max_attempts = 1;
  c.deadline = s.deadline;
  c.on_reply = std::move(s.on_reply);
  c.on_view = std::move(s.on_view);
  if (c.on_view) ++views_open_;
  calls_.deadlines().push(&c, c.deadline);
  if (now >= c.deadline) {
    complete(c, deadline_exceeded("deadline passed before the request was sent"));
    return;
  }
  dispatch(c, now);
}

void ClientCore::handle(StreamSend& s, Clock::time_point now) {
  PendingCall* call = calls_.find(s.token->key);
  if (call == nullptr) return;  // ended meanwhile
  PendingCall& c = *call;
  if (!c.options.client_stream || c.send_closed) {
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": stream data dropped: call "
                                     << c.token->correlation_id
                                     << (c.send_closed ? " already closed its stream" : " is not a client stream");
    return;
  }
  if (s.end_of_stream) c.send_closed = true;
  QueuedStreamData data{std::move(s.body), s.has_id, s.end_of_stream};
  if (c.replica == nullptr) {
    c.pending_stream.push_back(std::move(data));
    return;
  }
  send_stream(c, std::move(data), now);
}

void ClientCore::handle(CancelCall& s, Clock::time_point now) {
  PendingCall* call = calls_.find(s.token->key);
  if (call == nullptr) return;
  call = settle(*call, now);  // a REQUEST still gathered goes first, so the CANCEL finds the call
  if (call == nullptr) return;
  PendingCall& c = *call;
  Status why = cancelled("cancelled by the caller");
  if (c.replica) send_cancel(*c.replica, c.token->correlation_id, why);
  complete(c, why);
}

void ClientCore::handle(RunTask& t, Clock::time_point /*now*/) { t.fn(); }

// ---------------------------------------------------------------------------------------------
// Calls

void ClientCore::dispatch(PendingCall& c, Clock::time_point now) {
  std::vector<Replica*> skip;  // refused the send this time (and those the replica filter rejects)
  if (options_.replica_filter) {
    bool any_accepted = false;
    for (const auto& r : replicas_) {
      if (!r->accepts_calls()) continue;
      if (options_.replica_filter(r->endpoint)) {
        any_accepted = true;
      } else {
        skip.push_back(r.get());
      }
    }
    if (!any_accepted) skip.clear();  // a preference, never the reason a call fails
  }
  while (Replica* r = picker_.pick(replicas_, c.tried, skip)) {
    int err = send_request(c, *r, now);
    if (err == 0) {
      c.replica = r;
      c.attempts++;
      c.tried.add(r->serial);
      r->in_flight++;
      r->calls_sent++;
      const bool gathered = !r->out_calls.empty() && r->out_calls.back() == c.key;  // flush_batch() drops it
      if (!gathered && (!c.options.idempotent || c.attempts >= c.options.max_attempts)) {
        std::string().swap(c.body);  // never re-sent: do not hold on to (possibly large) payloads
      }
      std::vector<QueuedStreamData> pending = std::move(c.pending_stream);
      c.pending_stream.clear();
      for (auto& data : pending) {
        if (!send_stream(c, std::move(data), now)) return;
      }
      return;
    }
    stats_.send_failures.fetch_add(1, std::memory_order_relaxed);
    c.last_error = "send to replica " + describe(*r) + " failed: " +
                   (err == EAGAIN ? "send queue full or not connected" : zmq_error_text(err));
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": " << c.last_error;
    skip.push_back(r);
  }
  park(c, now);
}

int ClientCore::send_request(PendingCall& c, Replica& r, Clock::time_point now) {
  IdBuffer id;
  TransportFields f;
  f.id = id.next(ids_);
  f.correlation_id = c.token->correlation_id;
  f.kind = v1::REQUEST;
  f.end_of_stream = !c.options.client_stream;
  f.idempotent = c.options.idempotent;
  f.deadline_remaining_us = remaining_us(c.deadline, now);
  r.dirty = true;
  if (gathering_ && r.load.accepts_batches) {
    const std::size_t size = c.body.size() + f.size();
    if (!r.out.fits(size)) flush_batch(r, now);
    if (r.out.fits(size)) {
      r.out.add(c.body, f);
      r.out_calls.push_back(c.key);
      return 0;
    }
  }
  flush_batch(r, now);  // what was gathered goes first
  Message message = encode_envelope(c.body, f);
  return send_message(r.socket, message, ZMQ_DONTWAIT);
}

void ClientCore::flush_batches(Clock::time_point now) {
  for (std::size_t i = 0; i < replicas_.size(); ++i) {  // flushing may fail calls, never adds replicas
    if (!replicas_[i]->out.empty()) flush_batch(*replicas_[i], now);
  }
}

void ClientCore::flush_batch(Replica& r, Clock::time_point now) {
  if (r.out.empty()) return;
  const bool batch = r.out.count() > 1;
  Message message = r.out.finish();
  std::vector<std::uint64_t> keys;
  keys.swap(r.out_calls);
  r.dirty = true;
  const int err = send_message(r.socket, message, ZMQ_DONTWAIT);
  if (err == 0 && batch) stats_.batches_sent.fetch_add(1, std::memory_order_relaxed);
  if (err != 0) {
    stats_.send_failures.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": send of " << keys.size()
                                     << " requests to replica " << describe(r) << " failed: "
                                     << (err == EAGAIN ? "send queue full or not connected" : zmq_error_text(err));
  }
  for (std::uint64_t key : keys) {
    PendingCall* c = calls_.find(key);
    if (c == nullptr || c->replica != &r || c->got_reply) continue;  // over, or moved on meanwhile
    if (err == 0) {
      if (!c->options.idempotent || c->attempts >= c->options.max_attempts) {
        std::string().swap(c->body);  // dispatch() kept it for this send
      }
      continue;
    }
    // Refused: nothing was sent, so the call may go elsewhere whatever its idempotency, exactly
    // as dispatch() moves on when a send is refused (this replica stays in its tried set).
    release(*c);
    c->attempts--;
    c->last_error = "send to replica " + describe(r) + " failed: " +
                    (err == EAGAIN ? "send queue full or not connected" : zmq_error_text(err));
    dispatch(*c, now);
  }
  keys.clear();
  if (r.out_calls.empty()) keys.swap(r.out_calls);  // keep the capacity
}

PendingCall* ClientCore::settle(PendingCall& c, Clock::time_point now) {
  const std::uint64_t key = c.key;
  PendingCall* call = &c;
  while (call != nullptr && call->replica != nullptr && !call->replica->out.empty()) {
    flush_batch(*call->replica, now);
    call = calls_.find(key);  // a refused batch may have ended the call (its record is gone) or moved it
  }
  return call;
}

bool ClientCore::send_stream(PendingCall& call, QueuedStreamData&& data, Clock::time_point now) {
  // The call's REQUEST may still be gathered: it goes first.
  PendingCall* settled = settle(call, now);
  if (settled == nullptr) return false;
  PendingCall& c = *settled;
  if (c.replica == nullptr) {  // its batch was refused and no replica took the call: parked
    c.pending_stream.push_back(std::move(data));
    return true;
  }
  IdBuffer id;
  TransportFields f;
  if (!data.has_id) f.id = id.next(ids_);
  f.correlation_id = c.token->correlation_id;
  f.kind = v1::STREAM_DATA;
  f.sequence = c.next_stream_sequence++;
  f.end_of_stream = data.end_of_stream;
  f.deadline_remaining_us = remaining_us(c.deadline, now);
  c.stream_sent = true;
  Message message = encode_envelope(data.body, f);
  c.replica->dirty = true;
  int err = send_message(c.replica->socket, message, ZMQ_DONTWAIT);
  if (err == 0) return true;
  stats_.send_failures.fetch_add(1, std::memory_order_relaxed);
  Replica& r = *c.replica;
  std::string why = "stream data could not be sent to replica " + describe(r) + ": " +
                    (err == EAGAIN ? "send queue full (high-water mark)" : zmq_error_text(err));
  PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << options_.name << ": " << why;
  send_cancel(r, c.token->correlation_id, cancelled(why));
  complete(c, unavailable(why));
  return false;
}

void ClientCore::send_cancel(Replica& r, const std::string& correlation_id, const Status& why) {
  Envelope cancel;
  cancel.set_kind(v1::CANCEL);
  set_status(cancel, why);
  cancel.set_correlation_id(correlation_id);
  cancel.set_id(ids_.next());
  Message message = serialize(cancel);
  r.dirty = true;
  // Best effort: a replica that is gone does not need to hear it.
  if (send_message(r.socket, message, ZMQ_DONTWAIT) != 0) {
    stats_.send_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

void ClientCore::park(PendingCall& c, Clock::time_point now) {
  if (c.waiting) return;
  c.waiting = true;
  if (c.wait_until == Clock::time_point{}) {  // first park: re-parking must not extend the wait
    c.wait_until = c.deadline;
    if (options_.max_wait_for_replica.count() > 0) {
      c.wait_until = std::min(c.deadline, now + options_.max_wait_for_replica);
    }
  }
  waiting_.push_back(&c);
}

void ClientCore::dispatch_waiting(Clock::time_point now) {
  if (waiting_.empty()) return;
  std::vector<PendingCall*> parked;
  parked.swap(waiting_);
  for (PendingCall* c : parked) c->waiting = false;
  for (PendingCall* c : parked) dispatch(*c, now);
}

void ClientCore::release(PendingCall& c) {
  if (c.replica == nullptr) return;
  Replica& r = *c.replica;
  r.in_flight--;
  c.replica = nullptr;
  if (r.retired && r.in_flight == 0) retired_dirty_ = true;
}

bool ClientCore::retryable(const PendingCall& c, Clock::time_point now) const {
  return c.options.idempotent && !c.got_reply && !c.stream_sent && c.attempts < c.options.max_attempts &&
         now < c.deadline;
}

void ClientCore::retry_or_fail(PendingCall& c, const std::string& why, Clock::time_point now) {
  c.last_error = why;
  if (retryable(c, now)) {
    stats_.retries.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG(kDebug) << "client " << options_.name << ": retrying " << c.token->correlation_id << ": " << why;
    dispatch(c, now);
    return;
  }
  std::string not_retried;
  if (!c.options.idempotent) {
    not_retried = "; not retried: the call is not idempotent";
  } else if (c.got_reply || c.stream_sent) {
    not_retried = "; not retried: the call had already streamed";
  } else if (c.attempts >= c.options.max_attempts) {
    not_retried = "; not retried: " + std::to_string(c.attempts) + " attempts made";
  }
  complete(c, unavailable(why + not_retried));
}

void ClientCore::on_reply(Replica& r, Result<Envelope>&& received, Clock::time_point now) {
  const Envelope& reply = *received;
  const std::optional<std::uint64_t> key = ids_.parse(reply.correlation_id());
  PendingCall* call = key ? calls_.find(*key) : nullptr;
  if (call == nullptr || call->replica != &r) {
    // After a cancel or deadline, or from a replica the call has moved away from.
    stats_.unknown_replies.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PendingCall& c = *call;
  Status status = status_of(reply);
  if (status.code() == StatusCode::kUnavailable && !c.got_reply) {
    release(c);
    retry_or_fail(c, "replica " + describe(r) + " answered UNAVAILABLE: " + status.message(), now);
    return;
  }
  c.got_reply = true;
  if (!status.is_ok()) {
    complete(c, status);
  } else if (reply.end_of_stream()) {
    complete(c, std::move(received));
  } else {
    invoke_stream(c, std::move(received));
  }
}

namespace {
// One callable shared by a call and its deferred stream replies: a copy of a stateful callback
// would split its state; moving it into the deferred reply would leave the call without one.
struct SharedCallback {
  std::shared_ptr<ReplyCallback> callback;
  void operator()(Result<Envelope>&& result) const { (*callback)(std::move(result)); }
};
}  // namespace

void ClientCore::invoke_stream(PendingCall& c, Result<Envelope>&& result) {
  if (!inline_turn_ || !c.on_reply) {
    invoke(c.on_reply, std::move(result));
    return;
  }
  // A caller's inline turn read this reply: it runs later on the I/O thread (deferred_, in order
  // with the call's later replies), through a handle on the call's own callable.
  if (c.on_reply.target<SharedCallback>() == nullptr) {
    c.on_reply = SharedCallback{std::make_shared<ReplyCallback>(std::move(c.on_reply))};
  }
  ReplyCallback handle = c.on_reply;
  invoke(handle, std::move(result));
}

void ClientCore::complete(PendingCall& c, Result<Envelope>&& result) {
  release(c);
  if (c.waiting) waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &c));
  c.token->done.store(true, std::memory_order_release);
  if (result.ok()) {
    stats_.completed_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.failures_by_code[static_cast<std::size_t>(result.status().code())].fetch_add(1, std::memory_order_relaxed);
  }
  ReplyCallback callback = std::move(c.on_reply);
  std::shared_ptr<CallToken> token = std::move(c.token);
  if (c.on_view) --views_open_;
  calls_.close(&c);  // `c` is gone from here on
  if (inline_turn_ && token.get() == inline_owner_) {
    // call_sync reading its own reply: its callback only hands the result to this very thread.
    stats_.sync_reads.fetch_add(1, std::memory_order_relaxed);
    inline_turn_ = false;
    invoke(callback, std::move(result));
    inline_turn_ = true;
    return;
  }
  invoke(callback, std::move(result));
}

void ClientCore::complete_view(PendingCall& c, const ReplyView& view) {
  release(c);
  if (c.waiting) waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &c));
  c.token->done.store(true, std::memory_order_release);
  stats_.completed_ok.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<ViewCallback> callback = std::move(c.on_view);
  --views_open_;
  calls_.close(&c);  // `c` is gone from here on
  invoke_view(*callback, view);
}

void ClientCore::invoke_view(ViewCallback& callback, const ReplyView& view) {
  try {
    callback(Result<ReplyView>(view));
  } catch (const std::exception& e) {
    PARLEY_BUG() << "client " << options_.name << ": reply callback threw: " << e.what();
  } catch (...) {
    PARLEY_BUG() << "client " << options_.name << ": reply callback threw";
  }
}

void ClientCore::invoke(ReplyCallback& callback, Result<Envelope>&& result) {
  if (!callback) return;
  if (inline_turn_) {  // callbacks run on the I/O thread, always (client.h)
    deferred_.push_back(Deferred{std::move(callback), std::move(result)});
    return;
  }
  try {
    callback(std::move(result));
  } catch (const std::exception& e) {
    PARLEY_BUG() << "client " << options_.name << ": reply callback threw: " << e.what();
  } catch (...) {
    PARLEY_BUG() << "client " << options_.name << ": reply callback threw";
  }
}

}  // namespace parley::transport::detail
