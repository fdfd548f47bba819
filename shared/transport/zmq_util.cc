// libzmq helpers: context, options, sends, monitor events.
// Exists so option handling and error text are written once.
// Depends on libzmq, shared/common.
#include "shared/transport/zmq_util.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "shared/common/check.h"

namespace parley::transport::detail {

void* shared_context() {
  // Leaked on purpose: zmq_ctx_term at static destruction would block on any socket still open.
  static void* ctx = [] {
    void* c = zmq_ctx_new();
    PARLEY_CHECK(c != nullptr) << "zmq_ctx_new: " << zmq_strerror(errno);
    zmq_ctx_set(c, ZMQ_BLOCKY, 0);
    return c;
  }();
  return ctx;
}

std::string zmq_error_text(int err) { return std::string(zmq_strerror(err)) + " (errno " + std::to_string(err) + ")"; }

Status set_int(void* socket, int option, int value, std::string_view name) {
  if (zmq_setsockopt(socket, option, &value, sizeof(value)) != 0) {
    return invalid_argument("zmq_setsockopt " + std::string(name) + "=" + std::to_string(value) + ": " +
                            zmq_error_text(errno));
  }
  return Status::ok();
}

Status set_int64(void* socket, int option, std::int64_t value, std::string_view name) {
  if (zmq_setsockopt(socket, option, &value, sizeof(value)) != 0) {
    return invalid_argument("zmq_setsockopt " + std::string(name) + "=" + std::to_string(value) + ": " +
                            zmq_error_text(errno));
  }
  return Status::ok();
}

Status set_bytes(void* socket, int option, std::string_view value, std::string_view name) {
  if (zmq_setsockopt(socket, option, value.data(), value.size()) != 0) {
    return invalid_argument("zmq_setsockopt " + std::string(name) + ": " + zmq_error_text(errno));
  }
  return Status::ok();
}

std::string last_endpoint(void* socket) {
  char buf[1024];
  size_t len = sizeof(buf);
  if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, buf, &len) != 0 || len == 0) return {};
  return std::string(buf, strnlen(buf, len));
}

void close_socket(void* socket) {
  if (socket == nullptr) return;
  int zero = 0;
  zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_close(socket);
}

bool endpoint_is_ipv6(std::string_view endpoint) {
  auto scheme = endpoint.find("://");
  return endpoint.starts_with("tcp://") && scheme != std::string_view::npos &&
         endpoint.find('[', scheme) != std::string_view::npos;
}

Status apply_heartbeat(void* socket, const Heartbeat& hb) {
  if (hb.interval.count() > 0) {
    PARLEY_RETURN_IF_ERROR(set_int(socket, ZMQ_HEARTBEAT_IVL, static_cast<int>(hb.interval.count()), "ZMQ_HEARTBEAT_IVL"));
  }
  if (hb.timeout.count() > 0) {
    PARLEY_RETURN_IF_ERROR(
        set_int(socket, ZMQ_HEARTBEAT_TIMEOUT, static_cast<int>(hb.timeout.count()), "ZMQ_HEARTBEAT_TIMEOUT"));
  }
  if (hb.ttl.count() > 0) {
    // The wire carries the TTL in deciseconds; libzmq rounds down, so keep at least 100 ms.
    int ttl = static_cast<int>(std::max<std::int64_t>(hb.ttl.count(), 100));
    PARLEY_RETURN_IF_ERROR(set_int(socket, ZMQ_HEARTBEAT_TTL, ttl, "ZMQ_HEARTBEAT_TTL"));
  }
  return Status::ok();
}

namespace {
void free_string(void* /*data*/, void* hint) { delete static_cast<std::string*>(hint); }
}  // namespace

int send_string(void* socket, std::string&& bytes, int flags) {
  if (bytes.size() <= 64) return send_copy(socket, bytes, flags);
  auto* owned = new std::string(std::move(bytes));
  zmq_msg_t msg;
  if (zmq_msg_init_data(&msg, owned->data(), owned->size(), free_string, owned) != 0) {
    int err = errno;
    delete owned;
    return err;
  }
  if (zmq_msg_send(&msg, socket, flags) < 0) {
    int err = errno;
    zmq_msg_close(&msg);  // runs free_string
    return err;
  }
  return 0;
}

int send_copy(void* socket, std::string_view bytes, int flags) {
  if (zmq_send(socket, bytes.data(), bytes.size(), flags) < 0) return errno;
  return 0;
}

Message serialize(const google::protobuf::MessageLite& message) {
  Message out;
  const std::size_t size = message.ByteSizeLong();
  zmq_msg_close(out.get());
  zmq_msg_init_size(out.get(), size);
  message.SerializeWithCachedSizesToArray(static_cast<std::uint8_t*>(zmq_msg_data(out.get())));
  return out;
}

int send_message(void* socket, Message& message, int flags) {
  if (zmq_msg_send(message.get(), socket, flags) < 0) return errno;
  return 0;
}

int socket_fd(void* socket) {
  int fd = -1;
  size_t len = sizeof(fd);
  if (zmq_getsockopt(socket, ZMQ_FD, &fd, &len) != 0) return -1;
  return fd;
}

bool read_monitor_event(void* monitor, MonitorEvent* out) {
  zmq_msg_t first;
  zmq_msg_init(&first);
  if (zmq_msg_recv(&first, monitor, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&first);
    return false;
  }
  // A short frame is not an event, but it was a message: report it (event 0, ignored) so the
  // caller keeps reading to EAGAIN, which is what re-arms the monitor's ZMQ_FD.
  out->event = 0;
  out->value = 0;
  if (zmq_msg_size(&first) >= 6) {
    const auto* data = static_cast<const std::uint8_t*>(zmq_msg_data(&first));
    std::memcpy(&out->event, data, sizeof(out->event));
    std::memcpy(&out->value, data + 2, sizeof(out->value));
  }
  bool more = zmq_msg_more(&first) != 0;
  zmq_msg_close(&first);
  out->endpoint.clear();
  while (more) {
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, monitor, 0) < 0) {
      zmq_msg_close(&part);
      break;
    }
    out->endpoint.assign(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
    more = zmq_msg_more(&part) != 0;
    zmq_msg_close(&part);
  }
  return true;
}

}  // namespace parley::transport::detail
