// Service host: everything a Parley service process shares — config, logging, metrics and health
// over HTTP, the ZeroMQ server, a bounded worker pool, typed methods, and SIGTERM drain.
// Depends on config, metrics, http, transport, actor, proto.
#pragma once

#include <google/protobuf/any.pb.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "parley/v1/envelope.pb.h"
#include "shared/actor/actor_system.h"
#include "shared/config/config.h"
#include "shared/service/method.h"
#include "shared/service/stream_call.h"

namespace parley::metrics {
class Registry;
}

namespace parley::service {

/// One service process. Create, register methods, run().
///
///   auto host = Host::create("echo", schema, argc, argv);        // exits 2 on a bad config
///   host->unary<v1::EchoRequest, v1::EchoReply>("parley.v1.Echo/Echo", handler);
///   return host->run();                                  // blocks until SIGTERM/SIGINT, drains
///
/// Threading: register methods before run(); handlers run on the worker pool (service.workers
/// threads, service.queue_capacity queued requests; beyond that RESOURCE_EXHAUSTED, counted).
/// CURVE: with transport.curve_* keys set (curve_config.h) the ZeroMQ socket requires CURVE and
/// admits only the listed client keys; start() fails on an incomplete CURVE configuration.
class Host {
 public:
  /// Loads config (flags > PARLEY_* env > --config file > defaults) and sets up logging.
  /// Prints the error and exits 2 on a bad config; prints help and exits 0 on --help.
  /// `name` labels metrics and logs ("echo").
  static std::unique_ptr<Host> create(std::string name, const config::Schema& schema, int argc,
                                      const char* const* argv);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const config::Config& config() const { return config_; }
  const std::string& name() const { return name_; }
  metrics::Registry& metrics();

  template <typename Request, typename Reply>
  void unary(const std::string& method, UnaryHandler<Request, Reply> handler);
  template <typename Request, typename Reply>
  void server_stream(const std::string& method, ServerStreamHandler<Request, Reply> handler);
  /// Client stream in, server stream out: the REQUEST envelope carries the first Request, each
  /// STREAM_DATA envelope one more (the last has end_of_stream, with or without a payload).
  /// A client that cancels or disappears (heartbeats) wakes a blocked read() with CANCELLED.
  /// The handler holds a worker thread for the whole call: for short exchanges only; long-lived
  /// streams use stream().
  template <typename Request, typename Reply>
  void bidi_stream(const std::string& method, BidiStreamHandler<Request, Reply> handler);
  /// A long-lived stream (client stream in, server stream out, same envelopes as bidi_stream)
  /// that holds no thread: `factory` makes one StreamHandler per call, and the host feeds it the
  /// call's requests, end of stream, cancellation and posted Events one at a time on the worker
  /// pool (stream_call.h). Thousands of open calls can share `service.workers` threads.
  ///
  ///   host->stream<v1::RecognizeRequest, v1::RecognizeResponse, WindowDone>(
  ///       "parley.v1.Asr/Recognize", {.idle_timeout = 10s},
  ///       [&](StreamCall<v1::RecognizeResponse, WindowDone>& call) { return std::make_unique<RecognizeCall>(call, ...); });
  template <typename Request, typename Reply, typename Event>
  void stream(const std::string& method, StreamOptions options, StreamFactory<Request, Reply, Event> factory);

  /// Another endpoint to bind besides transport.bind, serving the same methods (before start()).
  void add_endpoint(std::string endpoint);
  /// The deadline of a call whose REQUEST carries none (before start(); default 30 s). A process
  /// serving long streams (voice) raises it to their longest length.
  void set_default_deadline(std::chrono::milliseconds deadline);

  /// Work served outside the transport (the dialog's public HTTP API) that must finish before
  /// the process exits: stop() calls `fn` once readiness is false, with the drain deadline
  /// (now + service.drain_grace); `fn` stops taking new work and returns by then, in-flight work
  /// done. Transport calls keep being served meanwhile and get the same deadline.
  void on_drain(std::function<void(std::chrono::steady_clock::time_point deadline)> fn);

  /// Readiness as reported on /readyz (besides draining). Default: ready.
  void set_ready(bool ready, std::string reason = "");

  /// Binds, serves until SIGTERM/SIGINT, then: readiness false, new calls refused ("draining"),
  /// in-flight work (transport calls and on_drain() hooks) finishes up to service.drain_grace,
  /// exit code 0. Returns 1 if binding failed.
  int run();

  /// Starts serving without blocking (tests, embedding); stop() drains like a signal would.
  Status start();
  void stop();
  /// The bound ZeroMQ endpoint(s) and HTTP port (after start()).
  std::vector<std::string> endpoints() const;
  int http_port() const;

  /// Type-erased method: decodes, runs, encodes. Public for the implementation's dispatch.
  using RawHandler = std::function<Status(const v1::Envelope& request, class RawCall& call)>;
  /// Type-erased stream method: starts serving one call (on the transport's I/O thread; must not
  /// block). Public for the implementation's dispatch.
  using RawStreamStart = std::function<void(std::shared_ptr<RawStream> call)>;

 private:
  Host(std::string name, config::Config config);
  void add_method(const std::string& method, RawHandler handler);
  void add_stream_method(const std::string& method, RawStreamStart start);
  actor::ActorSystem* actor_system();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  config::Config config_;
  std::string name_;
};

/// What a RawHandler sees of its call: the context plus a way to send typed replies.
class RawCall : public CallContext {
 public:
  /// Sends one reply payload (not the last). False when the call is over.
  virtual bool send_payload(const google::protobuf::Message& reply) = 0;
  /// Sets the payload of the final reply (unary).
  virtual void set_final_payload(const google::protobuf::Message& reply) = 0;
  /// Bidirectional calls: the next request envelope (the REQUEST itself first), std::nullopt at
  /// the end of the client stream; errors as StreamReader::read.
  virtual Result<std::optional<v1::Envelope>> next_request(std::chrono::steady_clock::time_point until) = 0;
};

/// Decodes the envelope's payload; INVALID_ARGUMENT naming the expected type when it is not one.
inline Status unpack_payload(const v1::Envelope& env, const std::string& method, google::protobuf::Message& out) {
  if (env.payload().UnpackTo(&out)) return Status::ok();
  return invalid_argument(method + ": payload is not a " + out.GetDescriptor()->full_name() + " (got '" +
                          env.payload().type_url() + "')");
}

template <typename Request, typename Reply>
void Host::unary(const std::string& method, UnaryHandler<Request, Reply> handler) {
  add_method(method, [handler = std::move(handler), method](const v1::Envelope& env, RawCall& call) -> Status {
    Request request;
    PARLEY_RETURN_IF_ERROR(unpack_payload(env, method, request));
    Result<Reply> reply = handler(request, call);
    if (!reply.ok()) return reply.status();
    call.set_final_payload(*reply);
    return Status::ok();
  });
}

template <typename Request, typename Reply>
void Host::server_stream(const std::string& method, ServerStreamHandler<Request, Reply> handler) {
  add_method(method, [handler = std::move(handler), method](const v1::Envelope& env, RawCall& call) -> Status {
    Request request;
    PARLEY_RETURN_IF_ERROR(unpack_payload(env, method, request));
    struct Writer : StreamWriter<Reply> {
      explicit Writer(RawCall& c) : call(c) {}
      bool write(const Reply& r) override { return call.send_payload(r); }
      RawCall& call;
    } writer(call);
    return handler(request, writer, call);
  });
}

template <typename Request, typename Reply>
void Host::bidi_stream(const std::string& method, BidiStreamHandler<Request, Reply> handler) {
  add_method(method, [handler = std::move(handler), method](const v1::Envelope&, RawCall& call) -> Status {
    struct Reader : StreamReader<Request> {
      Reader(RawCall& c, const std::string& m) : call(c), method(m) {}
      Result<std::optional<Request>> read(std::chrono::steady_clock::time_point until) override {
        while (true) {
          Result<std::optional<v1::Envelope>> env = call.next_request(until);
          if (!env.ok()) return env.status();
          if (!env->has_value()) return std::optional<Request>();
          const v1::Envelope& e = **env;
          if (!e.has_payload()) continue;  // a bare end-of-stream marker: the next read says so
          Request r;
          PARLEY_RETURN_IF_ERROR(unpack_payload(e, method, r));
          return std::optional<Request>(std::move(r));
        }
      }
      RawCall& call;
      const std::string& method;
    } reader(call, method);
    struct Writer : StreamWriter<Reply> {
      explicit Writer(RawCall& c) : call(c) {}
      bool write(const Reply& r) override { return call.send_payload(r); }
      RawCall& call;
    } writer(call);
    return handler(reader, writer, call);
  });
}

template <typename Request, typename Reply, typename Event>
void Host::stream(const std::string& method, StreamOptions options, StreamFactory<Request, Reply, Event> factory) {
  add_stream_method(method, [this, options, factory = std::move(factory)](std::shared_ptr<RawStream> raw) {
    using CallActor = detail::StreamCallActor<Request, Reply, Event>;
    using Msg = typename CallActor::Msg;
    actor::ActorSystem* system = actor_system();
    auto queued = std::make_shared<std::atomic<std::size_t>>(1);  // the REQUEST, told below
    actor::ActorOptions ao;
    ao.name = raw->method();
    // Client envelopes are bounded by options.max_buffered (checked below); the rest of the
    // mailbox is for posted events, idle checks and the close.
    ao.mailbox_capacity = options.max_buffered + 4096;
    ao.messages_per_turn = 8;
    ao.restart.max_restarts = 0;  // a handler that throws ends its call (on_stop tells the client)
    actor::ActorRef<Msg> ref =
        system == nullptr ? actor::ActorRef<Msg>() : system->template spawn<CallActor>(std::move(ao), raw, factory, options, queued);
    if (!ref.alive() || !ref.tell(detail::StreamIn{raw->request_envelope()}).is_ok()) {
      raw->abort(unavailable(raw->method() + ": the service is shutting down"));
      return;
    }
    const std::size_t limit = options.max_buffered;
    raw->listen(
        [ref, queued, limit, raw](v1::Envelope env) {
          if (queued->fetch_add(1, std::memory_order_relaxed) >= limit) {
            const Status why = resource_exhausted(raw->method() + ": client sent more than " + std::to_string(limit) +
                                                  " stream messages ahead of the service");
            (void)ref.tell(detail::StreamCancel{why});
            raw->abort(why);
            return;
          }
          Status told = ref.tell(detail::StreamIn{std::move(env)});
          if (!told.is_ok()) raw->abort(Status(told.code(), raw->method() + ": " + told.message()));
        },
        [ref](const Status& why) { (void)ref.tell(detail::StreamCancel{why}); },
        [ref] { (void)ref.tell(detail::StreamClosed{}); });
  });
}

}  // namespace parley::service
