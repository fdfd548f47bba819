// HTTP server over real loopback sockets: routing, errors and limits, keep-alive, async and
// streamed (SSE) responses, disconnects, and graceful stop.
#include "shared/http/server.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/http/sse.h"
#include "tests/unit/shared/http/raw_client.h"

namespace parley::http {
namespace {

using testing::make_request;
using testing::RawConnection;

ServerOptions local_options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

// Waits (polling) until `done` holds; false when it did not within `limit`. For states the server
// reaches on its own threads (a connection accepted), never to assert a duration.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A value handed from a server thread to the test thread.
template <typename T>
class Slot {
 public:
  void put(T v) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::move(v);
    cv_.notify_all();
  }
  std::optional<T> take(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return value_.has_value(); })) return std::nullopt;
    auto v = std::move(value_);
    value_.reset();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = local_options()) {
    server_ = std::make_unique<Server>(options);
    server_->route(Method::kGet, "/ping", [](const Request&) { return Response::text(200, "pong"); });
    server_->route(Method::kGet, "/v1/sessions/{id}/messages", [](const Request& r) {
      std::string body = "id=" + std::string(r.path_param("id"));
      body += " limit=" + r.query_param("limit").value_or("-");
      body += " q=" + r.query_param("q").value_or("-");
      body += " method=" + r.method_token;
      body += " path=" + r.path;
      body += " agent=" + std::string(r.headers.get("user-agent").value_or("-"));
      body += " remote=" + r.remote_address.substr(0, 10);
      return Response::text(200, body);
    });
    server_->route(Method::kPost, "/echo", [](const Request& r) {
      Response resp = Response::json(201, r.body);
      resp.headers.set("X-Body-Bytes", std::to_string(r.body.size()));
      return resp;
    });
    server_->route(Method::kGet, "/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    server_->route_async(Method::kGet, "/stream", [this](Request, std::shared_ptr<ResponseWriter> w) {
      EXPECT_TRUE(w->start_sse());
      w->on_close([this] { closed_.put(true); });
      writer_.put(std::move(w));
    });
    server_->route_async(Method::kGet, "/later", [](Request r, std::shared_ptr<ResponseWriter> w) {
      std::thread([r = std::move(r), w = std::move(w)] {
        w->send(Response::text(200, "later " + std::string(r.query_param("n").value_or(""))));
      }).detach();
    });
    server_->route_async(Method::kGet, "/forget", [](Request, std::shared_ptr<ResponseWriter>) {});
    server_->route_async(Method::kGet, "/async-throw",
                         [](Request, std::shared_ptr<ResponseWriter>) { throw std::runtime_error("async boom"); });
    Status s = server_->start();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (server_) server_->stop(std::chrono::milliseconds(500));
  }

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  Slot<std::shared_ptr<ResponseWriter>> writer_;
  Slot<bool> closed_;
};

TEST_F(ServerTest, RoutesPathParamsQueryAndHeaders) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(make_request("GET", "/v1/sessions/a%20b/messages?limit=5&q=hello+world", "",
                                  "User-Agent: parley-test\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "id=a b limit=5 q=hello world method=GET path=/v1/sessions/a%20b/messages agent=parley-test "
            "remote=127.0.0.1:");
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("server"), "parley");
}

TEST_F(ServerTest, PostBodyReachesHandler) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("POST", "/echo", R"({"text":"hi"})", "Content-Type: application/json\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"text":"hi"})");
  EXPECT_EQ(r->header("x-body-bytes"), "13");
  EXPECT_EQ(r->header("content-type"), "application/json");
}

TEST_F(ServerTest, UnknownPathIs404Json) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/nope")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"error":{"code":"NOT_FOUND","message":"no route for /nope"}})");
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("DELETE", "/ping")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
  EXPECT_NE(r->body.find(R"("code":"METHOD_NOT_ALLOWED")"), std::string::npos) << r->body;
  // An unknown method token on a known path is a 405 too; the connection stays usable.
  ASSERT_TRUE(c.send(make_request("BREW", "/ping")));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
}

TEST_F(ServerTest, HeadGetsHeadersWithoutBody) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("HEAD", "/ping")));
  auto r = c.read_response(std::chrono::seconds(5), /*head_request=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "4");
  // The next response must start right away: no stray body bytes in between.
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "pong");
}

TEST_F(ServerTest, BodyOverLimitIs413AndCloses) {
  ServerOptions o = local_options();
  o.max_body_bytes = 1024;
  start(o);
  RawConnection c(port_);
  // Declared length over the limit: rejected before the body is read.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"error":{"code":"PAYLOAD_TOO_LARGE","message":"request body exceeds 1024 bytes"}})");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());

  // Chunked body that grows past the limit.
  RawConnection c2(port_);
  std::string chunk(800, 'x');
  ASSERT_TRUE(c2.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                      "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
  r = c2.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);

  // At the limit is fine.
  RawConnection c3(port_);
  ASSERT_TRUE(c3.send(make_request("POST", "/echo", std::string(1024, 'y'))));
  r = c3.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST_F(ServerTest, HeadersOverLimitAre431) {
  ServerOptions o = local_options();
  o.max_header_bytes = 2048;
  start(o);
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/ping", "", "X-Big: " + std::string(4000, 'a') + "\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find(R"("code":"HEADERS_TOO_LARGE")"), std::string::npos) << r->body;
}

TEST_F(ServerTest, MalformedRequestIs400AndServerKeepsServing) {
  start();
  {
    RawConnection c(port_);
    ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find(R"("code":"BAD_REQUEST")"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawConnection c(port_);
    ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400);
  }
  {
    RawConnection c(port_);  // a bad escape in the target
    ASSERT_TRUE(c.send(make_request("GET", "/v1/sessions/%zz/messages")));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400);
  }
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  auto r1 = c.read_response();
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->body, "pong");
  EXPECT_NE(r1->header("connection"), "close");
  ASSERT_TRUE(c.send(make_request("POST", "/echo", "second")));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->body, "second");
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("POST", "/echo", "one") + make_request("GET", "/later?n=2") +
                     make_request("POST", "/echo", "three")));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->body, "one");
  EXPECT_EQ(r2->body, "later 2");
  EXPECT_EQ(r3->body, "three");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/ping", "", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ServerTest, ThrowingHandlerIs500AndNextRequestWorks) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/throw")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":{"code":"INTERNAL","message":"internal error"}})");
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));  // same connection
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(c.send(make_request("GET", "/async-throw")));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, AsyncResponseFromAnotherThread) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/later?n=7")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "later 7");
}

TEST_F(ServerTest, AbandonedWriterBecomes500) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/forget")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("did not respond"), std::string::npos) << r->body;
}

// The stream arrives piece by piece: each event is read before the next one is even written.
TEST_F(ServerTest, SseStreamArrivesInPiecesThenConnectionIsReused) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/stream")));
  auto head = c.read_head();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->header("cache-control"), "no-cache");
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());

  ASSERT_TRUE((*w)->write_event("Hel", "token", "1"));
  auto chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "event: token\nid: 1\ndata: Hel\n\n");

  std::thread producer([w = *w] { EXPECT_TRUE(w->write_event("lo", "token", "2")); });
  producer.join();
  chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, format_sse_event("lo", "token", "2"));

  ASSERT_TRUE((*w)->write_comment("keep-alive"));
  chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, ": keep-alive\n\n");

  ASSERT_TRUE((*w)->finish());
  chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "");  // last chunk
  EXPECT_FALSE((*w)->write("late"));
  EXPECT_TRUE((*w)->closed());

  ASSERT_TRUE(c.send(make_request("GET", "/ping")));  // keep-alive after the stream
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "pong");
  EXPECT_FALSE(closed_.take(std::chrono::milliseconds(0)).has_value()) << "on_close ran after a clean finish";
}

// Two streams on one keep-alive connection: the second must not inherit the first's "finished"
// state (it once ended right after its headers, losing every event written later).
TEST_F(ServerTest, SecondStreamOnAKeptAliveConnectionWaitsForItsOwnData) {
  start();
  RawConnection c(port_);
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("stream " + std::to_string(round));
    ASSERT_TRUE(c.send(make_request("GET", "/stream")));
    auto head = c.read_head();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->status, 200);
    auto w = writer_.take();
    ASSERT_TRUE(w.has_value());
    // Nothing written yet: the stream must stay open, not end with an empty body.
    EXPECT_FALSE(c.read_chunk(std::chrono::milliseconds(100)).has_value());
    ASSERT_TRUE((*w)->write_event("late " + std::to_string(round), "token", std::to_string(round)));
    auto chunk = c.read_chunk();
    ASSERT_TRUE(chunk.has_value());
    EXPECT_EQ(*chunk, format_sse_event("late " + std::to_string(round), "token", std::to_string(round)));
    ASSERT_TRUE((*w)->finish());
    chunk = c.read_chunk();
    ASSERT_TRUE(chunk.has_value());
    EXPECT_EQ(*chunk, "");
  }
}

// A stream may sit idle far longer than write_timeout (an LM thinking): only writes are timed.
TEST_F(ServerTest, IdleStreamOutlivesWriteTimeout) {
  ServerOptions o = local_options();
  o.write_timeout = std::chrono::milliseconds(50);
  start(o);
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/stream")));
  ASSERT_TRUE(c.read_head().has_value());
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // past the write timeout, idle
  ASSERT_TRUE((*w)->write_event("still here"));
  auto chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "data: still here\n\n");
  ASSERT_TRUE((*w)->finish());
}

TEST_F(ServerTest, ClientDisconnectDuringStreamFiresOnClose) {
  start();
  auto c = std::make_unique<RawConnection>(port_);
  ASSERT_TRUE(c->send(make_request("GET", "/stream")));
  ASSERT_TRUE(c->read_head().has_value());
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());
  EXPECT_FALSE((*w)->closed());
  c->close();
  EXPECT_TRUE(closed_.take().has_value()) << "on_close did not run after the client left";
  EXPECT_TRUE((*w)->closed());
  EXPECT_FALSE((*w)->write_event("nobody listens"));
  bool late_called = false;
  (*w)->on_close([&] { late_called = true; });  // registered after the fact: runs at once
  EXPECT_TRUE(late_called);
}

TEST_F(ServerTest, StreamPastBufferLimitDropsTheClient) {
  ServerOptions o = local_options();
  o.max_stream_buffer_bytes = 1024;
  start(o);
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/stream")));
  ASSERT_TRUE(c.read_head().has_value());
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE((*w)->write(std::string(512, 'a')));
  EXPECT_FALSE((*w)->write(std::string(2048, 'b')));  // more than may ever be queued
  EXPECT_TRUE((*w)->closed());
  EXPECT_TRUE(closed_.take().has_value());
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ServerTest, Http10StreamEndsByClosingTheConnection) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send("GET /stream HTTP/1.0\r\n\r\n"));
  auto head = c.read_head();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("transfer-encoding"), "");  // no chunked encoding for HTTP/1.0
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());
  ASSERT_TRUE((*w)->write_event("one"));
  auto data = c.read_exact(std::string("data: one\n\n").size());
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "data: one\n\n");
  ASSERT_TRUE((*w)->finish());
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ServerTest, SlowClientIsDisconnectedAfterReadTimeout) {
  ServerOptions o = local_options();
  o.read_timeout = std::chrono::milliseconds(200);
  start(o);
  RawConnection c(port_);
  ASSERT_TRUE(c.send("GET /ping HTTP/1.1\r\nHost: x\r\n"));  // headers never finish
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  RawConnection ok(port_);
  ASSERT_TRUE(ok.send(make_request("GET", "/ping")));
  EXPECT_TRUE(ok.read_response().has_value());
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ServerOptions o = local_options();
  o.idle_timeout = std::chrono::milliseconds(200);
  start(o);
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  ASSERT_TRUE(c.read_response().has_value());
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_head();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(ServerTest, ConnectionsOverLimitGet503WhenNoneIsIdle) {
  ServerOptions o = local_options();
  o.max_connections = 1;
  start(o);
  RawConnection first(port_);
  ASSERT_TRUE(first.send("GET /ping HTTP/1.1\r\nHost: x\r\n"));  // a request under way: not idle
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 1; }));
  RawConnection second(port_);
  ASSERT_TRUE(second.send(make_request("GET", "/ping")));
  auto r = second.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find(R"("code":"UNAVAILABLE")"), std::string::npos);
  EXPECT_TRUE(second.wait_closed());
  // The busy one is served.
  ASSERT_TRUE(first.send("\r\n"));
  auto ok = first.read_response();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, IdleConnectionsCannotLockClientsOut) {
  // Issue 15: 1,100 connections that sent nothing held every slot for the idle timeout and the
  // server answered 503 to everyone. Now the connection idle longest makes room.
  ServerOptions o = local_options();
  o.max_connections = 8;
  o.idle_timeout = std::chrono::seconds(60);
  start(o);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<RawConnection>(port_));
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 8; }));
  // Each client stays connected, so every one needs a slot of its own.
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawConnection>(port_));
    ASSERT_TRUE(clients.back()->send(make_request("GET", "/ping")));
    auto r = clients.back()->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(server_->idle_evictions(), 3u);
  int closed = 0;
  for (auto& c : idle) closed += c->wait_closed(std::chrono::milliseconds(50)) ? 1 : 0;
  EXPECT_GE(closed, 3);
}

TEST_F(ServerTest, ConnectionsPerAddressAreCapped) {
  ServerOptions o = local_options();
  o.max_connections_per_address = 2;
  start(o);
  RawConnection a(port_, "127.0.0.1"), b(port_, "127.0.0.1");
  ASSERT_TRUE(a.connected() && b.connected());
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 2; }));
  RawConnection c(port_, "127.0.0.1");
  ASSERT_TRUE(c.send(make_request("GET", "/ping")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("from your address"), std::string::npos) << r->body;
  // Another address is served (127.0.0.2 is loopback too on Linux).
  RawConnection other(port_, "127.0.0.2");
  ASSERT_TRUE(other.connected());
  ASSERT_TRUE(other.send(make_request("GET", "/ping")));
  auto ok = other.read_response();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  // A closed connection frees its address's slot.
  c.close();
  a.close();
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 2; }));  // b and other
  RawConnection again(port_, "127.0.0.1");
  ASSERT_TRUE(again.send(make_request("GET", "/ping")));
  auto ok2 = again.read_response();
  ASSERT_TRUE(ok2.has_value());
  EXPECT_EQ(ok2->status, 200);
}

TEST_F(ServerTest, ErrorsQuoteOnlyAShortExcerptOfTheRequest) {
  start();
  RawConnection c(port_);
  const std::string path = "/" + std::string(5000, 'p');
  ASSERT_TRUE(c.send(make_request("GET", path)));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_LT(r->body.size(), 400u) << r->body.size();
}

TEST_F(ServerTest, ManyClientsOnSeveralThreads) {
  ServerOptions o = local_options();
  o.threads = 2;
  start(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      RawConnection c(port_);
      for (int i = 0; i < 50; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        if (!c.send(make_request("POST", "/echo", body))) return;
        auto r = c.read_response();
        if (r && r->status == 201 && r->body == body) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndCutsStreams) {
  start();
  RawConnection idle(port_);
  ASSERT_TRUE(idle.send(make_request("GET", "/ping")));
  ASSERT_TRUE(idle.read_response().has_value());
  RawConnection streaming(port_);
  ASSERT_TRUE(streaming.send(make_request("GET", "/stream")));
  ASSERT_TRUE(streaming.read_head().has_value());
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());

  server_->stop(std::chrono::milliseconds(100));  // the stream never finishes: cut after grace
  EXPECT_FALSE(server_->running());
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_TRUE(streaming.wait_closed());
  EXPECT_TRUE(closed_.take().has_value());
  EXPECT_TRUE((*w)->closed());
  EXPECT_FALSE((*w)->write_event("after stop"));
  EXPECT_FALSE((*w)->finish());
  server_->stop();  // idempotent
  server_.reset();  // the writer outlives the server safely
  EXPECT_FALSE((*w)->write("x"));
  RawConnection refused(port_);
  EXPECT_FALSE(refused.connected() && refused.send(make_request("GET", "/ping")) && refused.read_response());
}

TEST_F(ServerTest, StopLetsAnInFlightStreamFinishWithinGrace) {
  start();
  RawConnection c(port_);
  ASSERT_TRUE(c.send(make_request("GET", "/stream")));
  ASSERT_TRUE(c.read_head().has_value());
  auto w = writer_.take();
  ASSERT_TRUE(w.has_value());
  auto stopped = std::async(std::launch::async, [&] { server_->stop(std::chrono::seconds(10)); });
  // The stream's owner finishes it during the grace period; the client gets a complete stream.
  ASSERT_TRUE((*w)->write_event("last"));
  ASSERT_TRUE((*w)->finish());
  auto chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "data: last\n\n");
  chunk = c.read_chunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "");
  EXPECT_TRUE(c.wait_closed());  // no keep-alive while stopping
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(closed_.take(std::chrono::milliseconds(0)).has_value());
}

TEST(ServerStart, ReportsBadRoutesAndBusyPorts) {
  {
    Server s(local_options());
    s.route(Method::kGet, "no-slash", [](const Request&) { return Response{}; });
    EXPECT_EQ(s.start().code(), StatusCode::kInvalidArgument);
  }
  {
    Server s(local_options());
    s.route(Method::kGet, "/a/{x}", [](const Request&) { return Response{}; });
    s.route(Method::kGet, "/a/{y}", [](const Request&) { return Response{}; });
    EXPECT_EQ(s.start().code(), StatusCode::kAlreadyExists);
  }
  Server first(local_options());
  ASSERT_TRUE(first.start().is_ok());
  EXPECT_EQ(first.start().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(first.address(), "127.0.0.1:" + std::to_string(first.port()));
  ServerOptions o = local_options();
  o.port = first.port();
  Server second(o);
  Status s = second.start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
}

}  // namespace
}  // namespace parley::http
