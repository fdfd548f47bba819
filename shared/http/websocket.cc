// Server-side WebSocket connections (see websocket.h): handshake, a read loop delivering whole
// messages, a bounded write queue, graceful and forced closes, and the registry the server
// closes them through. The only file that includes Beast's websocket headers.
// Depends on websocket_upgrade.h, Boost.Beast websocket, shared/common/log.h.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <optional>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/http/websocket_upgrade.h"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace detail {
namespace {

constexpr std::size_t kMaxReasonBytes = 123;  // a close frame's payload is at most 125 bytes
constexpr std::size_t kReadChunk = 16 << 10;  // bytes per read of a message

class Connection;

}  // namespace
}  // namespace detail

struct WebSocket::Impl {
  std::weak_ptr<detail::Connection> conn;
  std::shared_ptr<detail::Gate> gate;
  std::size_t max_queued = 0;
  std::atomic<std::size_t> queued{0};
  std::atomic<bool> closing{false};
  std::string remote;

  // Posts `fn(connection)` to the connection's strand; false when it or the server is gone.
  template <typename Fn>
  bool post(Fn fn);
  bool send(std::string data, bool binary);
};

namespace detail {
namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(beast::tcp_stream stream, boost::beast::http::request<boost::beast::http::string_body> request,
             std::string remote, std::string server_header, WebSocketAccept accept, std::shared_ptr<Gate> gate,
             std::shared_ptr<WebSocketRegistry> registry)
      : ws_(std::move(stream)),
        request_(std::move(request)),
        remote_(std::move(remote)),
        server_header_(std::move(server_header)),
        accept_(std::move(accept)),
        gate_(std::move(gate)),
        registry_(std::move(registry)),
        close_timer_(ws_.get_executor()) {}

  ~Connection() { registry_->remove(this); }

  asio::any_io_executor executor() { return ws_.get_executor(); }

  void start() {
    const WebSocketOptions& o = accept_.options;
    beast::error_code ec;
    if (o.socket_send_buffer_bytes > 0) {
      beast::get_lowest_layer(ws_).socket().set_option(asio::socket_base::send_buffer_size(o.socket_send_buffer_bytes), ec);
    }
    beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts take over
    websocket::stream_base::timeout t{};
    t.handshake_timeout = o.handshake_timeout;
    t.idle_timeout = o.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    // The limit is enforced in on_read, which closes with 1009 gracefully (the rest of the message
    // is drained by the close handshake); Beast's own limit, far above, only stops absurd frame
    // headers (its hard failure resets the connection and the client may never see the code).
    ws_.read_message_max(4 * o.max_message_bytes + kReadChunk);
    ws_.set_option(websocket::stream_base::decorator(
        [server = server_header_, sub = o.subprotocol](websocket::response_type& res) {
          res.set(boost::beast::http::field::server, server);
          if (!sub.empty()) res.set(boost::beast::http::field::sec_websocket_protocol, sub);
        }));
    // Registered before the handshake so a server stop reaches connections still handshaking.
    registry_->add(this, [weak = weak_from_this()](std::uint16_t code, bool force) {
      if (auto self = weak.lock()) {
        asio::post(self->executor(), [self, code, force] {
          if (force) {
            self->cut();
          } else {
            self->request_close(code, "server shutting down", /*flush=*/false);
          }
        });
      }
    });
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  // ---- from the handle (on the strand) ----

  void enqueue(std::string data, bool binary) {
    if (close_requested_ || finished_) {
      handle_->queued.fetch_sub(data.size());
      return;
    }
    out_.push_back(Out{std::move(data), binary});
    pump();
  }

  void overflow(std::size_t queued) {
    PARLEY_LOG_EVERY_MS(kWarn, 5000) << "WebSocket client " << remote_ << " is not reading: " << queued
                                     << " bytes queued; closing it";
    request_close(ws_close::kPolicyViolation,
                  "client is not reading: over " + std::to_string(accept_.options.max_queued_bytes) + " bytes queued",
                  /*flush=*/false);
  }

  // Closes after what is queued (flush) or at once, dropping it. The first request wins.
  void request_close(std::uint16_t code, std::string reason, bool flush) {
    if (finished_) return;
    if (close_requested_) {
      if (!flush) drop_queue();
      return;
    }
    close_requested_ = true;
    if (handle_) handle_->closing.store(true);
    close_code_ = code;
    if (reason.size() > kMaxReasonBytes) reason.resize(kMaxReasonBytes);
    close_reason_ = std::move(reason);
    if (!flush) drop_queue();
    // Whatever happens (a write stuck behind a client that does not read), the socket is cut
    // after close_timeout.
    close_timer_.expires_after(accept_.options.close_timeout + (flush ? accept_.options.idle_timeout : std::chrono::milliseconds(0)));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->cut();
    });
    if (!accepted_) {
      cut();  // still handshaking: nothing to say goodbye on
      return;
    }
    pump();
  }

  // Cuts the connection now (server stop past its grace, a close that got no answer).
  void cut() {
    if (finished_) return;
    if (!close_requested_) {
      close_requested_ = true;
      close_code_ = ws_close::kGoingAway;
      close_reason_ = "server shutting down";
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
    finish(close_code_, close_reason_);
  }

  std::shared_ptr<WebSocket::Impl> handle_;

 private:
  struct Out {
    std::string data;
    bool binary = false;
  };

  void on_accept(beast::error_code ec) {
    if (ec) {
      PARLEY_LOG(kDebug) << "WebSocket handshake with " << remote_ << " failed: " << ec.message();
      finished_ = true;
      registry_->remove(this);
      return;
    }
    accepted_ = true;
    if (close_requested_) return cut();
    auto impl = std::make_shared<WebSocket::Impl>();
    impl->conn = weak_from_this();
    impl->gate = gate_;
    impl->max_queued = accept_.options.max_queued_bytes;
    impl->remote = remote_;
    handle_ = impl;
    try {
      handlers_ = accept_.on_open(std::make_shared<WebSocket>(impl));
    } catch (const std::exception& e) {
      PARLEY_BUG() << "WebSocket on_open threw: " << e.what();
      return request_close(ws_close::kInternalError, "internal error", false);
    }
    accept_.on_open = nullptr;
    read();
  }

  void read() {
    ws_.async_read_some(in_, kReadChunk, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (finished_) return;
    if (ec) {
      if (close_requested_) return finish(close_code_, close_reason_);
      if (ec == websocket::error::closed) {
        const auto& r = ws_.reason();
        return finish(r.code == websocket::close_code::none ? ws_close::kNormal : static_cast<std::uint16_t>(r.code),
                      std::string(r.reason.c_str()));
      }
      if (ec == websocket::error::message_too_big) {
        // Beast has sent the close frame (1009) itself.
        return finish(ws_close::kMessageTooBig,
                      "message over " + std::to_string(accept_.options.max_message_bytes) + " bytes");
      }
      PARLEY_LOG(kDebug) << "WebSocket " << remote_ << " read failed: " << ec.message();
      return finish(ws_close::kAbnormal, ec.message());
    }
    if (in_.size() > accept_.options.max_message_bytes) {
      // Stop reading: the close handshake reads (and drops) the rest of the message.
      in_.consume(in_.size());
      return request_close(ws_close::kMessageTooBig,
                           "message over " + std::to_string(accept_.options.max_message_bytes) + " bytes",
                           /*flush=*/false);
    }
    if (!ws_.is_message_done()) return read();
    const bool binary = ws_.got_binary();
    const auto data = in_.cdata();
    std::string_view view(static_cast<const char*>(data.data()), data.size());
    if (handlers_.on_message) {
      try {
        handlers_.on_message(view, binary);
      } catch (const std::exception& e) {
        PARLEY_BUG() << "WebSocket on_message threw: " << e.what();
      }
    }
    in_.consume(in_.size());
    if (!finished_) read();
  }

  void pump() {
    if (writing_ || finished_ || !accepted_) return;
    if (!out_.empty()) {
      writing_ = true;
      current_ = std::move(out_.front());
      out_.pop_front();
      ws_.binary(current_.binary);
      ws_.async_write(asio::buffer(current_.data), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_written(ec);
      });
      return;
    }
    if (close_requested_ && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                      [self = shared_from_this()](beast::error_code) {
                        // The close handshake is over (or failed: the client is gone).
                        self->writing_ = false;
                        self->finish(self->close_code_, self->close_reason_);
                      });
    }
  }

  void on_written(beast::error_code ec) {
    writing_ = false;
    if (handle_) handle_->queued.fetch_sub(current_.data.size());
    current_.data.clear();
    if (ec) {
      if (close_requested_) return finish(close_code_, close_reason_);
      PARLEY_LOG(kDebug) << "WebSocket " << remote_ << " write failed: " << ec.message();
      return cut_abnormal(ec.message());
    }
    pump();
  }

  void cut_abnormal(const std::string& why) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    finish(ws_close::kAbnormal, why);
  }

  void drop_queue() {
    std::size_t n = 0;
    for (auto& o : out_) n += o.data.size();
    out_.clear();
    if (handle_) handle_->queued.fetch_sub(n);
  }

  void finish(std::uint16_t code, const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    if (handle_) handle_->closing.store(true);
    close_timer_.cancel();
    drop_queue();
    registry_->remove(this);
    auto on_close = std::move(handlers_.on_close);
    handlers_ = {};
    if (on_close) {
      try {
        on_close(code, reason);
      } catch (const std::exception& e) {
        PARLEY_BUG() << "WebSocket on_close threw: " << e.what();
      }
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::string remote_;
  std::string server_header_;
  WebSocketAccept accept_;
  std::shared_ptr<Gate> gate_;
  std::shared_ptr<WebSocketRegistry> registry_;
  asio::steady_timer close_timer_;
  WebSocketHandlers handlers_;
  beast::flat_buffer in_;
  std::deque<Out> out_;
  Out current_;
  bool accepted_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  std::uint16_t close_code_ = ws_close::kNormal;
  std::string close_reason_;
};

}  // namespace

// ---- WebSocketRegistry ----

void WebSocketRegistry::add(const void* key, CloseFn close) {
  std::lock_guard lock(mu_);
  open_[key] = std::move(close);
}

void WebSocketRegistry::remove(const void* key) {
  std::lock_guard lock(mu_);
  if (open_.erase(key) > 0) cv_.notify_all();
}

std::size_t WebSocketRegistry::size() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

void WebSocketRegistry::close_all(bool force) {
  std::vector<CloseFn> fns;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, fn] : open_) fns.push_back(fn);
  }
  for (auto& fn : fns) fn(ws_close::kGoingAway, force);
}

bool WebSocketRegistry::wait_empty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return open_.empty(); });
}

void start_websocket(beast::tcp_stream stream, boost::beast::http::request<boost::beast::http::string_body> request,
                     std::string remote_address, std::string server_header, WebSocketAccept accept,
                     std::shared_ptr<Gate> gate, std::shared_ptr<WebSocketRegistry> registry) {
  auto c = std::make_shared<Connection>(std::move(stream), std::move(request), std::move(remote_address),
                                        std::move(server_header), std::move(accept), std::move(gate), std::move(registry));
  c->start();
}

}  // namespace detail

// ---- WebSocket (the handle) ----

template <typename Fn>
bool WebSocket::Impl::post(Fn fn) {
  std::lock_guard<std::mutex> lock(gate->mu);
  if (!gate->open) return false;
  std::shared_ptr<detail::Connection> c = conn.lock();
  if (!c) return false;
  asio::post(c->executor(), [c, fn = std::move(fn)]() mutable { fn(*c); });
  return true;
}

bool WebSocket::Impl::send(std::string data, bool binary) {
  if (closing.load()) return false;
  const std::size_t n = data.size();
  const std::size_t now = queued.fetch_add(n) + n;
  if (now > max_queued) {
    queued.fetch_sub(n);
    closing.store(true);
    post([now](detail::Connection& c) { c.overflow(now); });
    return false;
  }
  if (!post([d = std::move(data), binary](detail::Connection& c) mutable { c.enqueue(std::move(d), binary); })) {
    queued.fetch_sub(n);
    return false;
  }
  return true;
}

WebSocket::WebSocket(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebSocket::~WebSocket() = default;

bool WebSocket::send_text(std::string data) { return impl_->send(std::move(data), false); }
bool WebSocket::send_binary(std::string data) { return impl_->send(std::move(data), true); }

void WebSocket::close(std::uint16_t code, std::string reason) {
  if (impl_->closing.exchange(true)) return;
  impl_->post([code, r = std::move(reason)](detail::Connection& c) mutable { c.request_close(code, std::move(r), true); });
}

std::size_t WebSocket::queued_bytes() const { return impl_->queued.load(); }
bool WebSocket::closed() const { return impl_->closing.load(); }
const std::string& WebSocket::remote_address() const { return impl_->remote; }

}  // namespace parley::http
