// Thin helpers over libzmq's C API used by the transport's client and server: the shared context,
// socket options with Status errors, zero-copy sends of std::string buffers, monitor events.
// Exists so option handling and error text are written once. Depends on libzmq, shared/common.
#pragma once

#include <google/protobuf/message_lite.h>
#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/common/status.h"

namespace parley::transport::detail {

/// The process-wide ZeroMQ context (one I/O thread, created on first use, never terminated so
/// that static destruction order cannot hang on a socket still open elsewhere).
void* shared_context();

/// zmq_strerror of `err`, with the number.
std::string zmq_error_text(int err);

Status set_int(void* socket, int option, int value, std::string_view name);
Status set_int64(void* socket, int option, std::int64_t value, std::string_view name);
Status set_bytes(void* socket, int option, std::string_view value, std::string_view name);

/// ZMQ_LAST_ENDPOINT: the endpoint the last bind actually got (port filled in for "*").
std::string last_endpoint(void* socket);

/// Sets ZMQ_LINGER 0 and closes (pending outgoing messages are dropped, never waited for).
void close_socket(void* socket);

/// True for tcp:// endpoints whose host is an IPv6 literal ("tcp://[::1]:7101").
bool endpoint_is_ipv6(std::string_view endpoint);

/// ZMTP heartbeats; each 0 leaves libzmq's default (off).
struct Heartbeat {
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};  // no traffic within this after a heartbeat: drop link
  std::chrono::milliseconds ttl{0};      // the peer drops us after this much silence
};
Status apply_heartbeat(void* socket, const Heartbeat& hb);

/// Sends `bytes` as one frame without copying (the message takes the string). `flags` are
/// zmq_msg_send flags (ZMQ_DONTWAIT, ZMQ_SNDMORE). Returns 0 or the errno of the failure.
int send_string(void* socket, std::string&& bytes, int flags);
/// Sends a small frame by copy. Returns 0 or errno.
int send_copy(void* socket, std::string_view bytes, int flags);

/// One owned zmq_msg_t (move-only), so a serialized message can travel between threads.
class Message {
 public:
  Message() { zmq_msg_init(&msg_); }
  Message(Message&& other) noexcept {
    zmq_msg_init(&msg_);
    zmq_msg_move(&msg_, &other.msg_);
  }
  Message& operator=(Message&& other) noexcept {
    if (this != &other) zmq_msg_move(&msg_, &other.msg_);
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { zmq_msg_close(&msg_); }
  zmq_msg_t* get() { return &msg_; }
  std::size_t size() { return zmq_msg_size(&msg_); }

 private:
  zmq_msg_t msg_;
};

/// Serializes `message` straight into a zmq message (one allocation, no copy).
Message serialize(const google::protobuf::MessageLite& message);
/// Sends and consumes `message`. Returns 0 or errno (the message is dropped either way).
int send_message(void* socket, Message& message, int flags);

/// ZMQ_FD of a socket: poll(2) it for POLLIN, then drain the socket until EAGAIN (the fd is a
/// notification, not a level: see zmq_getsockopt(3)).
int socket_fd(void* socket);

/// One socket-monitor event (the two-frame message of zmq_socket_monitor).
struct MonitorEvent {
  std::uint16_t event = 0;
  std::uint32_t value = 0;
  std::string endpoint;
};
/// Reads one event from a monitor PAIR socket without blocking; false when none is ready (EAGAIN).
/// A message too short to be an event comes back as event 0 (read on: EAGAIN re-arms ZMQ_FD).
bool read_monitor_event(void* monitor, MonitorEvent* out);

}  // namespace parley::transport::detail
