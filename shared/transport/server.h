// The transport's server: a ROUTER socket on one I/O thread that turns incoming envelopes into
// calls for a handler and sends the handler's replies back, enforcing deadlines, cancels, pings,
// draining and input validation. Exists so services never touch sockets or envelope bookkeeping.
// Depends on libzmq, parley_proto (+ protobuf arenas), shared/common, transport/{wire,stats,curve,deadline_heap}.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <google/protobuf/arena.h>

#include "shared/common/status.h"
#include "shared/transport/curve.h"
#include "shared/transport/deadline_heap.h"
#include "shared/transport/stats.h"
#include "shared/transport/wire.h"

namespace parley::transport {

namespace detail {
class ServerCore;
struct RequestFields;
struct ServerCallKey;
struct TransportFields;
class IdBuffer;
class Message;
}

struct ServerOptions {
  /// Bind endpoints; "tcp://127.0.0.1:*" picks a free port (read it back with Server::endpoints()).
  std::vector<std::string> endpoints{"tcp://127.0.0.1:*"};
  /// Name put in every reply's `replica` field. Default: "<hostname>@<first bound endpoint>".
  std::string replica;
  /// Deadline of a REQUEST that carries none (deadline_remaining_us == 0).
  std::chrono::milliseconds default_deadline{30'000};
  /// Longer deadlines from the wire are clamped to this (hostile or buggy clients).
  std::chrono::milliseconds max_deadline{3'600'000};
  int send_hwm = 10'000;  // messages queued per client connection before sends fail (counted)
  int recv_hwm = 10'000;
  std::int64_t max_message_bytes = 64 << 20;  // ZMQ_MAXMSGSIZE: a peer sending more is dropped
  /// ZMTP heartbeats: detect dead TCP peers below the application's own pings.
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::chrono::milliseconds heartbeat_timeout{5'000};
  std::chrono::milliseconds heartbeat_ttl{10'000};
  /// STREAM_DATA envelopes kept for a call whose handler has not yet called on_stream_data();
  /// beyond this the call fails with RESOURCE_EXHAUSTED.
  std::size_t max_buffered_stream_envelopes = 1024;
  /// The host's load, put on every reply and pong. Called from any thread that sends a reply and
  /// from the I/O thread: must be thread-safe, cheap and non-blocking (read atomics). Unset: the
  /// transport reports its own active-call count. `draining` is OR-ed with set_draining().
  std::function<Load()> load_reporter;
  /// CURVE: the server's keypair (secret key required). Unset: plaintext.
  std::optional<CurveKeyPair> curve;
  /// With `curve`: the Z85 public keys of the clients allowed to connect (checked by a ZAP
  /// handler, zap.h); a client holding another key fails its handshake and is never served.
  /// Empty: any client that knows the server's public key may connect.
  std::vector<std::string> curve_allowed_clients;
  /// ZeroMQ context; null = the process-wide shared one.
  void* zmq_context = nullptr;
};

/// One call being served: the REQUEST, its deadline, and the way back to the client.
///
/// Threading: every method may be called from any thread (the handler typically moves the call
/// into an actor). Callbacks set with on_stream_data()/on_cancel() always run on the server's
/// I/O thread and must not block. The handler and the transport share ownership; the transport
/// lets go when the call is over (finished, cancelled, expired, or the server stopped).
///
///   void on_call(std::shared_ptr<ServerCall> call) override {
///     call->on_cancel([w = weak_actor](const Status&) { ... });  // optional
///     actor.post([call] {
///       Envelope reply; reply.mutable_payload()->PackFrom(compute(call->request()));
///       call->finish(std::move(reply));  // or send() several times, then finish(Status::ok())
///     });
///   }
class ServerCall : public std::enable_shared_from_this<ServerCall> {
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  /// Made by the server only (the Passkey is private); public so that make_shared can reach it.
  ServerCall(Passkey, std::shared_ptr<detail::ServerCore> core, std::string_view identity, Clock::time_point arrival);
  ServerCall(const ServerCall&) = delete;
  ServerCall& operator=(const ServerCall&) = delete;
  ~ServerCall();

  /// The REQUEST envelope as received (immutable; it lives as long as the call). Parsed on the
  /// first call, on the caller's thread: the server's I/O thread routes a call on the fields
  /// below without parsing it (issue 18), so the parse is paid where the request is used.
  const Envelope& request() const;
  /// Views of the request's fields, valid while the call lives (read without a parse).
  std::string_view method() const { return method_; }
  std::string_view correlation_id() const { return correlation_id_; }
  /// The request's payload (a google.protobuf.Any): its type URL and serialized value, read
  /// without a parse (both empty when it has none). A handler that forwards or unpacks the
  /// payload itself need never parse the envelope.
  std::string_view payload_type_url() const { return type_url_; }
  std::string_view payload_value() const { return value_; }
  /// The largest REQUEST kept unparsed until request() (larger ones are parsed on arrival, into
  /// strings the size of their fields: no copy of the whole request on the I/O thread).
  static constexpr std::size_t kMaxKeptRequestBytes = 1024;
  /// Arrival time + deadline_remaining_us (or ServerOptions::default_deadline when it was 0).
  Clock::time_point deadline() const { return deadline_; }
  Clock::time_point arrival() const { return arrival_; }
  /// True when the client will send STREAM_DATA after the REQUEST (REQUEST.end_of_stream false).
  bool client_streaming() const { return client_streaming_; }

  /// True once the call was cancelled (client CANCEL, deadline, reply undeliverable, server
  /// stopped) or its deadline has passed: stop working, replies will be dropped.
  bool cancelled() const;
  /// True once the call is over for any reason (finished or cancelled).
  bool done() const { return state_.load(std::memory_order_acquire) != State::kActive; }
  /// Why the call was cancelled (OK while it was not).
  Status cancel_status() const;

  /// Sends one reply of a stream (end_of_stream false). The transport fills id (when empty),
  /// correlation_id, kind=REPLY, sequence, replica, load, and session/trace ids when empty.
  /// Returns false (reply dropped and counted) when the call is already over; past the deadline
  /// the call is answered DEADLINE_EXCEEDED instead. A reply with a non-OK status is the last.
  bool send(Envelope&& reply);
  bool send(const Envelope& reply);  // a copy
  /// Sends the last reply (end_of_stream true); its status field is sent as set (OK when unset).
  bool finish(Envelope&& last_reply);
  bool finish(const Envelope& last_reply);  // a copy
  /// Sends a last reply that carries only `status` (e.g. after a stream of send()s, or an error).
  bool finish(const Status& status);
  /// send()/finish() of a reply that carries only `payload`, packed as Any::PackFrom would: the
  /// message is serialized once, straight into the reply's bytes, without an Envelope, an Any
  /// or the copy of the payload they make (issue 18; the service host's replies).
  bool send_payload(const google::protobuf::Message& payload);
  bool finish_payload(const google::protobuf::Message& payload);
  /// The same with a payload already serialized (a forwarded or echoed Any's parts).
  bool finish_payload(std::string_view type_url, std::string_view value);

  /// Receives the client's further STREAM_DATA envelopes in sequence order (the last has
  /// end_of_stream). Runs on the I/O thread; must not block. Envelopes that arrived before this
  /// was set are buffered and delivered (on the I/O thread) right after.
  void on_stream_data(std::function<void(Envelope)> callback);
  /// Called once, on the I/O thread, when the call is cancelled (see cancelled()); never after a
  /// normal finish. Set after the cancellation, it is still called (soon, on the I/O thread).
  /// Setting another callback replaces one that has not run yet.
  void on_cancel(std::function<void(const Status&)> callback);

 private:
  friend class detail::ServerCore;
  friend class detail::DeadlineHeap<ServerCall>;
  friend struct detail::ServerCallKey;
  enum class State : std::uint8_t { kActive, kFinished, kCancelled };
  using StreamCallback = std::function<void(Envelope)>;

  /// Before anyone else sees the call: keeps a request whose fields were read without a parse
  /// (`fields.simple`, at most kMaxKeptRequestBytes), or parses it now (false: not an Envelope).
  void keep_request(const void* data, std::size_t size, const detail::RequestFields& fields);
  bool parse_request(const void* data, std::size_t size);
  bool submit(Envelope&& reply, bool last);
  bool submit_payload(std::optional<std::reference_wrapper<const google::protobuf::Message>> message,
                      std::string_view type_url, std::string_view value, bool last);
  /// With mu_ held: false (and the reply counted as dropped) when the call is over or past its
  /// deadline (then it is answered DEADLINE_EXCEEDED).
  bool accepting_locked();
  /// With mu_ held: the transport's fields of the next reply (sequence taken; the call marked
  /// finished when `last`). `id` holds the generated id while the fields are used.
  detail::TransportFields reply_fields_locked(detail::IdBuffer& id, bool has_id, bool has_session, bool has_trace,
                                              bool last, const Load& load);
  /// With mu_ held: queues (or sends, rule 8) one encoded reply.
  bool push_locked(detail::Message&& message, bool last, bool notify_cancel, bool deadline);
  /// With mu_ held: marks the call cancelled with `status` and queues it as the last reply.
  void fail_locked(const Status& status, bool deadline);
  /// With mu_ held: fills the transport's fields, serializes and queues one reply.
  bool enqueue_locked(Envelope&& reply, bool last, bool notify_cancel, bool deadline);
  /// I/O thread: marks cancelled without a reply (client CANCEL, undeliverable, stop).
  bool cancel_silently(const Status& status);
  /// I/O thread: delivers one STREAM_DATA envelope (or buffers it).
  void deliver_stream(Envelope&& envelope);
  void flush_stream();
  void notify_cancel();

  std::shared_ptr<detail::ServerCore> core_;
  const std::string identity_;  // ROUTER routing id of the client connection
  // A small request is kept as received at the start of block_ and parsed by request() on first
  // use; the parsed envelope lives on the call's own arena, whose first block is the rest of
  // block_: a request costs no allocation beyond the call itself and string bodies over 15 bytes.
  // Requests the server cannot read without a parse (ServerCore::on_request) are parsed at once.
  static constexpr std::size_t kInlineBlockBytes = 2048;
  alignas(16) mutable char block_[kInlineBlockBytes];  // mutable: the arena takes its rest in request()
  std::size_t kept_bytes_ = 0;  // the kept request's size at block_
  mutable std::once_flag parsed_;
  mutable std::optional<google::protobuf::Arena> arena_;
  mutable const Envelope* request_ = nullptr;  // on arena_, once parsed
  // Set before anyone else sees the call: views of block_ or of *request_.
  std::string_view method_;
  std::string_view correlation_id_;
  std::string_view session_id_;
  std::string_view trace_id_;
  std::string_view type_url_;
  std::string_view value_;
  bool client_streaming_ = false;
  const Clock::time_point arrival_;
  Clock::time_point deadline_;  // set by the server once, before anyone else sees the call

  mutable std::mutex mu_;
  std::atomic<State> state_{State::kActive};  // written under mu_
  std::uint64_t next_sequence_ = 0;           // guarded by mu_
  Status cancel_status_;                      // guarded by mu_
  std::shared_ptr<StreamCallback> stream_callback_;       // guarded by mu_
  std::function<void(const Status&)> cancel_callback_;    // guarded by mu_
  std::unique_ptr<std::deque<Envelope>> buffered_stream_;  // guarded by mu_; made when needed

  // I/O thread only.
  bool in_table_ = false;
  std::size_t key_hash_ = 0;  // ServerCallKey's hash, set when the call enters the table
  bool client_closed_ = false;        // client stream ended (or never existed)
  std::uint64_t next_stream_sequence_ = 1;
  detail::DeadlineHook deadline_hook;  // in the server's deadline heap while in the table
};

/// What the server hands calls to. The service host implements it (enqueue into actors).
class ServerHandler {
 public:
  virtual ~ServerHandler() = default;
  /// A new call: a well-formed REQUEST within its deadline while the server is not draining.
  /// Runs on the server's I/O thread: must not block (post the work elsewhere and return).
  /// Unknown methods are the handler's to answer (UNIMPLEMENTED).
  virtual void on_call(std::shared_ptr<ServerCall> call) = 0;
};

/// Adapts a lambda to ServerHandler (tests, tools).
std::shared_ptr<ServerHandler> make_handler(std::function<void(std::shared_ptr<ServerCall>)> on_call);

/// A bound ROUTER and its I/O thread.
///
///   auto server = Server::start(options, handler);   // binds, starts the I/O thread
///   if (!server.ok()) return server.status();
///   std::string ep = (*server)->endpoints()[0];        // "tcp://127.0.0.1:45113"
///   ... (*server)->set_draining(true); wait for calls to finish; (*server)->stop();
///
/// Threading: all methods are thread-safe. The handler is called on the I/O thread only.
/// stop() (and the destructor) cancels calls still open (their on_cancel callbacks run), closes
/// the socket with linger 0 and joins the I/O thread.
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(ServerOptions options, std::shared_ptr<ServerHandler> handler);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  /// The endpoints actually bound (ZMQ_LAST_ENDPOINT), in the order of ServerOptions::endpoints.
  const std::vector<std::string>& endpoints() const;
  const std::string& replica() const;
  /// Draining: new REQUESTs are answered UNAVAILABLE "draining"; calls already accepted go on;
  /// pongs and replies report load.draining so clients stop sending here.
  void set_draining(bool draining);
  bool draining() const;
  /// Calls accepted and not yet over.
  std::int64_t active_calls() const;
  const ServerStats& stats() const;
  void stop();

 private:
  explicit Server(std::shared_ptr<detail::ServerCore> core);

  std::shared_ptr<detail::ServerCore> core_;
  std::thread thread_;
  std::mutex stop_mu_;
};

}  // namespace parley::transport
