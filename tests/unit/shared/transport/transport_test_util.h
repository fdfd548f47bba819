// Helpers for the transport's unit tests: a scriptable test service, a raw DEALER for speaking
// bytes to a server, request builders, and bounded polling.
// Depends on shared/transport, parley_proto (echo.proto messages as payloads), GoogleTest.
#pragma once

#include <gtest/gtest.h>
#include <zmq.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/v1/echo.pb.h"
#include "shared/transport/client.h"
#include "shared/transport/server.h"
#include "shared/transport/zmq_util.h"

namespace parley::transport::testing {

using namespace std::chrono_literals;

/// Polls `pred` every millisecond until true or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto end = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

inline Envelope echo_request(const std::string& method, const std::string& text, int repeat = 0) {
  v1::EchoRequest req;
  req.set_text(text);
  req.set_repeat(repeat);
  Envelope env;
  env.set_method(method);
  env.mutable_payload()->PackFrom(req);
  return env;
}

inline std::string request_text(const Envelope& env) {
  v1::EchoRequest req;
  return env.payload().UnpackTo(&req) ? req.text() : "<not an EchoRequest>";
}

inline Envelope echo_reply(const std::string& text, int index = 0) {
  v1::EchoReply reply;
  reply.set_text(text);
  reply.set_index(index);
  Envelope env;
  env.mutable_payload()->PackFrom(reply);
  return env;
}

inline std::string reply_text(const Envelope& env) {
  v1::EchoReply reply;
  return env.payload().UnpackTo(&reply) ? reply.text() : "<not an EchoReply>";
}

/// A service whose behaviour is chosen by method name:
///   "t/Echo"    finish at once (on the I/O thread) with the request's text
///   "t/Stream"  `repeat` replies: repeat-1 send()s then finish() with the last one
///   "t/Collect" client stream: collects STREAM_DATA texts, finishes with them joined by ","
///   "t/Hold"    keeps the call in `held` and answers nothing (the test decides)
///   "t/Fail"    finish(UNIMPLEMENTED)
/// `hold_all` makes every method behave like t/Hold.
class TestService {
 public:
  std::shared_ptr<ServerHandler> handler() {
    return make_handler([this](std::shared_ptr<ServerCall> call) { on_call(std::move(call)); });
  }

  void on_call(std::shared_ptr<ServerCall> call) {
    calls.fetch_add(1);
    if (call->request().idempotent()) idempotent_calls.fetch_add(1);
    call->on_cancel([this](const Status& s) {
      std::lock_guard lock(mu);
      cancels.push_back(s);
    });
    const std::string_view m = call->method();
    if (hold_all.load() || m == "t/Hold") {
      std::lock_guard lock(mu);
      held.push_back(std::move(call));
    } else if (m == "t/Echo") {
      call->finish(echo_reply(request_text(call->request())));
    } else if (m == "t/Stream") {
      v1::EchoRequest req;
      call->request().payload().UnpackTo(&req);
      for (int i = 0; i + 1 < req.repeat(); ++i) call->send(echo_reply(req.text(), i));
      call->finish(echo_reply(req.text(), req.repeat() - 1));
    } else if (m == "t/Collect") {
      auto texts = std::make_shared<std::vector<std::string>>();
      texts->push_back(request_text(call->request()));
      std::weak_ptr<ServerCall> weak = call;
      call->on_stream_data([texts, weak](Envelope data) {
        if (data.has_payload()) texts->push_back(request_text(data));
        if (!data.end_of_stream()) return;
        std::string joined;
        for (const auto& t : *texts) joined += (joined.empty() ? "" : ",") + t;
        if (auto c = weak.lock()) c->finish(echo_reply(joined));
      });
      std::lock_guard lock(mu);
      held.push_back(std::move(call));  // keep it alive while the stream runs
    } else if (m == "t/Fail") {
      call->finish(unimplemented("no such thing"));
    } else {
      call->finish(unimplemented("unknown method " + std::string(m)));
    }
  }

  std::size_t held_count() {
    std::lock_guard lock(mu);
    return held.size();
  }
  std::shared_ptr<ServerCall> held_at(std::size_t i) {
    std::lock_guard lock(mu);
    return held.at(i);
  }
  std::vector<Status> cancel_statuses() {
    std::lock_guard lock(mu);
    return cancels;
  }

  std::atomic<int> calls{0};
  std::atomic<int> idempotent_calls{0};
  std::atomic<bool> hold_all{false};
  std::mutex mu;
  std::vector<std::shared_ptr<ServerCall>> held;
  std::vector<Status> cancels;
};

inline std::unique_ptr<Server> start_server(std::shared_ptr<ServerHandler> handler, ServerOptions options = {}) {
  auto server = Server::start(std::move(options), std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().to_string();
  return server.ok() ? std::move(*server) : nullptr;
}

/// Client options tuned for tests: fast pings, quick death detection, short default deadline.
inline ClientOptions test_client_options(std::vector<std::string> targets) {
  ClientOptions o;
  o.targets = std::move(targets);
  o.name = "test";
  o.default_timeout = 5s;
  o.ping_interval = 20ms;
  o.dead_after = 1s;
  o.reconnect_interval = 20ms;
  o.reconnect_interval_max = 100ms;
  return o;
}

inline std::unique_ptr<Client> make_client(ClientOptions options) {
  auto client = Client::create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  return client.ok() ? std::move(*client) : nullptr;
}

/// A DEALER speaking raw frames to a server (for malformed input and wire-level checks).
class RawDealer {
 public:
  explicit RawDealer(const std::string& endpoint) {
    ctx_ = zmq_ctx_new();
    socket_ = zmq_socket(ctx_, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_connect(socket_, endpoint.c_str());
  }
  RawDealer(const RawDealer&) = delete;
  RawDealer& operator=(const RawDealer&) = delete;
  ~RawDealer() {
    close();
    zmq_ctx_term(ctx_);
  }
  void* socket() { return socket_; }
  void close() {
    if (socket_ != nullptr) zmq_close(socket_);
    socket_ = nullptr;
  }

  void send_frames(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      int flags = i + 1 < frames.size() ? ZMQ_SNDMORE : 0;
      ASSERT_GE(zmq_send(socket_, frames[i].data(), frames[i].size(), flags), 0);
    }
  }
  void send(const Envelope& env) { send_frames({env.SerializeAsString()}); }

  /// The next envelope, or nullopt after `timeout`.
  std::optional<Envelope> receive(std::chrono::milliseconds timeout = 5s) {
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) return std::nullopt;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket_, 0) < 0) return std::nullopt;
    Envelope env;
    bool ok = env.ParseFromArray(zmq_msg_data(&msg), static_cast<int>(zmq_msg_size(&msg)));
    zmq_msg_close(&msg);
    if (!ok) return std::nullopt;
    return env;
  }

 private:
  void* ctx_ = nullptr;
  void* socket_ = nullptr;
};

inline Envelope raw_request(const std::string& correlation_id, const std::string& method, std::int64_t remaining_us,
                            const std::string& text = "x") {
  Envelope env = echo_request(method, text);
  env.set_kind(v1::REQUEST);
  env.set_id("raw-" + correlation_id);
  env.set_correlation_id(correlation_id);
  env.set_deadline_remaining_us(remaining_us);
  env.set_end_of_stream(true);
  return env;
}

}  // namespace parley::transport::testing
