// An asynchronous HTTP/1.1 server (Boost.Beast inside, not in this header) with a route table,
// explicit limits, keep-alive, and streamed responses (chunked, Server-Sent Events).
// Exists for /metrics, /healthz, /readyz of every process and for the public API of the dialog
// service. Depends on message.h, router.h, sse.h, shared/common; Boost.Asio/Beast in server.cc only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "shared/common/status.h"
#include "shared/http/message.h"
#include "shared/http/websocket.h"

namespace parley::http {

/// Every limit is explicit; the defaults suit a service's health/metrics port and a modest API.
struct ServerOptions {
  std::string host = "0.0.0.0";  ///< address or name to bind ("127.0.0.1", "::", "localhost")
  std::uint16_t port = 0;        ///< 0: the OS picks one; read it back with Server::port()
  int threads = 1;               ///< I/O threads; synchronous handlers run on them
  std::size_t max_body_bytes = 1 << 20;    ///< larger request bodies: 413 PAYLOAD_TOO_LARGE
  std::size_t max_header_bytes = 16 << 10; ///< request line + headers; larger: 431 HEADERS_TOO_LARGE
  /// Once a request's first byte arrived, its headers and body must arrive within this, or the
  /// connection is closed (slowloris). Reset for the body after a "100 Continue".
  std::chrono::milliseconds read_timeout{10'000};
  /// A connection with no request under way (fresh, or keep-alive between requests) is closed
  /// after this long.
  std::chrono::milliseconds idle_timeout{15'000};
  /// Each write (a response, a stream chunk) must complete within this, or the client is dropped.
  std::chrono::milliseconds write_timeout{10'000};
  /// Open connections (WebSockets included). At the limit a new connection takes the place of the
  /// one that has been idle longest (no request under way), so idle sockets cannot lock others
  /// out; when none is idle it is answered 503 UNAVAILABLE and closed.
  std::size_t max_connections = 1024;
  /// Open HTTP connections from one client address (IPv4 address, or IPv6 /64); more are
  /// answered 503 and closed. 0: no per-address limit.
  std::size_t max_connections_per_address = 256;
  /// Streamed bytes queued but not yet sent; a client that falls this far behind is disconnected.
  std::size_t max_stream_buffer_bytes = 4 << 20;
  std::string server_header = "parley";
};

/// The reply channel of an asynchronous handler: one complete response (send), or a stream
/// (start / write... / finish). Threading: every method is thread-safe and non-blocking, may be
/// called from any thread, and keeps working (returning false) after the client left or the
/// server stopped. Calls from one thread are delivered in order.
///
///   server.route_async(Method::kGet, "/v1/stream", [](Request req, std::shared_ptr<ResponseWriter> w) {
///     w->start_sse();
///     w->on_close([gen] { gen->cancel(); });            // client went away
///     producer.run([w](std::string token) { return w->write_event(token, "token"); },
///                  [w] { w->finish(); });              // later, from another thread
///   });
///
/// Ownership: the handler (and whatever it hands the writer to) owns it. If the last reference
/// goes without send() or finish(), an unstarted response becomes a 500 (and a PARLEY_BUG) and a
/// started stream is cut by closing the connection (the client sees it incomplete).
class ResponseWriter {
 public:
  struct Impl;
  explicit ResponseWriter(std::shared_ptr<Impl> impl);
  ~ResponseWriter();
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  /// Sends one complete response. False when a response was already sent or started, or the
  /// connection is gone.
  bool send(Response response);
  /// Starts a streamed response: status line and headers go out now, the body in chunks
  /// (Transfer-Encoding: chunked; HTTP/1.0 clients get a body ended by closing the connection).
  bool start(int status, std::string content_type, Headers headers = {});
  /// start(200, "text/event-stream") with Cache-Control: no-cache and X-Accel-Buffering: no.
  bool start_sse();
  /// Queues `data` as body bytes; sent as soon as the connection can take it. False when not
  /// started, already finished, gone, or past max_stream_buffer_bytes (then the connection is
  /// closed: the client is too slow).
  bool write(std::string_view data);
  /// write(format_sse_event(data, event, id)).
  bool write_event(std::string_view data, std::string_view event = {}, std::string_view id = {});
  /// write(format_sse_comment(text)): a keep-alive ping.
  bool write_comment(std::string_view text);
  /// Ends a started stream. Queued data is sent first; then the connection serves its next
  /// request (keep-alive).
  bool finish();
  /// True once nothing more can be sent: finished, client gone, too slow, or server stopped.
  bool closed() const;
  /// `fn` runs once, on an I/O thread, if the connection closes before the response completed
  /// (client disconnect, write timeout, server stop) — the producer's cue to stop. Runs at once
  /// (on the caller's thread) if that already happened. Must not block.
  void on_close(std::function<void()> fn);

 private:
  std::shared_ptr<Impl> impl_;
};

/// Synchronous handler: runs on an I/O thread, so it must be quick (no blocking I/O, no model
/// calls). An exception becomes a logged 500 INTERNAL; the server keeps serving.
using Handler = std::function<Response(const Request&)>;
/// Asynchronous handler: owns the request, replies through the writer now or later, from any thread.
using AsyncHandler = std::function<void(Request, std::shared_ptr<ResponseWriter>)>;

/// The server: its own io_context and `threads` I/O threads.
///
///   Server server({.host = "127.0.0.1", .port = 0});
///   server.route(Method::kGet, "/v1/sessions/{id}", [](const Request& r) {
///     return Response::json(200, "{\"id\":" + json_string(r.path_param("id")) + "}");
///   });
///   PARLEY_RETURN_IF_ERROR(server.start());
///   int port = server.port();
///   ...
///   server.stop();   // graceful: finishes in-flight requests, up to the grace period
///
/// Errors the server answers itself, as json_error bodies: 400 BAD_REQUEST (malformed request or
/// target), 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED (with Allow), 413 PAYLOAD_TOO_LARGE,
/// 431 HEADERS_TOO_LARGE, 500 INTERNAL (handler threw), 503 UNAVAILABLE (too many connections, in
/// all or from one address). Error messages quote at most a short excerpt of the request.
///
/// Threading: route() before start(), from one thread; start(), stop() and the accessors from
/// any thread. Not copyable or movable.
class Server {
 public:
  explicit Server(ServerOptions options = {});
  /// stop(0) when still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Registers a handler for `method` and `pattern` (see Router: "/metrics",
  /// "/v1/sessions/{id}"). A bad or duplicate pattern is reported by start().
  void route(Method method, std::string pattern, Handler handler);
  void route_async(Method method, std::string pattern, AsyncHandler handler);
  /// A GET route that upgrades to a WebSocket (websocket.h): `handler` decides (refuse with a
  /// response, or accept with limits and the connection's callbacks). A GET without an upgrade
  /// is answered 426 UPGRADE_REQUIRED once `handler` accepted it (its refusals come first). Open connections count towards max_connections; stop()
  /// closes them with 1001 (going away), and cuts those still open after the grace period.
  void route_websocket(std::string pattern, WebSocketHandler handler);

  /// Binds, listens and starts the I/O threads. Errors: the first bad route (kInvalidArgument /
  /// kAlreadyExists), an unresolvable host, a port in use (kUnavailable), already started
  /// (kFailedPrecondition).
  Status start();
  /// The bound port (the real one when options.port was 0); 0 before start().
  std::uint16_t port() const;
  /// "host:port" as bound, e.g. "127.0.0.1:40123" ("[::1]:40123" for IPv6).
  std::string address() const;
  bool running() const;
  /// Open connections, WebSockets included (for tests and a gauge).
  std::size_t connection_count() const;
  /// Idle connections closed to make room for new ones (max_connections reached).
  std::size_t idle_evictions() const;

  /// Graceful stop: closes the listener and idle connections at once, lets requests and streams
  /// in progress finish for up to `grace`, then closes what is left (their writers report
  /// closed, on_close callbacks run) and joins the I/O threads. Idempotent. Blocks; never call
  /// it from a handler.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::http
