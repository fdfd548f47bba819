// Server: the ROUTER I/O loop and the validation of incoming envelopes (ServerCall: server_call.cc).
// Exists so hostile or broken input is answered and counted on one thread that owns the socket.
// Depends on server_core.h, libzmq, shared/common.
#include "shared/transport/server.h"

#include <poll.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/transport/block_pool.h"
#include "shared/transport/envelope_codec.h"
#include "shared/transport/protobuf_log.h"
#include "shared/transport/server_core.h"

namespace parley::transport {
namespace detail {

namespace {

constexpr int kMaxReadBatch = 1024;
constexpr int kReplyBatch = 32;
constexpr std::size_t kMaxBatchPeers = 4096;

std::string hex_identity(std::string_view id) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : id) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

Status ServerCore::bind() {
  if (options_.endpoints.empty()) return invalid_argument("server: no endpoints to bind");
  void* ctx = options_.zmq_context ? options_.zmq_context : shared_context();
  socket_ = zmq_socket(ctx, ZMQ_ROUTER);
  if (socket_ == nullptr) return internal_error("zmq_socket(ROUTER): " + zmq_error_text(errno));
  auto fail = [this](Status s) {
    close_socket(socket_);
    socket_ = nullptr;
    return s;
  };
  Status s = set_int(socket_, ZMQ_LINGER, 0, "ZMQ_LINGER");
  if (s.is_ok()) s = set_int(socket_, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY");
  if (s.is_ok()) s = set_int(socket_, ZMQ_SNDHWM, options_.send_hwm, "ZMQ_SNDHWM");
  if (s.is_ok()) s = set_int(socket_, ZMQ_RCVHWM, options_.recv_hwm, "ZMQ_RCVHWM");
  if (s.is_ok()) s = set_int64(socket_, ZMQ_MAXMSGSIZE, options_.max_message_bytes, "ZMQ_MAXMSGSIZE");
  if (s.is_ok()) {
    s = apply_heartbeat(socket_, Heartbeat{options_.heartbeat_interval, options_.heartbeat_timeout,
                                           options_.heartbeat_ttl});
  }
  if (s.is_ok() && options_.curve) {
    if (!curve_available()) return fail(failed_precondition("server: CURVE requested but libzmq lacks it"));
    s = validate_curve_key(options_.curve->secret_key, "server CURVE secret key");
    if (s.is_ok()) s = set_int(socket_, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
    if (s.is_ok()) s = set_bytes(socket_, ZMQ_CURVE_SECRETKEY, options_.curve->secret_key, "ZMQ_CURVE_SECRETKEY");
    if (s.is_ok() && !options_.curve_allowed_clients.empty()) {
      // Only the allowed client keys complete a handshake (libzmq asks the ZAP handler).
      auto zap = register_zap_domain(ctx, options_.curve_allowed_clients);
      if (!zap.ok()) {
        s = zap.status();
      } else {
        zap_ = std::move(*zap);
        s = set_bytes(socket_, ZMQ_ZAP_DOMAIN, zap_->domain(), "ZMQ_ZAP_DOMAIN");
      }
    }
  }
  if (!s.is_ok()) return fail(s.with_context("server"));
  bool any_ipv6 = false;
  for (const auto& ep : options_.endpoints) any_ipv6 = any_ipv6 || endpoint_is_ipv6(ep);
  if (any_ipv6) {
    s = set_int(socket_, ZMQ_IPV6, 1, "ZMQ_IPV6");
    if (!s.is_ok()) return fail(s);
  }
  for (const auto& ep : options_.endpoints) {
    if (zmq_bind(socket_, ep.c_str()) != 0) {
      return fail(unavailable("server: bind " + ep + ": " + zmq_error_text(errno)));
    }
    endpoints_.push_back(last_endpoint(socket_));
  }
  replica_ = options_.replica;
  if (replica_.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    replica_ = std::string(host) + "@" + endpoints_.front();
  }
  return Status::ok();
}

void ServerCore::run() {
  outbox_.set_owner(std::this_thread::get_id());
  // poll(2) on raw descriptors: zmq_poll would add a ZMQ_EVENTS round (two system calls) per
  // socket before and after every sleep, which is most of the per-message cost.
  pollfd fds[2] = {{socket_fd(socket_), POLLIN, 0}, {outbox_.fd(), POLLIN, 0}};
  bool outbox_signaled = false;
  std::unique_lock loop(loop_mu_);  // let go only while asleep in poll(2): see send_inline()
  while (!stop_.load(std::memory_order_relaxed)) {
    if (socket_dirty_) read_socket();
    if (!deadlines_.empty()) expire_deadlines(Clock::now());
    drain_outbox(outbox_signaled);
    outbox_signaled = false;
    if (socket_dirty_) continue;  // sent something: drain again before sleeping
    int timeout_ms = -1;
    if (outbox_.has_items()) {
      timeout_ms = 0;
    } else if (!deadlines_.empty()) {
      auto left = deadlines_.earliest() - Clock::now();
      // Round up: waking a millisecond early would spin until the deadline.
      timeout_ms = static_cast<int>(
          std::clamp<std::int64_t>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), 0, 60'000));
    }
    loop_idle_ = true;
    loop.unlock();
    int rc = ::poll(fds, 2, timeout_ms);
    loop.lock();
    loop_idle_ = false;
    if (rc < 0) {
      if (errno != EINTR) {
        PARLEY_LOG_EVERY_MS(kError, 1000) << "server: poll failed: " << std::strerror(errno);
      }
      continue;
    }
    if (fds[0].revents != 0) socket_dirty_ = true;
    outbox_signaled = fds[1].revents != 0;
  }
  shutdown();
}

void ServerCore::read_socket() {
  std::string identity;
  for (int n = 0; n < kMaxReadBatch; ++n) {
    zmq_msg_t id;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, socket_, ZMQ_DONTWAIT) < 0) {
      int err = errno;
      zmq_msg_close(&id);
      if (err == EINTR) continue;
      if (err != EAGAIN) {
        PARLEY_LOG_EVERY_MS(kError, 1000) << "server: recv failed: " << zmq_error_text(err);
      }
      socket_dirty_ = false;  // drained: ZMQ_FD will signal the next arrival
      return;
    }
    identity.assign(static_cast<const char*>(zmq_msg_data(&id)), zmq_msg_size(&id));
    bool more = zmq_msg_more(&id) != 0;
    zmq_msg_close(&id);
    int frames = 1;
    zmq_msg_t body;
    zmq_msg_init(&body);
    bool have_body = false;
    while (more) {
      zmq_msg_t part;
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, socket_, 0) < 0) {  // the rest of a multipart message is already here
        zmq_msg_close(&part);
        break;
      }
      ++frames;
      more = zmq_msg_more(&part) != 0;
      if (!have_body) {
        zmq_msg_move(&body, &part);
        have_body = true;
      }
      zmq_msg_close(&part);
    }
    stats_.received.fetch_add(1, std::memory_order_relaxed);
    handle_message(identity, zmq_msg_data(&body), zmq_msg_size(&body), frames);
    zmq_msg_close(&body);
    // The first reply of a wake-up goes out before the next recv (a lone request's reply does
    // not wait on it); in a burst, replies go out together every kReplyBatch requests (fewer
    // libzmq activations, fuller TCP writes, less cross-thread freeing in libzmq's I/O thread).
    if ((n == 0 || (n + 1) % kReplyBatch == 0) && (!direct_.empty() || outbox_.has_items())) drain_outbox(false);
  }
}

void ServerCore::handle_message(const std::string& identity, const void* data, std::size_t size, int frames) {
  if (frames != 2) {
    malformed(identity, "",
              "expected one envelope frame after the routing id, got " + std::to_string(frames - 1) + " frames");
    return;
  }
  handle_envelope(identity, data, size, false);
}

void ServerCore::handle_envelope(const std::string& identity, const void* data, std::size_t size, bool in_batch) {
  // A REQUEST is routed on the fields read off its bytes and parsed by whoever uses it (or, when
  // it cannot be read that way, parsed once into its call's arena); the rest into a local envelope.
  RequestFields fields;
  const bool wire_format = read_request_fields(data, size, &fields);
  const std::optional<int> peeked = wire_format ? std::optional<int>(fields.kind) : std::nullopt;
  if (peeked == v1::REQUEST) {
    on_request(identity, data, size, fields);
    return;
  }
  if (peeked == v1::BATCH) {
    if (in_batch) {
      malformed(identity, "", "a BATCH inside a BATCH");
      return;
    }
    on_batch(identity, data, size);
    return;
  }
  Envelope env;
  if (!peeked || !parse_envelope(env, data, size)) {
    malformed(identity, "", "frame of " + std::to_string(size) + " bytes is not a parley.v1.Envelope");
    return;
  }
  const int kind = static_cast<int>(env.kind());
  // proto3 enums are open: unknown numbers arrive as themselves, hence the default below.
  switch (kind) {
    case v1::STREAM_DATA:
      on_stream_data(identity, std::move(env));
      return;
    case v1::CANCEL:
      on_cancel(identity, env);
      return;
    case v1::PING:
      on_ping(identity, env);
      return;
    default:
      malformed(identity, env.correlation_id(), "envelope kind " + kind_name(kind) + " is not accepted by a server");
      return;
  }
}

void ServerCore::on_batch(const std::string& identity, const void* data, std::size_t size) {
  BatchReader reader;
  if (!reader.open(data, size) || reader.count() == 0) {
    malformed(identity, "", "BATCH of " + std::to_string(size) + " bytes holds no well-formed envelopes");
    return;
  }
  if (reader.count() > BatchWriter::kMaxReceivedEntries) {
    malformed(identity, "", "BATCH of " + std::to_string(reader.count()) + " envelopes (at most " +
                                std::to_string(BatchWriter::kMaxReceivedEntries) + ")");
    return;
  }
  note_batch_peer(identity);
  stats_.batches_received.fetch_add(1, std::memory_order_relaxed);
  stats_.received.fetch_add(reader.count() - 1, std::memory_order_relaxed);  // the batch counted as one
  for (std::string_view entry; reader.next(&entry);) handle_envelope(identity, entry.data(), entry.size(), true);
}

void ServerCore::malformed(const std::string& identity, std::string_view correlation_id, const std::string& why) {
  stats_.malformed.fetch_add(1, std::memory_order_relaxed);
  {
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: malformed message: " << why << " (answered INVALID_ARGUMENT)";
  }
  reply_direct(identity, correlation_id, invalid_argument(why));
}

void ServerCore::reply_direct(const std::string& identity, std::string_view correlation_id, const Status& status,
                              v1::EnvelopeKind kind) {
  Envelope body;  // only the status; the transport's fields are written after it
  if (!status.is_ok()) set_status(body, status);
  const Load load = current_load();
  IdBuffer id;
  TransportFields f;
  f.id = id.next(ids_);
  f.correlation_id = correlation_id;
  f.kind = kind;
  f.end_of_stream = true;
  f.replica = replica_;
  f.load = &load;
  Message message = encode_envelope(body, f);
  if (send_frames(identity, message) == 0) stats_.replies_sent.fetch_add(1, std::memory_order_relaxed);
}

void ServerCore::on_request(const std::string& identity, const void* data, std::size_t size,
                            const RequestFields& fields) {
  const Clock::time_point now = Clock::now();
  auto call = std::allocate_shared<ServerCall>(PoolAllocator<ServerCall>(), ServerCall::Passkey(), shared_from_this(),
                                               identity, now);
  std::int64_t remaining = fields.deadline_remaining_us;
  if (fields.simple && size <= ServerCall::kMaxKeptRequestBytes) {
    call->keep_request(data, size, fields);
  } else if (call->parse_request(data, size)) {
    remaining = call->request().deadline_remaining_us();
  } else {
    malformed(identity, "", "frame of " + std::to_string(size) + " bytes is not a parley.v1.Envelope");
    return;
  }
  if (call->correlation_id().empty()) {
    malformed(identity, "", "REQUEST without correlation_id");
    return;
  }
  if (call->method().empty()) {
    malformed(identity, call->correlation_id(), "REQUEST without method");
    return;
  }
  const ServerCallKey key = ServerCallKey::make(call->identity_, call->correlation_id());
  if (calls_.find(key) != nullptr) {
    // Answering would end the client's live call with the same id; drop and count instead.
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: duplicate REQUEST for an open call dropped"
                                     << " correlation_id=" << call->correlation_id();
    return;
  }
  if (draining_.load(std::memory_order_relaxed)) {
    stats_.rejected_draining.fetch_add(1, std::memory_order_relaxed);
    reply_direct(identity, call->correlation_id(), unavailable("replica " + replica_ + " is draining"));
    return;
  }
  if (remaining < 0) {
    stats_.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
    reply_direct(identity, call->correlation_id(),
                 deadline_exceeded("deadline passed before the request arrived (" + std::to_string(-remaining) +
                                   " us late)"));
    return;
  }
  std::chrono::microseconds budget = remaining == 0
                                         ? std::chrono::microseconds(options_.default_deadline)
                                         : std::chrono::microseconds(remaining);
  budget = std::min<std::chrono::microseconds>(budget, options_.max_deadline);
  call->deadline_ = now + budget;
  call->in_table_ = true;
  call->key_hash_ = key.hash;
  call->client_closed_ = !call->client_streaming();
  deadlines_.push(call.get(), call->deadline_);
  const bool added = calls_.insert(key, call);  // the duplicate check above: nothing ran since
  PARLEY_CHECK(added);
  stats_.active_calls.fetch_add(1, std::memory_order_relaxed);
  stats_.requests.fetch_add(1, std::memory_order_relaxed);
  try {
    handler_->on_call(call);
  } catch (const std::exception& e) {
    PARLEY_BUG() << "server: handler threw from on_call: " << e.what();
    call->finish(internal_error("handler failed"));
  } catch (...) {
    PARLEY_BUG() << "server: handler threw from on_call";
    call->finish(internal_error("handler failed"));
  }
}

void ServerCore::on_stream_data(const std::string& identity, Envelope&& env) {
  if (env.correlation_id().empty()) {
    malformed(identity, "", "STREAM_DATA without correlation_id");
    return;
  }
  const std::shared_ptr<ServerCall>* found = calls_.find(ServerCallKey::make(identity, env.correlation_id()));
  if (found == nullptr) {
    // Normal after a deadline or finish raced with the client's stream: not malformed.
    stats_.stream_data_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::shared_ptr<ServerCall> call = *found;
  if (call->client_closed_) {
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    stats_.stream_data_dropped.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: STREAM_DATA after the client's end_of_stream dropped"
                                     << " correlation_id=" << env.correlation_id();
    return;
  }
  if (env.sequence() != call->next_stream_sequence_) {
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    std::string why = "client stream out of order: sequence " + std::to_string(env.sequence()) + ", expected " +
                      std::to_string(call->next_stream_sequence_);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: " << why << " correlation_id=" << env.correlation_id();
    std::lock_guard lock(call->mu_);
    if (call->state_.load() == ServerCall::State::kActive) call->fail_locked(data_loss(why), false);
    return;
  }
  ++call->next_stream_sequence_;
  if (env.end_of_stream()) call->client_closed_ = true;
  stats_.stream_data.fetch_add(1, std::memory_order_relaxed);
  call->deliver_stream(std::move(env));
}

void ServerCore::on_cancel(const std::string& identity, const Envelope& env) {
  if (env.correlation_id().empty()) {
    malformed(identity, "", "CANCEL without correlation_id");
    return;
  }
  const std::shared_ptr<ServerCall>* found = calls_.find(ServerCallKey::make(identity, env.correlation_id()));
  if (found == nullptr) return;  // already over: the cancel crossed our last reply
  std::shared_ptr<ServerCall> call = *found;
  // The CANCEL's status says why (the client's deadline, its caller, ...); none = CANCELLED.
  Status why = status_of(env);
  if (why.is_ok()) why = cancelled("cancelled by the client");
  if (call->cancel_silently(why)) {
    if (why.code() == StatusCode::kDeadlineExceeded) {
      stats_.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats_.cancelled.fetch_add(1, std::memory_order_relaxed);
    }
  }
  remove_call(call.get());
  call->notify_cancel();
}

void ServerCore::note_batch_peer(const std::string& identity) {
  if (batch_peers_.count(identity) != 0) return;
  if (batch_peers_.size() >= kMaxBatchPeers) batch_peers_.clear();
  batch_peers_.insert(identity);
}

void ServerCore::on_ping(const std::string& identity, const Envelope& env) {
  stats_.pings.fetch_add(1, std::memory_order_relaxed);
  // A client that reads batches says so in its PINGs (the first thing it sends).
  if (env.load().accepts_batches()) note_batch_peer(identity);
  reply_direct(identity, env.correlation_id(), Status::ok(), v1::PONG);
}

int ServerCore::send_frames(const std::string& identity, Message& message) {
  socket_dirty_ = true;
  int err = send_copy(socket_, identity, ZMQ_SNDMORE | ZMQ_DONTWAIT);
  if (err == 0) err = send_message(socket_, message, ZMQ_DONTWAIT);
  if (err == 0) return 0;
  if (err == EHOSTUNREACH) {
    stats_.send_failed_unroutable.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: reply dropped: client " << hex_identity(identity)
                                     << " is gone (unroutable)";
  } else if (err == EAGAIN) {
    stats_.send_failed_hwm.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: reply dropped: send queue to client " << hex_identity(identity)
                                     << " is full (high-water mark " << options_.send_hwm << ")";
  } else {
    stats_.send_failed_other.fetch_add(1, std::memory_order_relaxed);
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "server: reply dropped: send to client " << hex_identity(identity)
                                     << " failed: " << zmq_error_text(err);
  }
  return err;
}

bool ServerCore::send_inline(ServerOutbound& item) {
  // Only a plain reply (a cancellation's callback runs on the I/O thread), only while the loop
  // sleeps (a busy loop takes it in its turn: never wait for it), and only with nothing queued
  // (replies go out in the order they were queued).
  if (item.task || item.notify_cancel) return false;
  std::unique_lock loop(loop_mu_, std::try_to_lock);
  if (!loop.owns_lock() || !loop_idle_ || outbox_.has_items()) return false;
  ServerCall* call = item.call.get();
  const int err = send_frames(call->identity_, item.message);
  bool notify_cancel = false;
  stats_.replies_inline.fetch_add(1, std::memory_order_relaxed);
  if (err == 0) {
    stats_.replies_sent.fetch_add(1, std::memory_order_relaxed);
  } else if (!item.last && call->state_.load(std::memory_order_relaxed) == ServerCall::State::kActive) {
    // process()'s rule, with the call's mutex already held by our caller: a stream with a hole
    // is worse than no stream, stop the call (its on_cancel runs on the I/O thread, below).
    call->cancel_status_ = unavailable("reply could not be delivered to the client: " + zmq_error_text(err));
    call->state_.store(ServerCall::State::kCancelled, std::memory_order_release);
    item.last = true;
    notify_cancel = true;
  }
  if (item.deadline) stats_.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
  if (item.last) remove_call(call);  // `item` holds the call: it outlives this
  // The sleeping loop must wake when the send may have swallowed the ZMQ_FD notification of a
  // message that arrived meanwhile (rule 3; the loop would drain before sleeping, asleep it
  // cannot), or to run the cancellation's callback.
  int events = 0;
  std::size_t len = sizeof(events);
  const bool input = zmq_getsockopt(socket_, ZMQ_EVENTS, &events, &len) != 0 || (events & ZMQ_POLLIN) != 0;
  loop.unlock();
  if (notify_cancel) {
    post_task([self = item.call] { self->notify_cancel(); });
  } else if (input) {
    outbox_.wake();
  }
  return true;
}

bool ServerCore::batch_direct(ServerCall& call, const PayloadRef& payload, const TransportFields& fields) {
  if (!on_io_thread() || !call.in_table_ || batch_peers_.count(call.identity_) == 0) return false;
  const std::size_t size = payload.size() + fields.size();
  if (size > BatchWriter::kMaxEntryBytes) return false;
  if (!direct_.empty() && (direct_identity_ != call.identity_ || !direct_.fits(size))) flush_direct();
  if (direct_.empty()) direct_identity_ = call.identity_;
  direct_.add(payload, fields);
  stats_.replies_direct.fetch_add(1, std::memory_order_relaxed);
  remove_call(&call);  // the caller holds a reference: the call outlives this
  if (direct_.count() == BatchWriter::kMaxEntries) flush_direct();
  return true;
}

void ServerCore::flush_direct() {
  const std::size_t n = direct_.count();
  if (n == 0) return;
  Message message = direct_.finish();
  if (send_frames(direct_identity_, message) != 0) return;  // counted there; the calls are over
  stats_.replies_sent.fetch_add(n, std::memory_order_relaxed);
  if (n > 1) stats_.batches_sent.fetch_add(1, std::memory_order_relaxed);
}

void ServerCore::drain_outbox(bool signaled) {
  flush_direct();
  batch_.clear();
  outbox_.drain(batch_, signaled);
  // Replies to a client that reads batches are gathered per client and sent as one BATCH each;
  // per client they keep their order. Anything else (tasks, cancellations, big replies, clients
  // that do not batch) flushes what was gathered first, so nothing overtakes what came before it.
  auto flush_all = [&] {
    for (auto& g : groups_) {
      if (!g.items.empty()) flush_replies(*g.identity, g.items);
    }
    groups_.clear();
  };
  for (auto& item : batch_) {
    if (item.task || item.notify_cancel || batch_peers_.empty() ||
        item.message.size() > BatchWriter::kMaxEntryBytes) {
      flush_all();
      process(item);
      continue;
    }
    const std::string& identity = item.call->identity_;
    ReplyGroup* group = nullptr;
    for (auto& g : groups_) {
      if (*g.identity == identity) group = &g;
    }
    if (group == nullptr) {
      if (batch_peers_.count(identity) == 0) {
        process(item);  // this client has never batched: its replies go alone, in order
        continue;
      }
      groups_.push_back(ReplyGroup{&identity, {}});
      group = &groups_.back();
    }
    group->items.push_back(&item);
    if (group->items.size() == BatchWriter::kMaxEntries) flush_replies(identity, group->items);
  }
  flush_all();
  batch_.clear();
}

void ServerCore::flush_replies(const std::string& identity, std::vector<ServerOutbound*>& items) {
  if (items.size() == 1) {
    process(*items.front());
    items.clear();
    return;
  }
  for (ServerOutbound* item : items) batch_writer_.add(zmq_msg_data(item->message.get()), item->message.size());
  Message message = batch_writer_.finish();
  const int err = send_frames(identity, message);
  if (err == 0) stats_.batches_sent.fetch_add(1, std::memory_order_relaxed);
  for (ServerOutbound* item : items) after_send(*item, err);
  items.clear();
}

void ServerCore::process(ServerOutbound& item) {
  if (item.task) {
    item.task();
    return;
  }
  after_send(item, send_frames(item.call->identity_, item.message));
}

void ServerCore::after_send(ServerOutbound& item, int err) {
  ServerCall* call = item.call.get();
  if (err == 0) {
    stats_.replies_sent.fetch_add(1, std::memory_order_relaxed);
  } else if (!item.last && call->cancel_silently(unavailable("reply could not be delivered to the client: " +
                                                             zmq_error_text(err)))) {
    // A stream with a hole is worse than no stream: stop the call.
    item.notify_cancel = true;
    item.last = true;
  }
  if (item.deadline) stats_.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
  if (item.last) remove_call(call);
  if (item.notify_cancel) call->notify_cancel();
}

void ServerCore::expire_deadlines(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.earliest() <= now) {
    ServerCall* call = deadlines_.pop();
    std::lock_guard lock(call->mu_);
    if (call->state_.load() == ServerCall::State::kActive) {
      call->fail_locked(deadline_exceeded("deadline passed while the call was being served"), true);
    }
  }
}

void ServerCore::remove_call(ServerCall* call) {
  if (!call->in_table_) return;
  call->in_table_ = false;
  deadlines_.erase(call);
  stats_.active_calls.fetch_sub(1, std::memory_order_relaxed);
  // The table's reference dies here and may take *call with it: keep this last.
  calls_.erase(*call, ServerCallKey::of(*call));
}

void ServerCore::shutdown() {
  outbox_.close();
  drain_outbox(true);  // replies queued before the stop still go to libzmq (linger 0 may drop them)
  const std::vector<std::shared_ptr<ServerCall>> open = calls_.all();
  for (auto& call : open) {
    call->cancel_silently(unavailable("server stopped"));
    remove_call(call.get());
    call->notify_cancel();
  }
  // Tasks posted by the callbacks above cannot run any more; drop them (and their references).
  batch_.clear();
  outbox_.drain(batch_, false);
  batch_.clear();
  close_socket(socket_);
  socket_ = nullptr;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Server

namespace {
class FunctionHandler final : public ServerHandler {
 public:
  explicit FunctionHandler(std::function<void(std::shared_ptr<ServerCall>)> fn) : fn_(std::move(fn)) {}
  void on_call(std::shared_ptr<ServerCall> call) override { fn_(std::move(call)); }

 private:
  std::function<void(std::shared_ptr<ServerCall>)> fn_;
};
}  // namespace

std::shared_ptr<ServerHandler> make_handler(std::function<void(std::shared_ptr<ServerCall>)> on_call) {
  return std::make_shared<FunctionHandler>(std::move(on_call));
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, std::shared_ptr<ServerHandler> handler) {
  if (!handler) return invalid_argument("server: no handler");
  route_protobuf_logs();  // garbage frames must not flood the log through protobuf's own lines
  auto core = std::make_shared<detail::ServerCore>(std::move(options), std::move(handler));
  PARLEY_RETURN_IF_ERROR(core->bind());
  std::unique_ptr<Server> server(new Server(core));
  server->thread_ = std::thread([core] { core->run(); });
  PARLEY_LOG(kInfo) << "transport server listening" << " endpoint=" << core->endpoints().front()
                    << " replica=" << core->replica();
  return server;
}

Server::Server(std::shared_ptr<detail::ServerCore> core) : core_(std::move(core)) {}
Server::~Server() { stop(); }

const std::vector<std::string>& Server::endpoints() const { return core_->endpoints(); }
const std::string& Server::replica() const { return core_->replica(); }
void Server::set_draining(bool draining) { core_->set_draining(draining); }
bool Server::draining() const { return core_->draining(); }
std::int64_t Server::active_calls() const { return core_->stats().active_calls.load(); }
const ServerStats& Server::stats() const { return core_->stats(); }

void Server::stop() {
  if (core_->on_io_thread()) {
    PARLEY_BUG() << "Server::stop() called from the server's own I/O thread (a handler callback)";
    // The thread cannot join itself: it stops after this callback (its lambda holds the core).
    core_->request_stop();
    std::lock_guard lock(stop_mu_);
    if (thread_.joinable()) thread_.detach();
    return;
  }
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  core_->request_stop();
  thread_.join();
}

}  // namespace parley::transport
