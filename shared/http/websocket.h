// Server-side WebSocket connections (RFC 6455) on the HTTP server: the upgrade decision a route
// makes, the limits of a connection, and the thread-safe handle to send on and close it.
// Exists for the dialog's live voice sessions (binary audio and JSON events both ways on one
// connection, with bounded buffers); Beast stays inside websocket.cc. Depends on message.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "shared/http/message.h"

namespace parley::http {

/// Close codes (RFC 6455 section 7.4.1) the server uses.
namespace ws_close {
inline constexpr std::uint16_t kNormal = 1000;           ///< done
inline constexpr std::uint16_t kGoingAway = 1001;        ///< server shutting down
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kUnsupportedData = 1003;  ///< e.g. text where binary was expected
inline constexpr std::uint16_t kAbnormal = 1006;         ///< reported only: the connection dropped without a close frame
inline constexpr std::uint16_t kInvalidPayload = 1007;   ///< a frame whose content is malformed
inline constexpr std::uint16_t kPolicyViolation = 1008;  ///< e.g. the client does not read what it is sent
inline constexpr std::uint16_t kMessageTooBig = 1009;    ///< a message over max_message_bytes
inline constexpr std::uint16_t kInternalError = 1011;
inline constexpr std::uint16_t kTryAgainLater = 1013;    ///< overloaded
}  // namespace ws_close

/// Limits of one connection. Every one is explicit.
struct WebSocketOptions {
  /// A message from the client larger than this closes the connection with 1009.
  std::size_t max_message_bytes = 1 << 20;
  /// Bytes handed to send_*() and not yet written to the socket. Beyond this the client is not
  /// keeping up (or not reading): what is queued is dropped and the connection is closed with
  /// 1008; send_*() returns false.
  std::size_t max_queued_bytes = 4 << 20;
  /// Nothing from the client (data, pong) for this long: a ping is sent at half of it, and the
  /// connection is dropped at the end of it (a vanished client is noticed).
  std::chrono::milliseconds idle_timeout{30'000};
  /// The opening handshake must complete within this.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// After the server's close frame, the client has this long to answer before the socket is cut.
  std::chrono::milliseconds close_timeout{2'000};
  /// SO_SNDBUF of the socket; 0 keeps the OS default (tests lower it to fill buffers fast).
  int socket_send_buffer_bytes = 0;
  /// Echoed as Sec-WebSocket-Protocol in the handshake when not empty (the client must have offered it).
  std::string subprotocol;
};

/// An open connection. Thread-safe and non-blocking: every method may be called from any thread
/// and keeps working (returning false) after the connection is gone. Messages sent from one
/// thread are delivered in order.
class WebSocket {
 public:
  struct Impl;
  explicit WebSocket(std::shared_ptr<Impl> impl);
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  /// Queues a text (UTF-8) message. False when closing/closed or the queue limit was passed
  /// (then the connection is being closed with 1008).
  bool send_text(std::string data);
  /// Queues a binary message (same rules).
  bool send_binary(std::string data);
  /// Closes with `code` and `reason` (<= 123 bytes, cut otherwise) after the messages already
  /// queued are sent. Idempotent: the first close wins.
  void close(std::uint16_t code, std::string reason);
  /// Bytes queued and not yet written.
  std::size_t queued_bytes() const;
  /// True once closing or closed.
  bool closed() const;
  /// "127.0.0.1:54321".
  const std::string& remote_address() const;

 private:
  std::shared_ptr<Impl> impl_;
};

/// What a route does with an open connection. Every callback runs on the connection's I/O
/// strand, one at a time, and must not block.
struct WebSocketHandlers {
  /// One complete message from the client; `binary` false for a text message.
  std::function<void(std::string_view data, bool binary)> on_message;
  /// Exactly once, when the connection is over: the client's close code, the server's own
  /// (close() or a limit), or 1006 when it dropped. Nothing is delivered after it.
  std::function<void(std::uint16_t code, const std::string& reason)> on_close;
};

/// A route's yes to an upgrade.
struct WebSocketAccept {
  WebSocketOptions options;
  /// Runs on the I/O strand once the handshake completed; returns the connection's handlers.
  /// Not called when the handshake fails.
  std::function<WebSocketHandlers(std::shared_ptr<WebSocket>)> on_open;
};

/// A route's answer to an upgrade request: an HTTP response (refusal: 401, 404, 429, ...) or accept.
using WebSocketDecision = std::variant<Response, WebSocketAccept>;

/// Decides an upgrade. Runs on an I/O thread: quick, no blocking calls. A GET without
/// `Upgrade: websocket` on such a route is answered 426 by the server before this runs.
using WebSocketHandler = std::function<WebSocketDecision(const Request&)>;

}  // namespace parley::http
