// Internal to shared/http: how server.cc hands an upgraded connection to websocket.cc, and the
// registry the server uses to close WebSocket connections when it stops. Not for handlers.
// Exists so Beast's websocket headers are compiled in websocket.cc only. Depends on Beast core/http.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "shared/http/websocket.h"

namespace parley::http::detail {

// Writers, WebSocket handles and the server's teardown meet here: a handle posts to its
// connection only while the gate is open, and the server closes it before destroying the
// io_context. That is what lets handles outlive the server safely.
struct Gate {
  std::mutex mu;
  bool open = true;
};

/// The open WebSocket connections of one server.
class WebSocketRegistry {
 public:
  /// `close` asks the connection (from any thread) to close: gracefully with `code`, or at once
  /// (`force`: the socket is cut).
  using CloseFn = std::function<void(std::uint16_t code, bool force)>;
  void add(const void* key, CloseFn close);
  void remove(const void* key);
  std::size_t size() const;
  /// Asks every connection to close (1001 "server shutting down", or cut with `force`).
  void close_all(bool force);
  /// Waits until no connection is left or `timeout` passes; true when none is left.
  bool wait_empty(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<const void*, CloseFn> open_;  // guarded by mu_
};

/// Runs the WebSocket handshake on `stream` for `request` (an upgrade the route accepted), then
/// the connection. Runs on the stream's strand. The connection keeps itself alive.
void start_websocket(boost::beast::tcp_stream stream, boost::beast::http::request<boost::beast::http::string_body> request,
                     std::string remote_address, std::string server_header, WebSocketAccept accept,
                     std::shared_ptr<Gate> gate, std::shared_ptr<WebSocketRegistry> registry);

}  // namespace parley::http::detail
