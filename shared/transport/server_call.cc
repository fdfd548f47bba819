// ServerCall: a call's reply path (sequence numbers, deadline checks, serialization on the
// caller's thread), its cancellation, and the delivery of a client stream to the service.
// Depends on server_core.h.
#include <cstring>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/transport/envelope_codec.h"
#include "shared/transport/server_core.h"

namespace parley::transport {

ServerCall::ServerCall(Passkey, std::shared_ptr<detail::ServerCore> core, std::string_view identity,
                       Clock::time_point arrival)
    : core_(std::move(core)), identity_(identity), arrival_(arrival), deadline_(arrival) {}

ServerCall::~ServerCall() = default;

void ServerCall::keep_request(const void* data, std::size_t size, const detail::RequestFields& fields) {
  PARLEY_CHECK(fields.simple && size <= kMaxKeptRequestBytes);
  std::memcpy(block_, data, size);
  kept_bytes_ = size;
  // The views move with the bytes: same offsets, in block_.
  auto rebase = [&](std::string_view v) {
    return v.empty() ? std::string_view() : std::string_view(block_ + (v.data() - static_cast<const char*>(data)), v.size());
  };
  method_ = rebase(fields.method);
  correlation_id_ = rebase(fields.correlation_id);
  session_id_ = rebase(fields.session_id);
  trace_id_ = rebase(fields.trace_id);
  type_url_ = rebase(fields.type_url);
  value_ = rebase(fields.value);
  client_streaming_ = !fields.end_of_stream;
}

bool ServerCall::parse_request(const void* data, std::size_t size) {
  bool ok = false;
  std::call_once(parsed_, [&] {
    arena_.emplace(block_, sizeof(block_));
    auto* request = google::protobuf::Arena::CreateMessage<Envelope>(&*arena_);
    ok = detail::parse_envelope(*request, data, size);
    request_ = request;
  });
  if (!ok) return false;
  method_ = request_->method();
  correlation_id_ = request_->correlation_id();
  session_id_ = request_->session_id();
  trace_id_ = request_->trace_id();
  type_url_ = request_->payload().type_url();
  value_ = request_->payload().value();
  client_streaming_ = !request_->end_of_stream();
  return true;
}

const Envelope& ServerCall::request() const {
  std::call_once(parsed_, [this] {
    // The kept bytes first, then the arena's first block (16-byte aligned) in the rest of block_.
    const std::size_t used = (kept_bytes_ + 15) & ~std::size_t{15};
    arena_.emplace(block_ + used, sizeof(block_) - used);
    auto* request = google::protobuf::Arena::CreateMessage<Envelope>(&*arena_);
    if (!request->ParseFromArray(block_, static_cast<int>(kept_bytes_))) {
      // read_request_fields() promised a parse would succeed (its tests hold it to that).
      PARLEY_BUG() << "server: a request read as simple did not parse (" << kept_bytes_ << " bytes)";
    }
    request_ = request;
  });
  return *request_;
}

bool ServerCall::cancelled() const {
  State s = state_.load(std::memory_order_acquire);
  if (s == State::kCancelled) return true;
  return s == State::kActive && Clock::now() >= deadline_;
}

Status ServerCall::cancel_status() const {
  std::lock_guard lock(mu_);
  return cancel_status_;
}

bool ServerCall::send(Envelope&& reply) { return submit(std::move(reply), false); }
bool ServerCall::finish(Envelope&& last_reply) { return submit(std::move(last_reply), true); }
bool ServerCall::send(const Envelope& reply) { return submit(Envelope(reply), false); }
bool ServerCall::finish(const Envelope& last_reply) { return submit(Envelope(last_reply), true); }
bool ServerCall::finish(const Status& status) {
  Envelope reply;
  if (!status.is_ok()) set_status(reply, status);
  return submit(std::move(reply), true);
}

bool ServerCall::send_payload(const google::protobuf::Message& payload) {
  return submit_payload(payload, {}, {}, false);
}
bool ServerCall::finish_payload(const google::protobuf::Message& payload) {
  return submit_payload(payload, {}, {}, true);
}
bool ServerCall::finish_payload(std::string_view type_url, std::string_view value) {
  return submit_payload(std::nullopt, type_url, value, true);
}

bool ServerCall::submit(Envelope&& reply, bool last) {
  // A non-OK status ends the call on the wire (proto/README.md), so it is the last reply.
  if (reply.has_status() && reply.status().code() != v1::Status::OK) last = true;
  std::lock_guard lock(mu_);
  if (!accepting_locked()) return false;
  return enqueue_locked(std::move(reply), last, false, false);
}

bool ServerCall::submit_payload(std::optional<std::reference_wrapper<const google::protobuf::Message>> message,
                                std::string_view type_url, std::string_view value, bool last) {
  // The type URL Any::PackFrom would write, built in a per-thread buffer (no allocation per reply).
  thread_local std::string url;
  detail::PayloadRef payload;
  if (message) {
    url.assign("type.googleapis.com/");
    url.append(message->get().GetDescriptor()->full_name());
    payload.type_url = url;
    payload.message = &message->get();
  } else {
    payload.type_url = type_url;
    payload.value = value;
  }
  // batch_direct() takes the call out of the server's table, whose reference may be the last but
  // ours: `keep` holds it until the lock below is gone.
  std::shared_ptr<ServerCall> keep;
  std::lock_guard lock(mu_);
  if (!accepting_locked()) return false;
  detail::IdBuffer id;
  const Load load = core_->current_load();
  const bool only_reply = last && next_sequence_ == 0;
  const detail::TransportFields f = reply_fields_locked(id, /*has_id=*/false, /*has_session=*/false,
                                                        /*has_trace=*/false, last, load);
  if (only_reply && core_->on_io_thread()) {
    keep = shared_from_this();
    if (core_->batch_direct(*this, payload, f)) return true;
  }
  return push_locked(detail::encode_payload(payload, f), last, false, false);
}

bool ServerCall::accepting_locked() {
  if (state_.load(std::memory_order_relaxed) != State::kActive) {
    core_->stats().replies_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (Clock::now() >= deadline_) {
    // The I/O thread's timer has not fired yet; answer exactly as it would.
    core_->stats().replies_dropped.fetch_add(1, std::memory_order_relaxed);
    fail_locked(deadline_exceeded("deadline passed while the call was being served"), true);
    return false;
  }
  return true;
}

void ServerCall::fail_locked(const Status& status, bool deadline) {
  Envelope reply;
  set_status(reply, status);
  cancel_status_ = status;
  state_.store(State::kCancelled, std::memory_order_release);
  enqueue_locked(std::move(reply), true, true, deadline);
}

detail::TransportFields ServerCall::reply_fields_locked(detail::IdBuffer& id, bool has_id, bool has_session,
                                                       bool has_trace, bool last, const Load& load) {
  detail::TransportFields f;
  if (!has_id) f.id = id.next(core_->ids());
  f.correlation_id = correlation_id_;
  f.kind = v1::REPLY;
  f.sequence = next_sequence_++;
  f.end_of_stream = last;
  f.replica = core_->replica();
  if (!has_session) f.session_id = session_id_;
  if (!has_trace) f.trace_id = trace_id_;
  f.load = &load;
  if (last && state_.load(std::memory_order_relaxed) == State::kActive) {
    state_.store(State::kFinished, std::memory_order_release);
  }
  return f;
}

bool ServerCall::enqueue_locked(Envelope&& reply, bool last, bool notify_cancel, bool deadline) {
  // The reply is serialized here, on the caller's thread, with the transport's fields written
  // straight after it (envelope_codec.h): no setter copies, one allocation.
  const bool has_id = !reply.id().empty();
  detail::clear_transport_fields(reply, /*keep_id=*/true);
  const Load load = core_->current_load();
  detail::IdBuffer id;
  const detail::TransportFields f =
      reply_fields_locked(id, has_id, !reply.session_id().empty(), !reply.trace_id().empty(), last, load);
  return push_locked(detail::encode_envelope(reply, f), last, notify_cancel, deadline);
}

bool ServerCall::push_locked(detail::Message&& message, bool last, bool notify_cancel, bool deadline) {
  detail::ServerOutbound item;
  item.call = shared_from_this();
  item.message = std::move(message);
  item.last = last;
  item.notify_cancel = notify_cancel;
  item.deadline = deadline;
  if (!core_->push_reply(std::move(item))) {
    core_->stats().replies_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

bool ServerCall::cancel_silently(const Status& status) {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed) != State::kActive) return false;
  cancel_status_ = status;
  state_.store(State::kCancelled, std::memory_order_release);
  return true;
}

void ServerCall::deliver_stream(Envelope&& envelope) {
  std::shared_ptr<StreamCallback> callback;
  {
    std::lock_guard lock(mu_);
    if (state_.load(std::memory_order_relaxed) != State::kActive) {
      core_->stats().stream_data_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (stream_callback_ && (!buffered_stream_ || buffered_stream_->empty())) {
      callback = stream_callback_;
    } else {
      if (!buffered_stream_) buffered_stream_ = std::make_unique<std::deque<Envelope>>();
      if (buffered_stream_->size() >= core_->options().max_buffered_stream_envelopes) {
        fail_locked(resource_exhausted("more than " + std::to_string(buffered_stream_->size()) +
                                       " stream envelopes arrived before the service took the stream"),
                    false);
        buffered_stream_->clear();
        return;
      }
      buffered_stream_->push_back(std::move(envelope));
      if (!stream_callback_) return;
    }
  }
  if (callback) {
    (*callback)(std::move(envelope));
  } else {
    flush_stream();
  }
}

void ServerCall::flush_stream() {
  while (true) {
    std::shared_ptr<StreamCallback> callback;
    Envelope next;
    {
      std::lock_guard lock(mu_);
      if (!buffered_stream_ || buffered_stream_->empty() || !stream_callback_) return;
      if (state_.load(std::memory_order_relaxed) != State::kActive) {
        buffered_stream_->clear();
        return;
      }
      next = std::move(buffered_stream_->front());
      buffered_stream_->pop_front();
      callback = stream_callback_;
    }
    (*callback)(std::move(next));
  }
}

void ServerCall::notify_cancel() {
  std::function<void(const Status&)> callback;
  Status status;
  {
    std::lock_guard lock(mu_);
    if (state_.load(std::memory_order_relaxed) != State::kCancelled || !cancel_callback_) return;
    callback = std::move(cancel_callback_);
    cancel_callback_ = nullptr;
    status = cancel_status_;
    buffered_stream_.reset();
  }
  callback(status);
}

void ServerCall::on_stream_data(std::function<void(Envelope)> callback) {
  bool flush = false;
  {
    std::lock_guard lock(mu_);
    stream_callback_ = std::make_shared<StreamCallback>(std::move(callback));
    flush = buffered_stream_ && !buffered_stream_->empty();
  }
  if (flush) core_->post_task([self = shared_from_this()] { self->flush_stream(); });
}

void ServerCall::on_cancel(std::function<void(const Status&)> callback) {
  bool already = false;
  {
    std::lock_guard lock(mu_);
    cancel_callback_ = std::move(callback);
    already = state_.load(std::memory_order_relaxed) == State::kCancelled;
  }
  if (already) core_->post_task([self = shared_from_this()] { self->notify_cancel(); });
}

}  // namespace parley::transport
