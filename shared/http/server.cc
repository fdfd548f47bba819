// The HTTP/1.1 server: listener, per-connection sessions, limits, keep-alive, streamed responses.
// Why one (long) file: it is the only translation unit that includes Beast — about 20 s of compile
// on our 2-core CI — so the session state machine, the writer and the listener stay together
// here; handlers see only message.h. Depends on Boost.Asio/Beast, router, sse, shared/common.
#include "shared/http/server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "shared/common/utf8.h"
#include "shared/http/router.h"
#include "shared/http/sse.h"
#include "shared/http/websocket_upgrade.h"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kDrainTimeout = std::chrono::milliseconds(500);
constexpr std::size_t kDrainMaxBytes = 256 << 10;

using detail::Gate;

struct RouteEntry {
  Handler sync;
  AsyncHandler async;
  WebSocketHandler websocket;
};

class Session;

}  // namespace

// ----------------------------------------------------------------------------------------------
// Server::Impl
// ----------------------------------------------------------------------------------------------

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  ServerOptions options;
  Router router;
  std::vector<RouteEntry> routes;
  Status route_error;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::shared_ptr<detail::WebSocketRegistry> websockets = std::make_shared<detail::WebSocketRegistry>();

  // Declared before the io_context: sessions destroyed with its pending handlers unregister here.
  mutable std::mutex sessions_mu;
  std::condition_variable sessions_cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by sessions_mu
  std::unordered_map<std::string, std::size_t> per_address;        // guarded by sessions_mu
  std::atomic<std::size_t> evictions{0};

  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::uint16_t bound_port = 0;
  std::string bound_address;

  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;  // on its own strand
  std::optional<asio::steady_timer> accept_retry;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::mutex stop_mu;  // serializes stop()

  void do_accept();
  void run_thread();
  void close_all(bool only_idle);
};

// ----------------------------------------------------------------------------------------------
// ResponseWriter::Impl: shared between the handler's writer and the session.
// ----------------------------------------------------------------------------------------------

struct ResponseWriter::Impl {
  std::weak_ptr<Session> session;
  std::shared_ptr<Gate> gate;
  std::size_t max_queued = 0;
  std::atomic<bool> started{false};   // start() accepted
  std::atomic<bool> done{false};      // send() or finish() accepted: nothing more to send
  std::atomic<bool> closed{false};    // connection gone (or finished)
  std::atomic<std::size_t> queued{0};

  std::mutex cb_mu;
  std::function<void()> on_close;  // guarded by cb_mu
  bool close_settled = false;      // guarded by cb_mu: on_close ran or can no longer run

  // Posts `fn(session)` to the session's strand; false when the session or server is gone.
  template <typename Fn>
  bool post(Fn fn);

  // The connection closed before the response completed: run on_close once.
  void fire_close() {
    closed.store(true);
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(cb_mu);
      if (close_settled) return;
      close_settled = true;
      fn = std::move(on_close);
    }
    if (!fn) return;
    try {
      fn();
    } catch (const std::exception& e) {
      PARLEY_BUG() << "http on_close callback threw: " << e.what();
    } catch (...) {
      PARLEY_BUG() << "http on_close callback threw";
    }
  }

  // The response completed normally: on_close will never run.
  void settle() {
    closed.store(true);
    std::lock_guard<std::mutex> lock(cb_mu);
    close_settled = true;
    on_close = nullptr;
  }
};

namespace {

std::string endpoint_string(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// What the per-address limit counts by: the IPv4 address, or the IPv6 /64 (one host controls a
// whole /64); IPv4-mapped IPv6 as IPv4.
std::string address_key(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  if (a.is_v4()) return a.to_string();
  auto b = a.to_v6().to_bytes();
  for (std::size_t i = 8; i < 16; ++i) b[i] = 0;
  return asio::ip::address_v6(b).to_string() + "/64";
}

enum class Admission { kAccept, kTooMany, kTooManyFromAddress };

// One connection. Every member is touched only on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket, std::string address)
      : server_(server), stream_(std::move(socket)), address_(std::move(address)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : endpoint_string(ep);
  }

  ~Session() {
    std::lock_guard<std::mutex> lock(server_.sessions_mu);
    if (server_.sessions.erase(this) > 0) {
      auto it = server_.per_address.find(address_);
      if (it != server_.per_address.end() && --it->second == 0) server_.per_address.erase(it);
    }
    server_.sessions_cv.notify_all();
  }

  /// Since when (steady clock, ns) the connection has been waiting for a request; 0 while one is
  /// under way or after it closed. Read by the acceptor to pick an idle connection to evict.
  std::int64_t idle_since() const { return idle_since_.load(std::memory_order_relaxed); }

  asio::any_io_executor get_executor_for_post() { return stream_.get_executor(); }

  // Called by the acceptor with sessions_mu held: the session is counted from here on.
  void register_locked() {
    server_.sessions.emplace(this, weak_from_this());
    ++server_.per_address[address_];
  }

  void start(Admission admission) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), admission] {
      if (admission == Admission::kTooMany) {
        self->keep_alive_ = false;
        self->send_error(503, kUnavailable, "too many connections; retry later");
      } else if (admission == Admission::kTooManyFromAddress) {
        self->keep_alive_ = false;
        self->send_error(503, kUnavailable, "too many connections from your address; retry later");
      } else {
        self->read_request();
      }
    });
  }

  // Called on the strand by Server::stop().
  void shutdown(bool only_idle) {
    if (state_ == State::kClosed) return;
    keep_alive_ = false;
    if (!only_idle || state_ == State::kIdle) close();
  }

  // ---- writer operations (on the strand) ----

  void writer_send(const std::shared_ptr<ResponseWriter::Impl>& w, Response response) {
    if (w != writer_ || state_ != State::kAwaitingAsync) return;
    write_response(std::move(response), /*close_after=*/false);
  }

  void writer_start(const std::shared_ptr<ResponseWriter::Impl>& w, int status, std::string content_type,
                    Headers headers) {
    if (w != writer_ || state_ != State::kAwaitingAsync) return;
    state_ = State::kStreaming;
    stream_header_.emplace();
    auto& h = *stream_header_;
    h.version(version_);
    h.result(static_cast<unsigned>(status));
    h.set(bhttp::field::server, server_.options.server_header);
    h.set(bhttp::field::content_type, content_type);
    for (const auto& [k, v] : headers.fields()) h.insert(k, v);
    if (version_ >= 11) {
      h.chunked(true);
      h.keep_alive(keep_alive_);
    } else {
      raw_stream_ = true;  // HTTP/1.0: no chunked encoding; the body ends when we close
      keep_alive_ = false;
      h.keep_alive(false);
    }
    serializer_.emplace(h);
    writing_ = true;
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write_header(stream_, *serializer_,
                              [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                self->on_stream_written(ec, 0);
                              });
  }

  void writer_write(const std::shared_ptr<ResponseWriter::Impl>& w, std::string data) {
    if (w != writer_ || state_ != State::kStreaming) {
      w->queued.fetch_sub(data.size());
      return;
    }
    if (head_) {  // a HEAD request gets the headers only
      w->queued.fetch_sub(data.size());
      return;
    }
    pending_.push_back(std::move(data));
    pump();
  }

  void writer_finish(const std::shared_ptr<ResponseWriter::Impl>& w) {
    if (w != writer_ || state_ != State::kStreaming) return;
    finish_requested_ = true;
    pump();
  }

  void writer_abandoned(const std::shared_ptr<ResponseWriter::Impl>& w) {
    if (w != writer_) return;
    if (state_ == State::kAwaitingAsync) {
      PARLEY_BUG() << "async HTTP handler for " << path_ << " dropped its writer without responding";
      write_response(json_error(500, kInternal, "the handler did not respond"), /*close_after=*/false);
    } else if (state_ == State::kStreaming) {
      PARLEY_LOG(kDebug) << "stream writer for " << path_ << " dropped before finish(); cutting the connection";
      close();
    }
  }

  void writer_abort(const std::shared_ptr<ResponseWriter::Impl>& w) {
    if (w != writer_) return;
    close();
  }

 private:
  enum class State { kIdle, kReading, kHandling, kAwaitingAsync, kStreaming, kWriting, kClosing, kClosed };

  // ---- reading ----

  void read_request() {
    if (state_ == State::kClosed) return;
    if (server_.stopping.load()) {
      close();
      return;
    }
    ++generation_;
    writer_.reset();
    self_.reset();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(server_.options.max_body_bytes));
    if (buffer_.size() > 0) {
      read_header();
      return;
    }
    // Wait for the first byte under the idle timeout; the request itself then gets read_timeout.
    state_ = State::kIdle;
    idle_since_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    stream_.expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->idle_since_.store(0, std::memory_order_relaxed);
      if (ec) {
        self->close();
        return;
      }
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    state_ = State::kReading;
    stream_.expires_after(server_.options.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    auto& req = parser_->get();
    auto expect = req[bhttp::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(server_.options.write_timeout);
      asio::async_write(stream_, asio::buffer(kContinue), [self = shared_from_this()](beast::error_code wec, std::size_t) {
        if (wec) {
          self->close();
          return;
        }
        self->stream_.expires_after(self->server_.options.read_timeout);
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) {
      on_request();
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->on_read_error(ec);
        return;
      }
      self->on_request();
    });
  }

  void on_read_error(beast::error_code ec) {
    keep_alive_ = false;
    if (ec == bhttp::error::header_limit) {
      send_error(431, kHeadersTooLarge,
                 "request headers exceed " + std::to_string(server_.options.max_header_bytes) + " bytes");
    } else if (ec == bhttp::error::body_limit) {
      send_error(413, kPayloadTooLarge,
                 "request body exceeds " + std::to_string(server_.options.max_body_bytes) + " bytes");
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
               ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
               ec == beast::error::timeout || ec == asio::error::bad_descriptor) {
      // Client went away, or too slow (slowloris): nothing useful to say.
      PARLEY_LOG(kDebug) << "HTTP connection from " << remote_ << " closed while reading: " << ec.message();
      close();
    } else {
      PARLEY_LOG_EVERY_MS(kInfo, 5000) << "malformed HTTP request from " << remote_ << ": " << ec.message();
      send_error(400, kBadRequest, "malformed HTTP request: " + ec.message());
    }
  }

  // ---- dispatch ----

  void on_request() {
    state_ = State::kHandling;
    stream_.expires_never();
    bhttp::request<bhttp::string_body> raw = parser_->release();
    parser_.reset();
    version_ = raw.version() == 10 ? 10 : 11;
    keep_alive_ = raw.keep_alive() && !server_.stopping.load();

    Request req;
    req.method_token = std::string(raw.method_string());
    req.method = parse_method(req.method_token);
    head_ = req.method == Method::kHead;
    req.target = std::string(raw.target());
    req.version = version_;
    req.remote_address = remote_;
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    path_ = req.path;
    if (q != std::string::npos) {
      auto parsed = parse_query(std::string_view(req.target).substr(q + 1));
      if (!parsed) {
        write_response(json_error(400, kBadRequest, "bad percent-escape in the query string"), false);
        return;
      }
      req.query = std::move(*parsed);
    }
    for (const auto& f : raw) req.headers.add(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(raw.body());

    Router::Match m = server_.router.match(req.method, req.path);
    switch (m.kind) {
      case Router::Match::Kind::kBadPath:
        write_response(json_error(400, kBadRequest, "bad request target '" + excerpt(req.target, 120) + "'"), false);
        return;
      case Router::Match::Kind::kNotFound:
        write_response(json_error(404, kNotFound, "no route for " + excerpt(req.path, 120)), false);
        return;
      case Router::Match::Kind::kMethodNotAllowed: {
        Response r = json_error(405, kMethodNotAllowed,
                                "method " + excerpt(req.method_token, 20) + " is not allowed on " + excerpt(req.path, 120));
        r.headers.set("Allow", Router::allow_header(m.allowed));
        write_response(std::move(r), false);
        return;
      }
      case Router::Match::Kind::kFound:
        break;
    }
    req.path_params = std::move(m.params);
    const RouteEntry& entry = server_.routes[m.id];
    if (entry.websocket) {
      upgrade(entry, std::move(req), std::move(raw));
      return;
    }
    if (entry.sync) {
      Response resp;
      try {
        resp = entry.sync(req);
      } catch (const std::exception& e) {
        PARLEY_LOG(kError) << "HTTP handler for " << req.method_token << " " << req.path << " threw: " << e.what();
        resp = json_error(500, kInternal, "internal error");
      } catch (...) {
        PARLEY_LOG(kError) << "HTTP handler for " << req.method_token << " " << req.path << " threw";
        resp = json_error(500, kInternal, "internal error");
      }
      write_response(std::move(resp), false);
      return;
    }
    dispatch_async(entry, std::move(req));
  }

  // A WebSocket route: refuse (an HTTP response) or hand the socket to websocket.cc.
  // The handler decides first (auth, a bad query, a missing resource answer before 426), so a GET
  // without the upgrade learns what is wrong with it before being told to upgrade.
  void upgrade(const RouteEntry& entry, Request req, bhttp::request<bhttp::string_body> raw) {
    WebSocketDecision decision;
    try {
      decision = entry.websocket(req);
    } catch (const std::exception& e) {
      PARLEY_LOG(kError) << "WebSocket handler for " << req.path << " threw: " << e.what();
      decision = json_error(500, kInternal, "internal error");
    }
    if (auto* refused = std::get_if<Response>(&decision)) {
      keep_alive_ = false;  // a refused upgrade does not become a keep-alive connection
      write_response(std::move(*refused), true);
      return;
    }
    if (!beast::iequals(raw[bhttp::field::upgrade], "websocket")) {
      Response r = json_error(426, "UPGRADE_REQUIRED", excerpt(req.path, 120) + " is a WebSocket endpoint: send a GET with 'Upgrade: websocket'");
      r.headers.set("Upgrade", "websocket");
      r.headers.set("Connection", "Upgrade");
      write_response(std::move(r), false);
      return;
    }
    // The socket leaves this session: nothing here touches it again.
    state_ = State::kClosed;
    self_.reset();
    detail::start_websocket(std::move(stream_), std::move(raw), remote_, server_.options.server_header,
                            std::move(std::get<WebSocketAccept>(decision)), server_.gate, server_.websockets);
  }

  void dispatch_async(const RouteEntry& entry, Request req) {
    state_ = State::kAwaitingAsync;
    auto impl = std::make_shared<ResponseWriter::Impl>();
    impl->session = weak_from_this();
    impl->gate = server_.gate;
    impl->max_queued = server_.options.max_stream_buffer_bytes;
    writer_ = impl;
    self_ = shared_from_this();  // the connection lives while the response is outstanding
    watch_for_disconnect();
    auto writer = std::make_shared<ResponseWriter>(impl);
    try {
      entry.async(std::move(req), std::move(writer));
    } catch (const std::exception& e) {
      PARLEY_LOG(kError) << "async HTTP handler threw: " << e.what();
      fail_async_after_throw(impl);
    } catch (...) {
      PARLEY_LOG(kError) << "async HTTP handler threw a non-std exception";
      fail_async_after_throw(impl);
    }
  }

  void fail_async_after_throw(const std::shared_ptr<ResponseWriter::Impl>& impl) {
    // Whatever the handler queued before throwing is superseded.
    impl->done.store(true);
    if (impl != writer_) return;
    if (state_ == State::kAwaitingAsync) {
      impl->settle();
      write_response(json_error(500, kInternal, "internal error"), false);
    } else if (state_ == State::kStreaming) {
      close();
    }
  }

  // While a response is outstanding nothing reads the socket; watching readability tells us
  // when the client hangs up so the producer can stop early.
  void watch_for_disconnect() {
    auto gen = generation_;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), gen](beast::error_code ec) {
      if (ec || gen != self->generation_) return;
      if (self->state_ != State::kAwaitingAsync && self->state_ != State::kStreaming) return;
      char byte;
      ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        self->close();  // peer closed or reset
      } else if (n < 0) {
        self->watch_for_disconnect();  // spurious wake-up
      }
      // n > 0: the client pipelined its next request; it stays buffered in the socket.
    });
  }

  // ---- writing ----

  void write_response(Response r, bool close_after) {
    state_ = State::kWriting;
    if (writer_) {
      writer_->done.store(true);
      writer_->settle();
    }
    bool keep = keep_alive_ && !close_after && !server_.stopping.load();
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    try {
      res->version(version_);
      res->result(static_cast<unsigned>(r.status));
      res->set(bhttp::field::server, server_.options.server_header);
      if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
      for (const auto& [k, v] : r.headers.fields()) res->insert(k, v);
      res->body() = std::move(r.body);
      res->keep_alive(keep);
      res->prepare_payload();
      if (head_) res->body().clear();  // Content-Length stays that of the GET body
    } catch (const std::exception& e) {
      PARLEY_BUG() << "could not build HTTP response (status " << r.status << "): " << e.what();
      res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status::internal_server_error, version_);
      res->set(bhttp::field::content_type, "application/json");
      res->body() = json_error(500, kInternal, "internal error").body;
      keep = false;
      res->keep_alive(false);
      res->prepare_payload();
    }
    self_.reset();
    stream_.expires_after(server_.options.write_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (ec) {
        self->close();
      } else if (keep) {
        self->read_request();
      } else {
        self->graceful_close();
      }
    });
  }

  void send_error(int status, std::string_view code, const std::string& message) {
    head_ = false;
    write_response(json_error(status, code, message), /*close_after=*/true);
  }

  // Sends queued stream data as one chunk, or the last chunk once finish() was asked.
  void pump() {
    if (writing_ || state_ != State::kStreaming) return;
    if (!pending_.empty()) {
      current_.clear();
      for (auto& p : pending_) current_ += p;
      pending_.clear();
      writing_ = true;
      stream_.expires_after(server_.options.write_timeout);
      auto done = [self = shared_from_this(), n = current_.size()](beast::error_code ec, std::size_t) {
        self->on_stream_written(ec, n);
      };
      if (raw_stream_) {
        asio::async_write(stream_, asio::buffer(current_), std::move(done));
      } else {
        asio::async_write(stream_, bhttp::make_chunk(asio::buffer(current_)), std::move(done));
      }
      return;
    }
    if (finish_requested_ || head_) {
      writing_ = true;
      if (raw_stream_ || head_) {
        end_stream(beast::error_code{});
        return;
      }
      stream_.expires_after(server_.options.write_timeout);
      asio::async_write(stream_, bhttp::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->end_stream(ec);
      });
    }
  }

  void on_stream_written(beast::error_code ec, std::size_t bytes) {
    writing_ = false;
    if (writer_) writer_->queued.fetch_sub(bytes);
    if (ec) {
      close();
      return;
    }
    pump();
  }

  void end_stream(beast::error_code ec) {
    writing_ = false;
    if (writer_) writer_->settle();
    if (ec) {
      close();
    } else if (keep_alive_ && !raw_stream_ && !server_.stopping.load()) {
      // Per-response state: the next stream on this connection starts unfinished.
      finish_requested_ = false;
      serializer_.reset();
      stream_header_.reset();
      read_request();
    } else {
      graceful_close();
    }
  }

  // ---- closing ----

  // Half-close, then read and discard what the client still sends (briefly), so the kernel does
  // not answer unread bytes with a reset that could destroy the response in flight.
  void graceful_close() {
    if (state_ == State::kClosed || state_ == State::kClosing) return;
    state_ = State::kClosing;
    self_.reset();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || server_.stopping.load()) {
      close();
      return;
    }
    stream_.expires_after(kDrainTimeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainMaxBytes || self->state_ != State::kClosing) {
        self->close();
        return;
      }
      self->drain();
    });
  }

  void close() {
    if (state_ == State::kClosed) return;
    auto keep = shared_from_this();  // self_.reset() below must not destroy us mid-function
    state_ = State::kClosed;
    idle_since_.store(0, std::memory_order_relaxed);
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    if (writer_) {
      auto w = std::move(writer_);
      writer_.reset();
      w->fire_close();
    }
    pending_.clear();
    self_.reset();
  }

  Server::Impl& server_;
  beast::tcp_stream stream_;
  const std::string address_;  // the per-address limit's key
  std::atomic<std::int64_t> idle_since_{0};
  beast::flat_buffer buffer_;
  std::string remote_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  State state_ = State::kIdle;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  std::string path_;
  std::uint64_t generation_ = 0;

  std::shared_ptr<ResponseWriter::Impl> writer_;  // the outstanding async response, if any
  std::shared_ptr<Session> self_;                 // set while writer_ is outstanding

  std::optional<bhttp::response<bhttp::empty_body>> stream_header_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> serializer_;
  std::deque<std::string> pending_;
  std::string current_;
  bool writing_ = false;
  bool finish_requested_ = false;
  bool raw_stream_ = false;

  std::array<char, 4096> drain_buf_{};
  std::size_t drained_ = 0;
};

}  // namespace

// ----------------------------------------------------------------------------------------------
// ResponseWriter
// ----------------------------------------------------------------------------------------------

template <typename Fn>
bool ResponseWriter::Impl::post(Fn fn) {
  std::lock_guard<std::mutex> lock(gate->mu);
  if (!gate->open) return false;
  std::shared_ptr<Session> s = session.lock();
  if (!s) return false;
  auto executor = s->get_executor_for_post();
  asio::post(executor, [s, fn = std::move(fn)]() mutable { fn(*s); });
  return true;
}

ResponseWriter::ResponseWriter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ResponseWriter::~ResponseWriter() {
  if (impl_->done.load() || impl_->closed.load()) return;
  impl_->post([w = impl_](Session& s) { s.writer_abandoned(w); });
}

bool ResponseWriter::send(Response response) {
  if (impl_->closed.load() || impl_->started.load() || impl_->done.exchange(true)) return false;
  return impl_->post([w = impl_, r = std::move(response)](Session& s) mutable { s.writer_send(w, std::move(r)); });
}

bool ResponseWriter::start(int status, std::string content_type, Headers headers) {
  if (impl_->closed.load() || impl_->done.load() || impl_->started.exchange(true)) return false;
  return impl_->post([w = impl_, status, ct = std::move(content_type), h = std::move(headers)](Session& s) mutable {
    s.writer_start(w, status, std::move(ct), std::move(h));
  });
}

bool ResponseWriter::start_sse() {
  Headers h;
  h.set("Cache-Control", "no-cache");
  h.set("X-Accel-Buffering", "no");  // nginx-style proxies: do not buffer the stream
  return start(200, std::string(kEventStreamContentType), std::move(h));
}

bool ResponseWriter::write(std::string_view data) {
  if (!impl_->started.load() || impl_->done.load() || impl_->closed.load()) return false;
  std::size_t now = impl_->queued.fetch_add(data.size()) + data.size();
  if (now > impl_->max_queued) {
    impl_->queued.fetch_sub(data.size());
    PARLEY_LOG_EVERY_MS(kWarn, 5000) << "HTTP stream client too slow: " << now
                                     << " bytes queued; closing the connection";
    impl_->done.store(true);
    impl_->post([w = impl_](Session& s) { s.writer_abort(w); });
    return false;
  }
  bool ok = impl_->post([w = impl_, d = std::string(data)](Session& s) mutable { s.writer_write(w, std::move(d)); });
  if (!ok) impl_->queued.fetch_sub(data.size());
  return ok;
}

bool ResponseWriter::write_event(std::string_view data, std::string_view event, std::string_view id) {
  return write(format_sse_event(data, event, id));
}

bool ResponseWriter::write_comment(std::string_view text) { return write(format_sse_comment(text)); }

bool ResponseWriter::finish() {
  if (!impl_->started.load() || impl_->closed.load() || impl_->done.exchange(true)) return false;
  return impl_->post([w = impl_](Session& s) { s.writer_finish(w); });
}

bool ResponseWriter::closed() const {
  if (impl_->closed.load() || impl_->done.load()) return true;
  std::lock_guard<std::mutex> lock(impl_->gate->mu);
  return !impl_->gate->open;
}

void ResponseWriter::on_close(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(impl_->cb_mu);
    if (!impl_->close_settled) {
      impl_->on_close = std::move(fn);
      return;
    }
  }
  // Already closed before completion? Then run now; if it completed normally, never.
  if (impl_->closed.load() && !impl_->done.load() && fn) fn();
}

// ----------------------------------------------------------------------------------------------
// Server
// ----------------------------------------------------------------------------------------------

void Server::Impl::run_thread() {
  while (true) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      PARLEY_BUG() << "exception escaped an HTTP I/O handler: " << e.what();
    } catch (...) {
      PARLEY_BUG() << "non-std exception escaped an HTTP I/O handler";
    }
  }
}

void Server::Impl::do_accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load() || !acceptor->is_open()) return;
    if (ec) {
      // Typically EMFILE: back off briefly instead of spinning on the error.
      PARLEY_LOG_EVERY_MS(kWarn, 5000) << "HTTP accept failed: " << ec.message();
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code) {
        if (!stopping.load()) do_accept();
      });
      return;
    }
    std::string address = address_key(socket);
    auto session = std::make_shared<Session>(*this, std::move(socket), address);
    Admission admission = Admission::kAccept;
    std::shared_ptr<Session> evict;  // released after sessions_mu (its destructor locks it)
    {
      std::lock_guard<std::mutex> lock(sessions_mu);
      auto n = per_address.find(address);
      if (options.max_connections_per_address > 0 && n != per_address.end() &&
          n->second >= options.max_connections_per_address) {
        admission = Admission::kTooManyFromAddress;
      } else if (sessions.size() + websockets->size() >= options.max_connections) {
        // Full: the connection idle longest makes room (idle sockets must not lock clients out).
        Session* oldest = nullptr;
        std::int64_t oldest_since = 0;
        for (const auto& [ptr, weak] : sessions) {
          std::int64_t since = ptr->idle_since();
          if (since != 0 && (oldest == nullptr || since < oldest_since)) {
            oldest = ptr;
            oldest_since = since;
          }
        }
        if (oldest != nullptr) evict = sessions[oldest].lock();
        if (!evict) admission = Admission::kTooMany;
      }
      session->register_locked();
    }
    if (evict) {
      evictions.fetch_add(1, std::memory_order_relaxed);
      asio::post(evict->get_executor_for_post(), [evict] { evict->shutdown(/*only_idle=*/true); });
      evict.reset();
    }
    session->start(admission);
    do_accept();
  });
}

void Server::Impl::close_all(bool only_idle) {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) {
    asio::post(s->get_executor_for_post(), [s, only_idle] { s->shutdown(only_idle); });
  }
  // `live` drops here, outside sessions_mu: a last reference may run ~Session, which locks it.
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

void Server::route(Method method, std::string pattern, Handler handler) {
  if (impl_->running.load()) {
    PARLEY_BUG() << "Server::route(" << pattern << ") after start() ignored";
    return;
  }
  Status s = impl_->router.add(method, pattern, impl_->routes.size());
  if (!s.is_ok()) {
    if (impl_->route_error.is_ok()) impl_->route_error = s;
    return;
  }
  impl_->routes.push_back(RouteEntry{std::move(handler), nullptr, nullptr});
}

void Server::route_async(Method method, std::string pattern, AsyncHandler handler) {
  if (impl_->running.load()) {
    PARLEY_BUG() << "Server::route_async(" << pattern << ") after start() ignored";
    return;
  }
  Status s = impl_->router.add(method, pattern, impl_->routes.size());
  if (!s.is_ok()) {
    if (impl_->route_error.is_ok()) impl_->route_error = s;
    return;
  }
  impl_->routes.push_back(RouteEntry{nullptr, std::move(handler), nullptr});
}

void Server::route_websocket(std::string pattern, WebSocketHandler handler) {
  if (impl_->running.load()) {
    PARLEY_BUG() << "Server::route_websocket(" << pattern << ") after start() ignored";
    return;
  }
  Status s = impl_->router.add(Method::kGet, pattern, impl_->routes.size());
  if (!s.is_ok()) {
    if (impl_->route_error.is_ok()) impl_->route_error = s;
    return;
  }
  impl_->routes.push_back(RouteEntry{nullptr, nullptr, std::move(handler)});
}

Status Server::start() {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.stop_mu);
  if (im.running.load() || im.stopping.load()) return failed_precondition("HTTP server already started");
  PARLEY_RETURN_IF_ERROR(im.route_error);
  if (im.options.threads < 1) return invalid_argument("HTTP server needs at least one thread");

  beast::error_code ec;
  tcp::resolver resolver(im.ioc);
  auto results = resolver.resolve(im.options.host, std::to_string(im.options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return invalid_argument("cannot resolve HTTP host '" + im.options.host + "': " + ec.message());
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  im.acceptor.emplace(asio::make_strand(im.ioc));
  im.acceptor->open(endpoint.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(endpoint, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string where = endpoint_string(endpoint);
    im.acceptor.reset();
    return unavailable("cannot listen on " + where + ": " + ec.message());
  }
  tcp::endpoint local = im.acceptor->local_endpoint(ec);
  im.bound_port = local.port();
  im.bound_address = endpoint_string(local);
  im.accept_retry.emplace(im.acceptor->get_executor());
  im.work.emplace(im.ioc.get_executor());
  im.running.store(true);
  asio::post(im.acceptor->get_executor(), [&im] { im.do_accept(); });
  for (int i = 0; i < im.options.threads; ++i) im.threads.emplace_back([&im] { im.run_thread(); });
  PARLEY_LOG(kInfo) << "HTTP server listening on " << im.bound_address;
  return Status::ok();
}

std::uint16_t Server::port() const { return impl_->bound_port; }

std::string Server::address() const { return impl_->bound_address; }

bool Server::running() const { return impl_->running.load(); }

std::size_t Server::connection_count() const {
  std::lock_guard<std::mutex> lock(impl_->sessions_mu);
  return impl_->sessions.size() + impl_->websockets->size();
}

std::size_t Server::idle_evictions() const { return impl_->evictions.load(); }

void Server::stop(std::chrono::milliseconds grace) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.stop_mu);
  if (!im.running.load()) return;
  im.stopping.store(true);

  asio::post(im.acceptor->get_executor(), [&im] {
    beast::error_code ec;
    im.acceptor->close(ec);
    im.accept_retry->cancel();
  });
  // Idle connections go now; busy ones close after their response; WebSockets are told 1001.
  im.close_all(/*only_idle=*/true);
  im.websockets->close_all(/*force=*/false);
  const auto grace_end = std::chrono::steady_clock::now() + grace;
  {
    std::unique_lock<std::mutex> slock(im.sessions_mu);
    im.sessions_cv.wait_for(slock, grace, [&im] { return im.sessions.empty(); });
  }
  im.websockets->wait_empty(std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                       grace_end - std::chrono::steady_clock::now())));
  // What is left (long streams, slow clients) is cut.
  im.close_all(/*only_idle=*/false);
  im.websockets->close_all(/*force=*/true);
  {
    std::unique_lock<std::mutex> slock(im.sessions_mu);
    im.sessions_cv.wait_for(slock, std::chrono::seconds(2), [&im] { return im.sessions.empty(); });
  }
  im.websockets->wait_empty(std::chrono::seconds(2));
  im.work.reset();
  im.ioc.stop();
  for (auto& t : im.threads) t.join();
  im.threads.clear();
  {
    // From here on writers cannot reach sessions; the io_context (and the sessions its pending
    // handlers still hold) dies with the server.
    std::lock_guard<std::mutex> glock(im.gate->mu);
    im.gate->open = false;
  }
  im.running.store(false);
  PARLEY_LOG(kInfo) << "HTTP server on " << im.bound_address << " stopped";
}

}  // namespace parley::http
