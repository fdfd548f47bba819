// Replica sockets: the DEALER a client keeps per replica (options, CURVE, monitor) and its
// tear-down. Exists so socket set-up is written once, apart from what the client does with it.
// Depends on replica.h, zmq_util.h, libzmq.
#include "shared/transport/replica.h"

#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "shared/transport/zmq_util.h"

namespace parley::transport::detail {
namespace {

constexpr int kMonitorEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

/// Z85 keys go to libzmq with their terminating NUL (the 41-byte form it documents).
std::string_view z85_option(const std::string& key) { return std::string_view(key.c_str(), key.size() + 1); }

}  // namespace

std::string describe(const Replica& r) {
  if (r.name.empty() || r.name == r.endpoint) return r.endpoint;
  return r.endpoint + " (" + r.name + ")";
}

Status open_replica_sockets(Replica& r, const ClientOptions& options, const CurveKeyPair& client_keys) {
  void* ctx = options.zmq_context ? options.zmq_context : shared_context();
  r.socket = zmq_socket(ctx, ZMQ_DEALER);
  if (r.socket == nullptr) return internal_error("zmq_socket(DEALER): " + zmq_error_text(errno));
  Status s = set_int(r.socket, ZMQ_LINGER, 0, "ZMQ_LINGER");
  // Queue nothing for a replica that is not connected: we only send to live ones, and stale
  // requests must not pile up behind a dead link.
  if (s.is_ok()) s = set_int(r.socket, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
  if (s.is_ok()) s = set_int(r.socket, ZMQ_SNDHWM, options.send_hwm, "ZMQ_SNDHWM");
  if (s.is_ok()) s = set_int(r.socket, ZMQ_RCVHWM, options.recv_hwm, "ZMQ_RCVHWM");
  if (s.is_ok()) s = set_int64(r.socket, ZMQ_MAXMSGSIZE, options.max_message_bytes, "ZMQ_MAXMSGSIZE");
  if (s.is_ok()) {
    s = set_int(r.socket, ZMQ_RECONNECT_IVL, static_cast<int>(options.reconnect_interval.count()),
                "ZMQ_RECONNECT_IVL");
  }
  if (s.is_ok()) {
    s = set_int(r.socket, ZMQ_RECONNECT_IVL_MAX, static_cast<int>(options.reconnect_interval_max.count()),
                "ZMQ_RECONNECT_IVL_MAX");
  }
  if (s.is_ok()) {
    s = apply_heartbeat(r.socket,
                        Heartbeat{options.heartbeat_interval, options.heartbeat_timeout, options.heartbeat_ttl});
  }
  if (s.is_ok() && endpoint_is_ipv6(r.endpoint)) s = set_int(r.socket, ZMQ_IPV6, 1, "ZMQ_IPV6");
  if (s.is_ok() && options.curve) {
    s = set_bytes(r.socket, ZMQ_CURVE_SERVERKEY, z85_option(options.curve->server_public_key), "ZMQ_CURVE_SERVERKEY");
    if (s.is_ok()) {
      s = set_bytes(r.socket, ZMQ_CURVE_PUBLICKEY, z85_option(client_keys.public_key), "ZMQ_CURVE_PUBLICKEY");
    }
    if (s.is_ok()) {
      s = set_bytes(r.socket, ZMQ_CURVE_SECRETKEY, z85_option(client_keys.secret_key), "ZMQ_CURVE_SECRETKEY");
    }
  }
  if (s.is_ok()) {
    // Process-wide numbering: libzmq unbinds a closed monitor's inproc name asynchronously, so
    // names are never reused (a new client at a recycled address would collide).
    static std::atomic<unsigned long long> monitor_counter{0};
    char name[64];
    std::snprintf(name, sizeof(name), "inproc://parley-client-monitor-%llu", monitor_counter.fetch_add(1));
    if (zmq_socket_monitor(r.socket, name, kMonitorEvents) != 0) {
      s = internal_error("zmq_socket_monitor: " + zmq_error_text(errno));
    } else {
      r.monitor = zmq_socket(ctx, ZMQ_PAIR);
      if (r.monitor == nullptr || zmq_connect(r.monitor, name) != 0) {
        s = internal_error("monitor socket: " + zmq_error_text(errno));
      }
    }
  }
  if (s.is_ok() && zmq_connect(r.socket, r.endpoint.c_str()) != 0) {
    s = invalid_argument("connect " + r.endpoint + ": " + zmq_error_text(errno));
  }
  if (s.is_ok()) {
    r.socket_fd = socket_fd(r.socket);
    r.monitor_fd = socket_fd(r.monitor);
    if (r.socket_fd < 0 || r.monitor_fd < 0) s = internal_error("ZMQ_FD: " + zmq_error_text(errno));
  }
  if (!s.is_ok()) close_replica_sockets(r);
  return s;
}

void close_replica_sockets(Replica& r) {
  if (r.socket != nullptr && r.monitor != nullptr) zmq_socket_monitor(r.socket, nullptr, 0);
  close_socket(r.monitor);
  close_socket(r.socket);
  r.monitor = nullptr;
  r.socket = nullptr;
  r.socket_fd = -1;
  r.monitor_fd = -1;
}

}  // namespace parley::transport::detail
