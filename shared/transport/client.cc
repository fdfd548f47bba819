// Client: the public API (Client, CallHandle). Everything happens on the client's I/O thread
// (client_core.cc); this file turns calls into commands posted to it and waits where asked to.
// Depends on client_core.h, shared/common.
#include "shared/transport/client.h"

#include <poll.h>

#include <future>
#include <optional>

#include "shared/common/log.h"
#include "shared/transport/client_core.h"
#include "shared/transport/envelope_codec.h"
#include "shared/transport/mailbox.h"
#include "shared/transport/protobuf_log.h"

namespace parley::transport {
namespace {

// call_sync's own safety net beyond the deadline, in case the I/O thread is starved.
constexpr auto kSyncGrace = std::chrono::milliseconds(100);

}  // namespace

// ---------------------------------------------------------------------------------------------
// CallHandle

const std::string& CallHandle::correlation_id() const {
  static const std::string kEmpty;
  return token_ ? token_->correlation_id : kEmpty;
}

bool CallHandle::done() const { return !token_ || token_->done.load(std::memory_order_acquire); }

bool CallHandle::cancel() {
  if (done()) return false;
  auto core = token_->core.lock();
  return core && core->submit(detail::CancelCall{token_});
}

bool CallHandle::send(Envelope data) {
  if (done()) return false;
  auto core = token_->core.lock();
  if (!core) return false;
  // Serialized here, on the caller's thread; the I/O thread only writes the transport's fields.
  const bool has_id = !data.id().empty();
  detail::clear_transport_fields(data, /*keep_id=*/true);
  std::string body;
  if (!data.SerializeToString(&body)) {
    PARLEY_LOG_EVERY_MS(kWarn, 1000) << "client " << core->options().name << ": stream data of call "
                                     << token_->correlation_id << " cannot be serialized (over 2 GiB?): dropped";
    return false;
  }
  return core->submit(detail::StreamSend{token_, std::move(body), has_id, false});
}

bool CallHandle::close_send() {
  if (done()) return false;
  auto core = token_->core.lock();
  return core && core->submit(detail::StreamSend{token_, std::string(), false, true});
}

// ---------------------------------------------------------------------------------------------
// Client

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  route_protobuf_logs();  // a broken server's replies must not flood the log either
  auto core = std::make_shared<detail::ClientCore>(std::move(options));
  PARLEY_RETURN_IF_ERROR(core->init());
  core->start();
  return std::unique_ptr<Client>(new Client(core));
}

Client::Client(std::shared_ptr<detail::ClientCore> core) : core_(std::move(core)) {}
Client::~Client() { core_->stop(); }

CallHandle Client::call(Envelope&& request, CallOptions options, ReplyCallback on_reply) {
  detail::clear_transport_fields(request, /*keep_id=*/false);
  return start(request, std::move(options), /*sync=*/false, std::move(on_reply));
}

namespace {

// A request the caller keeps, as it may be serialized: itself, or (rarely) a copy in `copy`
// cleared of the fields the transport writes.
const Envelope& without_transport_fields(const Envelope& request, std::optional<Envelope>& copy) {
  if (!detail::has_transport_fields(request, /*keep_id=*/false)) return request;
  copy.emplace(request);
  detail::clear_transport_fields(*copy, /*keep_id=*/false);
  return *copy;
}

}  // namespace

CallHandle Client::call(const Envelope& request, CallOptions options, ReplyCallback on_reply) {
  std::optional<Envelope> copy;
  return start(without_transport_fields(request, copy), std::move(options), /*sync=*/false, std::move(on_reply));
}

bool ReplyView::unpack(google::protobuf::Message& m) const {
  if (!has_payload) return false;
  const std::string& name = m.GetDescriptor()->full_name();
  // Any::UnpackTo's check: the type URL ends with "/<full name>".
  if (type_url.size() <= name.size() || type_url[type_url.size() - name.size() - 1] != '/' ||
      type_url.substr(type_url.size() - name.size()) != name) {
    return false;
  }
  return value.size() <= static_cast<std::size_t>(INT32_MAX) && m.ParseFromArray(value.data(), static_cast<int>(value.size()));
}

namespace {

// Replies that reach a view call the ordinary way (errors, replies read in another caller's
// inline turn) are shown through a view of the parsed envelope.
ReplyCallback view_adapter(std::shared_ptr<ViewCallback> on_view) {
  return [on_view](Result<Envelope>&& r) {
    if (!r.ok()) {
      (*on_view)(Result<ReplyView>(r.status()));
      return;
    }
    (*on_view)(Result<ReplyView>(detail::view_of(*r)));
  };
}

}  // namespace

CallHandle Client::call_view(const Envelope& request, CallOptions options, ViewCallback on_reply) {
  auto shared = std::make_shared<ViewCallback>(std::move(on_reply));
  std::optional<Envelope> copy;
  return start(without_transport_fields(request, copy), std::move(options), /*sync=*/false, view_adapter(shared),
               shared);
}

CallHandle Client::call_view(Envelope&& request, CallOptions options, ViewCallback on_reply) {
  auto shared = std::make_shared<ViewCallback>(std::move(on_reply));
  detail::clear_transport_fields(request, /*keep_id=*/false);
  return start(request, std::move(options), /*sync=*/false, view_adapter(shared), shared);
}

CallHandle Client::start(const Envelope& request, CallOptions options, bool sync, ReplyCallback on_reply,
                         std::shared_ptr<ViewCallback> on_view) {
  core_->stats().calls.fetch_add(1, std::memory_order_relaxed);
  auto token = std::make_shared<detail::CallToken>();
  token->sync = sync;
  token->core = core_;
  token->key = core_->ids().reserve();
  token->correlation_id = core_->ids().format(token->key);
  Clock::time_point deadline = core_->deadline_for(options, Clock::now());
  // Serialized here, on the caller's thread, once (retries reuse the bytes); the I/O thread only
  // writes the transport's fields per send (envelope_codec.h). `request` holds none of them.
  std::string body;
  if (!request.SerializeToString(&body)) {
    token->done.store(true);
    core_->stats().failures_by_code[static_cast<int>(StatusCode::kInvalidArgument)].fetch_add(1);
    if (on_reply) on_reply(invalid_argument("client " + core_->options().name + ": request cannot be serialized (over 2 GiB?)"));
    return CallHandle(std::move(token));
  }
  detail::Command command =
      detail::StartCall{token, std::move(body), options, deadline, std::move(on_reply), std::move(on_view)};
  if (!core_->submit(std::move(command))) {
    token->done.store(true);
    core_->stats().failures_by_code[static_cast<int>(StatusCode::kUnavailable)].fetch_add(1);
    auto& start = std::get<detail::StartCall>(command);
    if (start.on_reply) start.on_reply(unavailable("client " + core_->options().name + " stopped"));
  }
  return CallHandle(std::move(token));
}

Result<Envelope> Client::call_sync(Envelope request, CallOptions options) {
  if (core_->on_io_thread()) {
    return failed_precondition("call_sync on the client's own I/O thread (a reply callback) would deadlock; use call()");
  }
  struct SyncState {
    std::mutex mu;
    EventFd ready;  // signalled once `result` is set
    std::optional<Result<Envelope>> result;
  };
  // One state per calling thread, reused while nothing else holds it (a call that timed out
  // leaves its callback holding the old one: that thread then gets a fresh state).
  thread_local std::shared_ptr<SyncState> cached;
  if (!cached || cached.use_count() != 1) cached = std::make_shared<SyncState>();
  std::shared_ptr<SyncState> state = cached;
  state->result.reset();
  state->ready.consume();
  Clock::time_point deadline = core_->deadline_for(options, Clock::now());
  options.deadline = deadline;
  detail::clear_transport_fields(request, /*keep_id=*/false);
  CallHandle handle = start(request, options, /*sync=*/true, [state](Result<Envelope> r) {
    if (r.ok() && !r->end_of_stream()) return;  // streamed replies: call_sync returns the final one
    {
      std::lock_guard lock(state->mu);
      if (state->result) return;
      state->result.emplace(std::move(r));
    }
    state->ready.signal();
  });
  // Wait for the result, and meanwhile poll the replica's socket too when the request went out
  // from this thread: whoever of us and the I/O thread gets the loop first reads the reply, so
  // the reply does not wait for a second thread's wake-up (issue 18's round trip). One caller
  // at a time does this; the others (and calls the loop sent) only wait for `ready`.
  const int socket_fd = handle.token_ ? handle.token_->sent_on_fd.load(std::memory_order_relaxed) : -1;
  bool poll_socket = socket_fd >= 0 && core_->acquire_sync_poller();
  const bool counted = poll_socket;
  std::optional<Result<Envelope>> out;
  while (true) {
    {
      std::lock_guard lock(state->mu);
      if (state->result) {
        out = std::move(state->result);
        break;
      }
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline + kSyncGrace - Clock::now()).count();
    if (left <= 0) break;
    pollfd fds[2] = {{state->ready.fd(), POLLIN, 0}, {socket_fd, POLLIN, 0}};
    const int n = ::poll(fds, poll_socket ? 2 : 1, static_cast<int>(std::min<std::int64_t>(left, 60'000)));
    if (n <= 0) continue;  // timeout or EINTR: the loop top decides
    if (fds[0].revents != 0) state->ready.consume();
    if (poll_socket && fds[1].revents != 0) {
      // The loop is busy (most likely with this very reply): it will signal `ready`. Polling the
      // socket again before it has read would spin, so this call stops polling it.
      if ((fds[1].revents & POLLNVAL) != 0 || !core_->read_for(*handle.token_)) poll_socket = false;
    }
  }
  if (counted) core_->release_sync_poller();
  if (!out) {
    handle.cancel();
    return deadline_exceeded("no reply from " + core_->options().name + " within the deadline");
  }
  return std::move(*out);
}

std::vector<ReplicaInfo> Client::replicas() const {
  if (core_->on_io_thread()) return core_->snapshot();
  auto promise = std::make_shared<std::promise<std::vector<ReplicaInfo>>>();
  auto future = promise->get_future();
  detail::ClientCore* core = core_.get();
  if (!core_->post(detail::RunTask{[core, promise] { promise->set_value(core->snapshot()); }})) return {};
  if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
  return future.get();
}

bool Client::wait_for_live(std::size_t live, std::chrono::milliseconds timeout) const {
  return core_->wait_for_live(live, timeout);
}

void Client::refresh_targets() { core_->refresh_targets(); }
const ClientStats& Client::stats() const { return core_->stats(); }
const std::string& Client::name() const { return core_->options().name; }

}  // namespace parley::transport
