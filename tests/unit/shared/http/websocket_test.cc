// WebSocket routes of the HTTP server over real loopback sockets, driven by a Beast client:
// upgrade, refusal and 426, messages both ways, close codes (client close, server close after
// queued messages, oversize message 1009, a client that does not read 1008, a vanished client
// 1006, server stop 1001).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "shared/http/server.h"
#include "tests/unit/shared/http/raw_client.h"

namespace parley::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

/// A client with a deadline on every operation (async ops + run_for), so a broken server fails
/// the test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port, int receive_buffer = 0) : ws_(ioc_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    ws_.next_layer().open(tcp::v4());
    if (receive_buffer > 0) ws_.next_layer().set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    ws_.next_layer().connect(ep);
    port_ = port;
  }
  beast::error_code handshake(const std::string& target) {
    beast::error_code out = asio::error::timed_out;
    ws_.async_handshake("127.0.0.1:" + std::to_string(port_), target, [&](beast::error_code ec) { out = ec; });
    run();
    return out;
  }
  void send(const std::string& data, bool binary) {
    ws_.binary(binary);
    ws_.write(asio::buffer(data));
  }
  /// One message: (data, binary), or the error that ended reading.
  std::pair<std::optional<std::string>, beast::error_code> read(std::chrono::milliseconds timeout = 5s) {
    beast::error_code out = asio::error::timed_out;
    bool done = false;
    buf_.consume(buf_.size());
    ws_.async_read(buf_, [&](beast::error_code ec, std::size_t) {
      out = ec;
      done = true;
    });
    run(timeout);
    if (!done) {
      ws_.next_layer().cancel();
      run(1s);
      return {std::nullopt, asio::error::timed_out};
    }
    if (out) return {std::nullopt, out};
    last_binary_ = ws_.got_binary();
    return {beast::buffers_to_string(buf_.data()), out};
  }
  bool last_binary() const { return last_binary_; }
  websocket::close_reason reason() const { return ws_.reason(); }
  void close(std::uint16_t code) {
    beast::error_code ec;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code)), [&](beast::error_code e) { ec = e; });
    run();
  }
  void drop() {
    beast::error_code ec;
    ws_.next_layer().close(ec);
  }

 private:
  void run(std::chrono::milliseconds timeout = 5s) {
    ioc_.restart();
    ioc_.run_for(timeout);
  }
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
  std::uint16_t port_ = 0;
  bool last_binary_ = false;
};

/// What the server side saw.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, bool>> messages;
  std::optional<std::pair<std::uint16_t, std::string>> closed;
  std::shared_ptr<WebSocket> socket;

  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
};

class WebSocketTest : public ::testing::Test {
 protected:
  void start(WebSocketOptions options = {}, std::function<void(std::shared_ptr<WebSocket>)> on_open = nullptr) {
    ServerOptions o;
    o.host = "127.0.0.1";
    server_ = std::make_unique<Server>(o);
    server_->route_websocket("/ws/{name}", [this, options, on_open](const Request& r) -> WebSocketDecision {
      if (r.path_param("name") == "refused") return json_error(401, "UNAUTHENTICATED", "no key");
      WebSocketAccept a;
      a.options = options;
      a.on_open = [this, on_open](std::shared_ptr<WebSocket> ws) {
        {
          std::lock_guard lock(seen_.mu);
          seen_.socket = ws;
        }
        if (on_open) on_open(ws);
        WebSocketHandlers h;
        h.on_message = [this, ws](std::string_view data, bool binary) {
          std::lock_guard lock(seen_.mu);
          seen_.messages.emplace_back(std::string(data), binary);
          seen_.cv.notify_all();
          if (data == "echo") ws->send_text("echo: " + std::string(data));
          if (binary) ws->send_binary(std::string(data));
          if (data == "bye") ws->close(4000, "bye to you");
        };
        h.on_close = [this](std::uint16_t code, const std::string& reason) {
          std::lock_guard lock(seen_.mu);
          seen_.closed = {code, reason};
          seen_.cv.notify_all();
        };
        return h;
      };
      return a;
    });
    ASSERT_TRUE(server_->start().is_ok());
  }

  std::unique_ptr<Server> server_;
  Seen seen_;
};

TEST_F(WebSocketTest, MessagesBothWaysAndAClientClose) {
  start();
  Client c(server_->port());
  ASSERT_FALSE(c.handshake("/ws/a"));
  c.send("echo", false);
  auto [m, ec] = c.read();
  ASSERT_TRUE(m) << ec.message();
  EXPECT_EQ(*m, "echo: echo");
  EXPECT_FALSE(c.last_binary());
  c.send(std::string("\x00\x01\x02", 3), true);
  auto [b, ec2] = c.read();
  ASSERT_TRUE(b) << ec2.message();
  EXPECT_EQ(*b, std::string("\x00\x01\x02", 3));
  EXPECT_TRUE(c.last_binary());
  EXPECT_EQ(server_->connection_count(), 1u);
  c.close(1000);
  ASSERT_TRUE(seen_.wait([&] { return seen_.closed.has_value(); }));
  EXPECT_EQ(seen_.closed->first, 1000);
  ASSERT_EQ(seen_.messages.size(), 2u);
  EXPECT_TRUE(seen_.messages[1].second);
  EXPECT_FALSE(seen_.socket->send_text("too late"));
}

TEST_F(WebSocketTest, RefusalAndPlainGetAreHttpAnswers) {
  start();
  testing::RawConnection raw(server_->port());
  raw.send(testing::make_request("GET", "/ws/a"));
  auto r = raw.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_NE(r->body.find("UPGRADE_REQUIRED"), std::string::npos);

  Client c(server_->port());
  beast::error_code ec = c.handshake("/ws/refused");
  EXPECT_EQ(ec, websocket::error::upgrade_declined);
}

TEST_F(WebSocketTest, ServerCloseComesAfterTheQueuedMessages) {
  start({}, [](std::shared_ptr<WebSocket> ws) {
    ws->send_text("one");
    ws->send_text("two");
  });
  Client c(server_->port());
  ASSERT_FALSE(c.handshake("/ws/a"));
  EXPECT_EQ(c.read().first.value_or(""), "one");
  EXPECT_EQ(c.read().first.value_or(""), "two");
  c.send("bye", false);
  auto [m, ec] = c.read();
  EXPECT_FALSE(m);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.reason().code, 4000);
  EXPECT_EQ(std::string(c.reason().reason.c_str()), "bye to you");
  ASSERT_TRUE(seen_.wait([&] { return seen_.closed.has_value(); }));
  EXPECT_EQ(seen_.closed->first, 4000);
}

TEST_F(WebSocketTest, OversizeMessageCloses1009) {
  WebSocketOptions o;
  o.max_message_bytes = 1000;
  start(o);
  Client c(server_->port());
  ASSERT_FALSE(c.handshake("/ws/a"));
  // Far over the limit: the client must still see the close code (no reset).
  c.send(std::string(200000, 'x'), true);
  auto [m, ec] = c.read();
  EXPECT_FALSE(m);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.reason().code, 1009);
  ASSERT_TRUE(seen_.wait([&] { return seen_.closed.has_value(); }));
  EXPECT_EQ(seen_.closed->first, 1009);
  EXPECT_TRUE(seen_.messages.empty());
}

TEST_F(WebSocketTest, AClientThatDoesNotReadIsClosed1008WithBoundedMemory) {
  WebSocketOptions o;
  o.max_queued_bytes = 256 << 10;
  o.socket_send_buffer_bytes = 16 << 10;
  o.close_timeout = 300ms;
  start(o);
  Client c(server_->port(), /*receive_buffer=*/8 << 10);
  ASSERT_FALSE(c.handshake("/ws/a"));
  ASSERT_TRUE(seen_.wait([&] { return seen_.socket != nullptr; }));
  // The client never reads: the kernel buffers fill, then the queue, then sending fails.
  const std::string chunk(32 << 10, 'a');
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = !seen_.socket->send_binary(chunk);
    EXPECT_LE(seen_.socket->queued_bytes(), o.max_queued_bytes);
    if (!refused) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(refused) << "32 MB were queued for a client that does not read";
  ASSERT_TRUE(seen_.wait([&] { return seen_.closed.has_value(); }));
  EXPECT_EQ(seen_.closed->first, 1008);
  EXPECT_NE(seen_.closed->second.find("not reading"), std::string::npos) << seen_.closed->second;
  EXPECT_TRUE(server_->connection_count() == 0 || seen_.wait([&] { return server_->connection_count() == 0; }));
}

TEST_F(WebSocketTest, AVanishedClientIsReported1006) {
  start();
  Client c(server_->port());
  ASSERT_FALSE(c.handshake("/ws/a"));
  ASSERT_TRUE(seen_.wait([&] { return seen_.socket != nullptr; }));
  c.drop();
  ASSERT_TRUE(seen_.wait([&] { return seen_.closed.has_value(); }));
  EXPECT_EQ(seen_.closed->first, 1006);
}

TEST_F(WebSocketTest, ServerStopSaysGoingAway) {
  start();
  Client c(server_->port());
  ASSERT_FALSE(c.handshake("/ws/a"));
  ASSERT_TRUE(seen_.wait([&] { return seen_.socket != nullptr; }));
  std::thread stopper([&] { server_->stop(2s); });
  auto [m, ec] = c.read();
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.reason().code, 1001);
  stopper.join();
  ASSERT_TRUE(seen_.closed.has_value());
  EXPECT_EQ(seen_.closed->first, 1001);
  EXPECT_FALSE(seen_.socket->send_text("after stop"));
}

}  // namespace
}  // namespace parley::http
