// Host::bidi_stream over a real transport on loopback: requests in order (REQUEST payload first,
// then STREAM_DATA), replies streamed back while the client still sends, end of stream, a read
// timeout, a bad payload, and a client that cancels mid-stream (the blocked read wakes CANCELLED).
// Depends on shared/service, shared/transport, tests/support/service.h, the echo protos.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "parley/v1/echo.pb.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"
#include "tests/support/service.h"

namespace parley::service {
namespace {

using namespace std::chrono_literals;
constexpr const char* kMethod = "parley.v1.Echo/Chat";

struct Harness {
  std::unique_ptr<Host> host;
  std::unique_ptr<transport::Client> client;
  std::mutex mu;
  std::vector<std::string> seen;  // what the handler read, then its final status
  std::promise<Status> handler_done;

  Harness() {
    config::Schema schema = config::service_base_schema("bidi-test", "test");
    const char* argv[] = {"bidi-test", "--transport.bind=tcp://127.0.0.1:*", "--http.port=0", "--log.level=warn"};
    host = Host::create("bidi", schema, 4, argv);
    host->bidi_stream<v1::EchoRequest, v1::EchoReply>(
        kMethod, [this](StreamReader<v1::EchoRequest>& in, StreamWriter<v1::EchoReply>& out, CallContext&) -> Status {
          Status end = Status::ok();
          int i = 0;
          while (true) {
            auto r = in.read(std::chrono::steady_clock::now() + 2s);
            if (!r.ok()) {
              end = r.status();
              break;
            }
            if (!r->has_value()) break;
            {
              std::lock_guard lock(mu);
              seen.push_back((*r)->text());
            }
            v1::EchoReply reply;
            reply.set_text("got " + (*r)->text());
            reply.set_index(i++);
            if (!out.write(reply)) break;
          }
          handler_done.set_value(end);
          return end;
        });
    EXPECT_TRUE(host->start().is_ok());
    client = testing::make_client(host->endpoints().at(0));
  }
  ~Harness() { host->stop(); }
};

v1::Envelope request(const std::string& text) {
  v1::Envelope e;
  e.set_method(kMethod);
  v1::EchoRequest r;
  r.set_text(text);
  e.mutable_payload()->PackFrom(r);
  return e;
}

TEST(HostBidi, StreamsBothWays) {
  Harness h;
  std::mutex mu;
  std::vector<std::string> replies;
  std::promise<Status> done;
  transport::CallOptions o;
  o.client_stream = true;
  o.timeout = 10s;
  auto call = h.client->call(request("first"), o, [&](Result<v1::Envelope> r) {
    if (!r.ok()) {
      done.set_value(r.status());
      return;
    }
    if (r->has_payload()) {
      v1::EchoReply reply;
      r->payload().UnpackTo(&reply);
      std::lock_guard lock(mu);
      replies.push_back(reply.text());
    }
    if (r->end_of_stream()) done.set_value(Status::ok());
  });
  // The first reply arrives before the client has finished sending: the stream is bidirectional.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (!replies.empty()) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(replies.size(), 1u);
  }
  for (const char* t : {"a", "b", "c"}) {
    v1::Envelope e;
    v1::EchoRequest r;
    r.set_text(t);
    e.mutable_payload()->PackFrom(r);
    ASSERT_TRUE(call.send(std::move(e)));
  }
  ASSERT_TRUE(call.close_send());
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get().is_ok());
  EXPECT_EQ(replies, (std::vector<std::string>{"got first", "got a", "got b", "got c"}));
  EXPECT_TRUE(h.handler_done.get_future().get().is_ok());
}

TEST(HostBidi, ClientCancelWakesTheReader) {
  Harness h;
  transport::CallOptions o;
  o.client_stream = true;
  o.timeout = 30s;
  std::promise<void> first;
  std::atomic<bool> got_first{false};
  auto call = h.client->call(request("hello"), o, [&](Result<v1::Envelope> r) {
    if (r.ok() && r->has_payload() && !got_first.exchange(true)) first.set_value();
  });
  ASSERT_EQ(first.get_future().wait_for(5s), std::future_status::ready);
  // The handler now blocks in read(); the client goes away.
  ASSERT_TRUE(call.cancel());
  auto f = h.handler_done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const Status s = f.get();
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.to_string();
}

TEST(HostBidi, ReadTimesOutWhenNothingArrives) {
  Harness h;
  transport::CallOptions o;
  o.client_stream = true;
  o.timeout = 30s;
  std::promise<Status> done;
  auto call = h.client->call(request("x"), o, [&](Result<v1::Envelope> r) {
    if (!r.ok()) done.set_value(r.status());
  });
  // The handler waits 2 s for more: it then ends the call with DEADLINE_EXCEEDED.
  auto f = h.handler_done.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kDeadlineExceeded);
  auto d = done.get_future();
  ASSERT_EQ(d.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(d.get().code(), StatusCode::kDeadlineExceeded);
  (void)call;
}

TEST(HostBidi, BadPayloadIsInvalidArgument) {
  Harness h;
  transport::CallOptions o;
  o.client_stream = true;
  o.timeout = 10s;
  std::promise<Status> done;
  auto call = h.client->call(request("ok"), o, [&](Result<v1::Envelope> r) {
    if (!r.ok()) done.set_value(r.status());
  });
  v1::Envelope e;
  v1::EchoReply wrong;
  e.mutable_payload()->PackFrom(wrong);
  ASSERT_TRUE(call.send(std::move(e)));
  auto d = done.get_future();
  ASSERT_EQ(d.wait_for(5s), std::future_status::ready);
  const Status s = d.get();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("EchoRequest"), std::string::npos);
}

}  // namespace
}  // namespace parley::service
