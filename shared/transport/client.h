// The transport's client: one DEALER per replica of a service, all on one I/O thread, with
// least-loaded routing, liveness pings, retries of idempotent calls, deadlines, cancels and
// client/server streams. Exists so callers see calls and replies, never sockets or replicas.
// Depends on libzmq, parley_proto, shared/common, transport/{wire,stats,curve,resolver}.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shared/common/status.h"
#include "shared/transport/curve.h"
#include "shared/transport/resolver.h"
#include "shared/transport/stats.h"
#include "shared/transport/wire.h"

namespace parley::transport {

namespace detail {
class ClientCore;
struct CallToken;
}  // namespace detail

/// CURVE on the client: the server's public key, and this client's keypair (generated per
/// process when left empty — servers do not authenticate clients).
struct CurveClientOptions {
  std::string server_public_key;
  CurveKeyPair client_keys;
};

struct ClientOptions {
  /// Replicas of ONE service: "tcp://host:port" (one replica each) and/or "dns://host:port"
  /// (every address the name resolves to, re-resolved every resolve_interval; e.g. a Kubernetes
  /// headless Service).
  std::vector<std::string> targets;
  /// For logs and error messages ("nlu").
  std::string name = "service";
  /// Deadline of a call whose CallOptions set none.
  std::chrono::milliseconds default_timeout{5'000};
  /// Application PING to every replica this often; a replica that sent nothing (pong or reply)
  /// for dead_after is dead until its next pong.
  std::chrono::milliseconds ping_interval{1'000};
  std::chrono::milliseconds dead_after{3'000};
  /// PING to a replica that is not live (connecting, restarting, dead) this often, so a replica
  /// that comes up is used within this delay.
  std::chrono::milliseconds probe_interval{50};
  std::chrono::milliseconds resolve_interval{5'000};
  /// A call with no live replica to go to waits at most this long (and never past its deadline)
  /// before failing UNAVAILABLE; 0 = until the deadline.
  std::chrono::milliseconds max_wait_for_replica{0};
  std::chrono::milliseconds reconnect_interval{100};
  std::chrono::milliseconds reconnect_interval_max{2'000};
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::chrono::milliseconds heartbeat_timeout{5'000};
  std::chrono::milliseconds heartbeat_ttl{10'000};
  int send_hwm = 10'000;
  int recv_hwm = 10'000;
  std::int64_t max_message_bytes = 64 << 20;
  /// Resolve dns:// targets to IPv6 addresses too (off: Kubernetes pods are IPv4, and "localhost"
  /// would otherwise look like two replicas).
  bool dns_ipv6 = false;
  /// Optional routing preference: a live replica whose endpoint this rejects gets no call while
  /// one it accepts can take it (when none can, the filter is ignored rather than failing). The
  /// dialog uses it to keep turns off an NLU/QA replica until that replica has every bot.
  /// Runs on the client's I/O thread at each pick: must be cheap, thread-safe, non-blocking.
  std::function<bool(const std::string& endpoint)> replica_filter;
  /// Resolves dns:// targets; unset = getaddrinfo. Tests inject a fake to vary the replica set.
  Resolver resolver;
  std::optional<CurveClientOptions> curve;
  /// ZeroMQ context; null = the process-wide shared one.
  void* zmq_context = nullptr;
};

struct CallOptions {
  /// Time budget from the moment call() is invoked; 0 = ClientOptions::default_timeout.
  std::chrono::milliseconds timeout{0};
  /// Absolute deadline; wins over timeout (propagate an upstream call's deadline with this).
  std::optional<Clock::time_point> deadline;
  /// The caller allows re-sending the request to another replica (no reply seen yet).
  bool idempotent = false;
  /// Sends in total, first included; only idempotent calls go beyond 1.
  int max_attempts = 3;
  /// The REQUEST is followed by STREAM_DATA (CallHandle::send / close_send).
  bool client_stream = false;
};

/// Invoked for each reply envelope (status OK; the last one has end_of_stream), or once with the
/// error that ends the call: a non-OK reply status, DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE.
/// Runs on the client's I/O thread: must not block (post elsewhere). It may call call(),
/// CallHandle methods and other non-blocking Client methods; not call_sync(). The result is
/// passed by rvalue reference (a lambda taking `Result<Envelope> r` by value works as well; one
/// taking `Result<Envelope>&&` saves a move of the envelope).
using ReplyCallback = std::function<void(Result<Envelope>&&)>;

/// A reply as Client::call_view() delivers it: views of the received bytes (or of the envelope
/// they were parsed into), valid only while the callback runs; unpack() or copy what must last.
struct ReplyView {
  bool has_payload = false;
  std::string_view type_url;  // the payload's (a google.protobuf.Any)
  std::string_view value;
  bool end_of_stream = false;
  std::uint64_t sequence = 0;
  std::int64_t service_time_us = 0;  // the sum of the reply's stage timings
  std::string_view replica;
  /// Parses the payload into `m` when it holds m's type (the check Any::UnpackTo makes).
  bool unpack(google::protobuf::Message& m) const;
};
/// call_view()'s callback: each reply (status OK) as a view, or once the error that ends the call.
/// Same threading as ReplyCallback.
using ViewCallback = std::function<void(Result<ReplyView>&&)>;

/// The caller's grip on a call in flight. Cheap to copy; all copies refer to the same call.
/// Thread-safe. Operations on a finished call (or a stopped client) do nothing and return false.
class CallHandle {
 public:
  CallHandle() = default;
  bool valid() const { return token_ != nullptr; }
  /// The call's correlation_id ("" for an empty handle).
  const std::string& correlation_id() const;
  /// Stops the call: sends CANCEL to the replica, frees the client's state, and on_reply gets
  /// CANCELLED (unless the call already ended).
  bool cancel();
  /// Sends one STREAM_DATA envelope of a client stream (CallOptions::client_stream); the transport
  /// fills id, correlation_id, kind, sequence. Buffered while the call waits for a replica.
  bool send(Envelope data);
  /// Ends the client stream (STREAM_DATA with end_of_stream and no payload).
  bool close_send();
  /// True once the call has ended (a hint: it may end right after this returns false).
  bool done() const;

 private:
  friend class Client;
  explicit CallHandle(std::shared_ptr<detail::CallToken> token) : token_(std::move(token)) {}
  std::shared_ptr<detail::CallToken> token_;
};

/// What the client knows about one replica (a snapshot).
struct ReplicaInfo {
  std::string endpoint;  // "tcp://10.0.3.7:7101"
  std::string target;    // the target it came from
  std::string name;      // the replica's self-reported name (from replies/pongs)
  bool live = false;
  bool retired = false;  // gone from DNS: gets no new calls, removed once its calls are done
  Load load;             // last LoadReport seen
  int in_flight = 0;     // this client's calls on it
  std::uint64_t calls_sent = 0;
};

/// Connects to every replica of one service and spreads calls over them.
///
///   ClientOptions o; o.targets = {"dns://nlu-headless:7101"}; o.name = "nlu";
///   auto client = Client::create(o);                    // sockets + I/O thread
///   Envelope req; req.set_method("parley.v1.Nlu/Parse"); req.mutable_payload()->PackFrom(msg);
///   Result<Envelope> r = (*client)->call_sync(req, {.timeout = 200ms, .idempotent = true});
///   // streaming: auto h = (*client)->call(req, {.client_stream = true}, on_reply);
///   //            h.send(chunk); ...; h.close_send();  // or h.cancel()
///
/// Threading: every method is thread-safe. Replies and errors reach the caller on the client's
/// I/O thread (ReplyCallback). Destroying the client ends calls still open with CANCELLED
/// "client stopped" (callbacks run), closes the sockets and joins its threads.
class Client {
 public:
  static Result<std::unique_ptr<Client>> create(ClientOptions options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  /// Starts a call. The transport fills id, correlation_id, kind, idempotent, sequence,
  /// end_of_stream and deadline_remaining_us (recomputed at each send; values the caller set
  /// there, and in the reply-only load/replica, are dropped); the caller sets method, payload and
  /// optionally session_id, trace_id, metadata. The request is serialized here, on the calling
  /// thread. on_reply is never called inline unless the client has stopped (UNAVAILABLE) or the
  /// request cannot be serialized (INVALID_ARGUMENT, over 2 GiB): then at once, on this thread.
  CallHandle call(Envelope&& request, CallOptions options, ReplyCallback on_reply);
  /// The same for a request the caller keeps (a template it sends again, a fan-out): serialized
  /// as it is, no copy, unless it holds transport fields (then they are cleared on a copy).
  CallHandle call(const Envelope& request, CallOptions options, ReplyCallback on_reply);
  /// call() whose replies reach `on_reply` as views read straight off the received bytes: no
  /// Envelope is parsed, allocated or destroyed for them (issue 18: that was a quarter of a
  /// pipelined call). A reply the loop cannot hand over that way (an error status, one read by a
  /// call_sync's turn) is parsed and shown through the same view.
  CallHandle call_view(const Envelope& request, CallOptions options, ViewCallback on_reply);
  CallHandle call_view(Envelope&& request, CallOptions options, ViewCallback on_reply);
  /// Blocking unary call: the final reply (end_of_stream) or the error. Returns by the deadline
  /// (plus a few ms) whatever happens. Must not be called on the client's I/O thread.
  Result<Envelope> call_sync(Envelope request, CallOptions options);

  /// Replica snapshot (asks the I/O thread; from an on_reply callback it is answered in place).
  std::vector<ReplicaInfo> replicas() const;
  /// Blocks until at least `live` replicas are live or `timeout` passes; true when reached.
  bool wait_for_live(std::size_t live, std::chrono::milliseconds timeout) const;
  /// Re-resolves dns:// targets now instead of at the next resolve_interval.
  void refresh_targets();

  const ClientStats& stats() const;
  const std::string& name() const;

 private:
  explicit Client(std::shared_ptr<detail::ClientCore> core);
  /// call() once `request` holds no transport field; `sync` for call_sync's own calls.
  CallHandle start(const Envelope& request, CallOptions options, bool sync, ReplyCallback on_reply,
                   std::shared_ptr<ViewCallback> on_view = nullptr);

  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace parley::transport
