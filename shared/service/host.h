// Service host: everything a Parley service process shares — config, logging, metrics and health
// over HTTP, the ZeroMQ server, a bounded worker pool, typed methods, and SIGTERM drain.
// Depends on config, metrics, http, transport, actor, proto.
#pragma once

#include <google/protobuf/any.pb.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "parley/v1/envelope.pb.h"
#include "shared/config/config.h"
#include "shared/service/method.h"

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
  template <typename Request, typename Reply>
  void bidi_stream(const std::string& method, BidiStreamHandler<Request, Reply> handler);

  /// Readiness as reported on /readyz (besides draining). Default: ready.
  void set_ready(bool ready, std::string reason = "");

  /// Binds, serves until SIGTERM/SIGINT, then: readiness false, new calls refused ("draining"),
  /// in-flight work finishes up to service.drain_grace, exit code 0. Returns 1 if binding failed.
  int run();

  /// Starts serving without blocking (tests, embedding); stop() drains like a signal would.
  Status start();
  void stop();
  /// The bound ZeroMQ endpoint(s) and HTTP port (after start()).
  std::vector<std::string> endpoints() const;
  int http_port() const;

  /// Type-erased method: decodes, runs, encodes. Public for the implementation's dispatch.
  using RawHandler = std::function<Status(const v1::Envelope& request, class RawCall& call)>;

 private:
  Host(std::string name, config::Config config);
  void add_method(const std::string& method, RawHandler handler);

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

}  // namespace parley::service
