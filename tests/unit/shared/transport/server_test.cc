// Server at the wire level, driven by a raw DEALER: replies, pings, deadlines, cancels, client
// streams, draining, malformed input, and undeliverable replies (unroutable, full HWM).
#include <gtest/gtest.h>
#include <unistd.h>

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "shared/transport/envelope_codec.h"
#include "shared/transport/protobuf_log.h"
#include "tests/unit/shared/transport/transport_test_util.h"

namespace parley::transport::testing {
namespace {

TEST(ServerTest, BindsAndReportsTheRealEndpoint) {
  TestService service;
  ServerOptions o;
  o.endpoints = {"tcp://127.0.0.1:*", "tcp://127.0.0.1:*"};
  auto server = start_server(service.handler(), o);
  ASSERT_TRUE(server);
  ASSERT_EQ(server->endpoints().size(), 2u);
  for (const auto& ep : server->endpoints()) {
    EXPECT_TRUE(ep.starts_with("tcp://127.0.0.1:")) << ep;
    EXPECT_EQ(ep.find('*'), std::string::npos) << ep;
  }
  EXPECT_NE(server->endpoints()[0], server->endpoints()[1]);
  // Both endpoints serve.
  for (const auto& ep : server->endpoints()) {
    RawDealer raw(ep);
    raw.send(raw_request("c1", "t/Echo", 1'000'000, "hi"));
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << ep;
    EXPECT_EQ(reply_text(*reply), "hi");
  }
}

TEST(ServerTest, BadEndpointIsAnError) {
  TestService service;
  ServerOptions o;
  o.endpoints = {"tcp://256.1.1.1:0"};
  auto server = Server::start(o, service.handler());
  EXPECT_FALSE(server.ok());
}

TEST(ServerTest, ReplyCarriesTransportFields) {
  TestService service;
  ServerOptions o;
  o.replica = "replica-a";
  o.load_reporter = [] { return Load{7, 3, 64, false}; };
  auto server = start_server(service.handler(), o);
  RawDealer raw(server->endpoints()[0]);
  Envelope req = raw_request("corr-1", "t/Echo", 1'000'000, "hello");
  req.set_session_id("sess-9");
  req.set_trace_id("trace-9");
  raw.send(req);
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind(), v1::REPLY);
  EXPECT_EQ(reply->correlation_id(), "corr-1");
  EXPECT_EQ(reply->sequence(), 0u);
  EXPECT_TRUE(reply->end_of_stream());
  EXPECT_EQ(reply->replica(), "replica-a");
  EXPECT_EQ(reply->session_id(), "sess-9");
  EXPECT_EQ(reply->trace_id(), "trace-9");
  EXPECT_FALSE(reply->id().empty());
  EXPECT_EQ(reply->status().code(), v1::Status::OK);
  EXPECT_EQ(reply->load().in_flight(), 7);
  EXPECT_EQ(reply->load().queue_depth(), 3);
  EXPECT_EQ(reply->load().capacity(), 64);
  EXPECT_EQ(reply_text(*reply), "hello");
  EXPECT_EQ(server->stats().requests.load(), 1u);
  EXPECT_TRUE(eventually([&] { return server->active_calls() == 0; }));
}

// send_payload/finish_payload write the reply's bytes without an Envelope: what arrives must be
// the envelope finish() would have sent with the payload packed by Any::PackFrom (the id aside).
TEST(ServerTest, PayloadRepliesAreTheEnvelopesFinishWouldSend) {
  ServerOptions o;
  o.replica = "replica-p";
  o.load_reporter = [] { return Load{1, 2, 8, false}; };
  v1::EchoReply typed;
  typed.set_text(std::string(300, 'x'));  // a length prefix of two bytes
  typed.set_index(5);
  auto server = start_server(make_handler([&](std::shared_ptr<ServerCall> call) {
    const std::string method(call->method());
    if (method == "t/Envelope") {
      Envelope env;
      env.mutable_payload()->PackFrom(typed);
      call->finish(std::move(env));
    } else if (method == "t/Message") {
      call->finish_payload(typed);
    } else if (method == "t/Bytes") {
      call->finish_payload(call->request().payload().type_url(), call->request().payload().value());
    } else if (method == "t/Empty") {
      call->finish_payload(v1::EchoReply());
    } else if (method == "t/Stream") {
      EXPECT_TRUE(call->send_payload(typed));
      EXPECT_TRUE(call->send_payload(typed));
      EXPECT_TRUE(call->finish_payload(typed));
      EXPECT_FALSE(call->send_payload(typed)) << "a reply after the last one was accepted";
      EXPECT_FALSE(call->finish_payload(typed));
    }
  }), o);
  RawDealer raw(server->endpoints()[0]);
  auto ask = [&](const std::string& corr, const std::string& method) {
    Envelope req = raw_request(corr, method, 1'000'000, "hello");
    req.set_session_id("sess-p");
    req.set_trace_id("trace-p");
    raw.send(req);
    auto reply = raw.receive();
    EXPECT_TRUE(reply) << method;
    Envelope out = reply ? *reply : Envelope();
    EXPECT_FALSE(out.id().empty()) << method;
    out.clear_id();
    return out;
  };
  Envelope want = ask("c1", "t/Envelope");
  want.clear_correlation_id();
  Envelope got = ask("c2", "t/Message");
  EXPECT_EQ(got.correlation_id(), "c2");
  got.clear_correlation_id();
  EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << got.ShortDebugString() << " vs " << want.ShortDebugString();
  v1::EchoReply back;
  ASSERT_TRUE(got.payload().UnpackTo(&back));
  EXPECT_EQ(back.text(), typed.text());
  EXPECT_EQ(back.index(), 5);
  EXPECT_EQ(got.session_id(), "sess-p");
  EXPECT_EQ(got.trace_id(), "trace-p");
  EXPECT_EQ(got.replica(), "replica-p");
  EXPECT_EQ(got.load().capacity(), 8);

  Envelope echoed = ask("c3", "t/Bytes");  // the request's own Any, as bytes
  EXPECT_EQ(request_text(echoed), "hello");

  Envelope empty = ask("c4", "t/Empty");
  EXPECT_TRUE(empty.has_payload());
  EXPECT_TRUE(empty.payload().Is<v1::EchoReply>());
  EXPECT_TRUE(empty.payload().value().empty());

  Envelope req = raw_request("c5", "t/Stream", 1'000'000, "hello");
  raw.send(req);
  for (int i = 0; i < 3; ++i) {
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->sequence(), static_cast<std::uint64_t>(i));
    EXPECT_EQ(reply->end_of_stream(), i == 2);
    ASSERT_TRUE(reply->payload().UnpackTo(&back));
    EXPECT_EQ(back.index(), 5);
  }
  EXPECT_EQ(server->stats().replies_dropped.load(), 2u);
}

// The server routes a small, plainly encoded REQUEST on fields read off its bytes and parses it
// only when someone asks (request(), issue 18); other requests are parsed on arrival. Either way a
// handler must see exactly what was sent, from any thread, including several at once.
TEST(ServerTest, HandlersSeeTheRequestAsSentWhetherReadOrParsed) {
  struct Seen {
    std::string method, correlation_id, type_url, value;
    bool client_streaming = false;
    Envelope request;
    bool same_object_everywhere = false;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  auto server = start_server(make_handler([&](std::shared_ptr<ServerCall> call) {
    Seen s;
    s.method = std::string(call->method());
    s.correlation_id = std::string(call->correlation_id());
    s.type_url = std::string(call->payload_type_url());
    s.value = std::string(call->payload_value());
    s.client_streaming = call->client_streaming();
    // Four threads ask for the parse at once: one parse, one envelope, seen by all.
    std::vector<const Envelope*> got(4, nullptr);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < got.size(); ++t) threads.emplace_back([&, t] { got[t] = &call->request(); });
    for (auto& t : threads) t.join();
    s.same_object_everywhere = std::all_of(got.begin(), got.end(), [&](const Envelope* e) { return e == got[0]; });
    s.request = *got[0];
    {
      std::lock_guard lock(mu);
      seen.push_back(std::move(s));
    }
    call->finish_payload(call->payload_type_url(), call->payload_value());
  }));
  RawDealer raw(server->endpoints()[0]);
  std::vector<Envelope> sent;
  Envelope plain = raw_request("read", "t/Echo", 1'000'000, "read off the bytes");
  plain.set_session_id("sess");
  plain.set_trace_id("trace");
  plain.set_idempotent(true);
  sent.push_back(plain);
  Envelope with_metadata = raw_request("meta", "t/Echo", 1'000'000, "parsed on arrival");
  with_metadata.mutable_metadata()->insert({std::string("k"), std::string("v")});
  sent.push_back(with_metadata);
  sent.push_back(raw_request("big", "t/Echo", 1'000'000, std::string(ServerCall::kMaxKeptRequestBytes, 'b')));
  Envelope utf8 = raw_request("utf8", "t/\xc3\x89" "cho", 1'000'000, "a method beyond ASCII");
  utf8.set_end_of_stream(false);  // announces a client stream (the handler answers without it)
  sent.push_back(utf8);
  for (const Envelope& e : sent) {
    raw.send(e);
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << e.correlation_id();
    EXPECT_EQ(reply->correlation_id(), e.correlation_id());
    EXPECT_EQ(reply->payload().value(), e.payload().value()) << e.correlation_id();
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const Envelope& e = sent[i];
    const Seen& s = seen[i];
    const std::string what = e.correlation_id();
    EXPECT_EQ(s.method, e.method()) << what;
    EXPECT_EQ(s.correlation_id, e.correlation_id()) << what;
    EXPECT_EQ(s.type_url, e.payload().type_url()) << what;
    EXPECT_EQ(s.value, e.payload().value()) << what;
    EXPECT_EQ(s.client_streaming, !e.end_of_stream()) << what;
    EXPECT_TRUE(s.same_object_everywhere) << what;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(s.request, e))
        << what << ": got " << s.request.ShortDebugString();
  }
}

TEST(ServerTest, PingIsAnsweredWithPongAndLoad) {
  TestService service;
  ServerOptions o;
  o.load_reporter = [] { return Load{2, 5, 10, false}; };
  auto server = start_server(service.handler(), o);
  RawDealer raw(server->endpoints()[0]);
  Envelope ping;
  ping.set_kind(v1::PING);
  ping.set_correlation_id("p1");
  raw.send(ping);
  auto pong = raw.receive();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->kind(), v1::PONG);
  EXPECT_EQ(pong->correlation_id(), "p1");
  EXPECT_EQ(pong->load().queue_depth(), 5);
  EXPECT_FALSE(pong->load().draining());
  EXPECT_EQ(server->stats().pings.load(), 1u);
  EXPECT_EQ(service.calls.load(), 0);

  server->set_draining(true);
  raw.send(ping);
  pong = raw.receive();
  ASSERT_TRUE(pong);
  EXPECT_TRUE(pong->load().draining()) << "draining is OR-ed into the host's load report";
}

TEST(ServerTest, StreamOfRepliesIsNumbered) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  Envelope req = raw_request("s1", "t/Stream", 1'000'000, "tok");
  v1::EchoRequest body;
  body.set_text("tok");
  body.set_repeat(4);
  req.mutable_payload()->PackFrom(body);
  raw.send(req);
  for (int i = 0; i < 4; ++i) {
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->sequence(), static_cast<std::uint64_t>(i));
    EXPECT_EQ(reply->end_of_stream(), i == 3);
  }
}

TEST(ServerTest, ErrorStatusEndsTheStream) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("e", "t/Hold", 5'000'000));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  auto call = service.held_at(0);
  EXPECT_TRUE(call->send(echo_reply("part")));
  Envelope failed;
  set_status(failed, internal_error("model crashed"));
  EXPECT_TRUE(call->send(std::move(failed)));
  EXPECT_FALSE(call->send(echo_reply("after"))) << "the error ended the call";
  auto first = raw.receive();
  auto second = raw.receive();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(first->end_of_stream());
  EXPECT_TRUE(second->end_of_stream());
  EXPECT_EQ(second->status().code(), v1::Status::INTERNAL);
  EXPECT_FALSE(raw.receive(30ms));
}

TEST(ServerTest, RequestExpiredOnArrivalIsAnsweredAtOnce) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("late", "t/Echo", -5));
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->correlation_id(), "late");
  EXPECT_EQ(reply->status().code(), v1::Status::DEADLINE_EXCEEDED);
  EXPECT_TRUE(reply->end_of_stream());
  EXPECT_EQ(service.calls.load(), 0) << "an expired request never reaches the handler";
  EXPECT_EQ(server->stats().deadline_exceeded.load(), 1u);
}

TEST(ServerTest, ZeroDeadlineGetsTheConfiguredDefault) {
  TestService service;
  ServerOptions o;
  o.default_deadline = 1234ms;
  auto server = start_server(service.handler(), o);
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("d0", "t/Hold", 0));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  auto call = service.held_at(0);
  auto budget = call->deadline() - call->arrival();
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(budget).count(), 1234);
}

TEST(ServerTest, UnfinishedCallIsAnsweredDeadlineExceeded) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("slow", "t/Hold", 50'000));  // 50 ms
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->correlation_id(), "slow");
  EXPECT_EQ(reply->status().code(), v1::Status::DEADLINE_EXCEEDED);
  EXPECT_TRUE(reply->end_of_stream());
  ASSERT_EQ(service.held_count(), 1u);
  auto call = service.held_at(0);
  EXPECT_TRUE(call->cancelled());
  EXPECT_TRUE(eventually([&] { return service.cancel_statuses().size() == 1; }));
  EXPECT_EQ(service.cancel_statuses()[0].code(), StatusCode::kDeadlineExceeded);
  // A late reply is dropped and counted, never sent.
  EXPECT_FALSE(call->finish(echo_reply("too late")));
  EXPECT_EQ(server->stats().replies_dropped.load(), 1u);
  EXPECT_EQ(server->stats().deadline_exceeded.load(), 1u);
  EXPECT_FALSE(raw.receive(50ms)) << "nothing after the DEADLINE_EXCEEDED reply";
  EXPECT_TRUE(eventually([&] { return server->active_calls() == 0; }));
}

TEST(ServerTest, CancelReachesTheCall) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("c", "t/Hold", 5'000'000));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  Envelope cancel;
  cancel.set_kind(v1::CANCEL);
  cancel.set_correlation_id("c");
  raw.send(cancel);
  ASSERT_TRUE(eventually([&] { return service.cancel_statuses().size() == 1; }));
  EXPECT_EQ(service.cancel_statuses()[0].code(), StatusCode::kCancelled);
  auto call = service.held_at(0);
  EXPECT_TRUE(call->cancelled());
  EXPECT_EQ(call->cancel_status().code(), StatusCode::kCancelled);
  EXPECT_FALSE(call->send(echo_reply("x")));
  EXPECT_EQ(server->stats().cancelled.load(), 1u);
  EXPECT_FALSE(raw.receive(50ms)) << "a cancelled call is not answered";
}

TEST(ServerTest, OnCancelSetAfterTheCancelStillRuns) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("late-cb", "t/Hold", 30'000));
  ASSERT_TRUE(raw.receive());  // DEADLINE_EXCEEDED
  auto call = service.held_at(0);
  std::atomic<int> runs{0};
  call->on_cancel([&](const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
    runs.fetch_add(1);
  });
  EXPECT_TRUE(eventually([&] { return runs.load() == 1; }));
}

TEST(ServerTest, ClientStreamBufferedUntilTheHandlerTakesIt) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  Envelope req = raw_request("cs", "t/Hold", 5'000'000, "first");
  req.set_end_of_stream(false);
  raw.send(req);
  for (int i = 1; i <= 3; ++i) {
    Envelope data = echo_request("", "chunk" + std::to_string(i));
    data.set_kind(v1::STREAM_DATA);
    data.set_correlation_id("cs");
    data.set_sequence(static_cast<std::uint64_t>(i));
    data.set_end_of_stream(i == 3);
    raw.send(data);
  }
  ASSERT_TRUE(eventually([&] { return server->stats().stream_data.load() == 3; }));
  auto call = service.held_at(0);
  EXPECT_TRUE(call->client_streaming());
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<bool> ended{false};
  call->on_stream_data([&](Envelope data) {  // set late: the three are delivered now, in order
    std::lock_guard lock(mu);
    got.push_back(request_text(data));
    if (data.end_of_stream()) ended = true;
  });
  ASSERT_TRUE(eventually([&] { return ended.load(); }));
  std::lock_guard lock(mu);
  EXPECT_EQ(got, (std::vector<std::string>{"chunk1", "chunk2", "chunk3"}));
}

TEST(ServerTest, ClientStreamOutOfOrderFailsTheCall) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  Envelope req = raw_request("gap", "t/Collect", 5'000'000, "a");
  req.set_end_of_stream(false);
  raw.send(req);
  Envelope data = echo_request("", "b");
  data.set_kind(v1::STREAM_DATA);
  data.set_correlation_id("gap");
  data.set_sequence(2);  // 1 is missing
  raw.send(data);
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status().code(), v1::Status::DATA_LOSS);
  EXPECT_TRUE(reply->end_of_stream());
}

TEST(ServerTest, DrainingRejectsNewRequestsButFinishesOpenOnes) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("open", "t/Hold", 5'000'000));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  server->set_draining(true);
  raw.send(raw_request("new", "t/Echo", 5'000'000));
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->correlation_id(), "new");
  EXPECT_EQ(reply->status().code(), v1::Status::UNAVAILABLE);
  EXPECT_NE(reply->status().message().find("draining"), std::string::npos);
  EXPECT_TRUE(reply->load().draining());
  EXPECT_EQ(server->stats().rejected_draining.load(), 1u);
  // The call accepted before the drain still completes.
  EXPECT_TRUE(service.held_at(0)->finish(echo_reply("done")));
  reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->correlation_id(), "open");
  EXPECT_EQ(reply_text(*reply), "done");
}

/// Each malformed input gets INVALID_ARGUMENT and the server keeps serving.
TEST(ServerTest, MalformedInputIsAnsweredAndCounted) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  auto expect_invalid = [&](const std::string& what, const std::string& correlation_id) {
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << what;
    EXPECT_EQ(reply->status().code(), v1::Status::INVALID_ARGUMENT) << what;
    EXPECT_EQ(reply->correlation_id(), correlation_id) << what;
    EXPECT_TRUE(reply->end_of_stream()) << what;
  };
  raw.send_frames({std::string("\xff\xfe garbage \x01\x02", 14)});
  expect_invalid("garbage bytes", "");
  raw.send_frames({"", raw_request("two", "t/Echo", 1'000'000).SerializeAsString()});
  expect_invalid("two frames", "");
  raw.send_frames({std::string()});  // empty frame parses as an empty envelope: kind unspecified
  expect_invalid("empty frame", "");
  Envelope no_method = raw_request("nm", "", 1'000'000);
  raw.send(no_method);
  expect_invalid("no method", "nm");
  Envelope no_corr = raw_request("", "t/Echo", 1'000'000);
  raw.send(no_corr);
  expect_invalid("no correlation id", "");
  Envelope odd_kind = raw_request("k", "t/Echo", 1'000'000);
  odd_kind.set_kind(static_cast<v1::EnvelopeKind>(42));
  raw.send(odd_kind);
  expect_invalid("unknown kind", "k");
  Envelope reply_kind = raw_request("r", "t/Echo", 1'000'000);
  reply_kind.set_kind(v1::REPLY);
  raw.send(reply_kind);
  expect_invalid("REPLY sent to a server", "r");
  // Truncated protobuf (a length prefix running past the end).
  std::string cut = raw_request("cut", "t/Echo", 1'000'000, std::string(100, 'x')).SerializeAsString();
  raw.send_frames({cut.substr(0, cut.size() - 10)});
  expect_invalid("truncated envelope", "");
  // Invalid UTF-8 in the method (a proto3 string): refused by the parse, not routed.
  Envelope bad_utf8 = raw_request("u", "t/Echo", 1'000'000);
  bad_utf8.clear_method();
  raw.send_frames({bad_utf8.SerializeAsString() + std::string("\x22\x02\xff\xfe", 4)});
  expect_invalid("invalid UTF-8 in the method", "");

  EXPECT_EQ(server->stats().malformed.load(), 9u);
  EXPECT_EQ(service.calls.load(), 0);
  raw.send(raw_request("ok", "t/Echo", 1'000'000, "still here"));
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply_text(*reply), "still here");
}

/// Every envelope of a BATCH (proto/README.md, "Batches"), as a raw DEALER sees them.
std::vector<Envelope> unbatch(const Envelope& env) {
  if (env.kind() != v1::BATCH) return {env};
  std::vector<Envelope> out;
  for (const std::string& bytes : env.batch()) {
    Envelope e;
    EXPECT_TRUE(e.ParseFromString(bytes));
    out.push_back(std::move(e));
  }
  return out;
}

TEST(ServerTest, ABatchIsServedEnvelopeByEnvelopeAndAnsweredInOneBatch) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  Envelope batch;
  batch.set_kind(v1::BATCH);
  for (const char* text : {"one", "two", "three"}) {
    batch.add_batch(raw_request(std::string("b-") + text, "t/Echo", 1'000'000, text).SerializeAsString());
  }
  raw.send(batch);
  // The three replies are queued while the batch is read (t/Echo answers on the I/O thread) and
  // leave in the drain after it: one BATCH, because a client that sends batches reads them.
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->kind(), v1::BATCH);
  std::vector<Envelope> replies = unbatch(*reply);
  ASSERT_EQ(replies.size(), 3u);
  const char* texts[] = {"one", "two", "three"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[i].kind(), v1::REPLY);
    EXPECT_EQ(replies[i].correlation_id(), std::string("b-") + texts[i]) << "replies keep the requests' order";
    EXPECT_EQ(reply_text(replies[i]), texts[i]);
    EXPECT_TRUE(replies[i].load().accepts_batches());
  }
  EXPECT_EQ(server->stats().batches_received.load(), 1u);
  // Counted once libzmq took it, which may be after the client already read it.
  EXPECT_TRUE(eventually([&] { return server->stats().batches_sent.load() == 1u; }))
      << server->stats().batches_sent.load();
  EXPECT_EQ(server->stats().received.load(), 3u) << "a batch's envelopes count one by one";
  EXPECT_EQ(server->stats().requests.load(), 3u);
  EXPECT_EQ(server->stats().replies_sent.load(), 3u);
}

TEST(ServerTest, MalformedBatchesAreAnsweredAndTheRestOfABatchStillServed) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  auto expect_invalid = [&](const std::string& what, const std::string& message_part) {
    auto reply = raw.receive();
    ASSERT_TRUE(reply) << what;
    ASSERT_EQ(reply->kind(), v1::REPLY) << what << ": errors are answered alone";
    EXPECT_EQ(reply->status().code(), v1::Status::INVALID_ARGUMENT) << what;
    EXPECT_NE(reply->status().message().find(message_part), std::string::npos) << reply->status().message();
  };
  Envelope empty;
  empty.set_kind(v1::BATCH);
  raw.send(empty);
  expect_invalid("empty batch", "holds no well-formed envelopes");
  Envelope nested;
  nested.set_kind(v1::BATCH);
  nested.add_batch(empty.SerializeAsString());
  raw.send(nested);
  expect_invalid("batch in a batch", "a BATCH inside a BATCH");
  Envelope huge;  // served in one go, so bounded: nothing of it runs
  huge.set_kind(v1::BATCH);
  const std::string one = raw_request("h", "t/Echo", 1'000'000).SerializeAsString();
  for (std::size_t i = 0; i <= detail::BatchWriter::kMaxReceivedEntries; ++i) huge.add_batch(one);
  raw.send(huge);
  expect_invalid("batch over the limit", "envelopes (at most 256)");
  EXPECT_EQ(service.calls.load(), 0);
  // A garbage entry is answered; the good entry beside it is served.
  Envelope mixed;
  mixed.set_kind(v1::BATCH);
  mixed.add_batch(std::string("\xff\xfe garbage", 10));
  mixed.add_batch(raw_request("good", "t/Echo", 1'000'000, "served").SerializeAsString());
  raw.send(mixed);
  expect_invalid("garbage entry", "is not a parley.v1.Envelope");
  auto reply = raw.receive();
  ASSERT_TRUE(reply);
  std::vector<Envelope> replies = unbatch(*reply);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].correlation_id(), "good");
  EXPECT_EQ(reply_text(replies[0]), "served");
  EXPECT_EQ(server->stats().malformed.load(), 4u);
}

TEST(ServerTest, RepliesAreBatchedOnlyForClientsThatReadBatches) {
  TestService service;
  auto server = start_server(service.handler());
  // t/Stream sends its 20 replies from on_call, on the I/O thread: they are queued together and
  // leave in one drain, which batches them for a client that reads batches.
  auto stream_of_20 = [](const std::string& correlation_id) {
    Envelope req = raw_request(correlation_id, "t/Stream", 5'000'000, "tok");
    v1::EchoRequest body;
    body.set_text("tok");
    body.set_repeat(20);
    req.mutable_payload()->PackFrom(body);
    return req;
  };
  auto receive_all = [](RawDealer& raw, std::size_t* messages) {
    std::vector<Envelope> all;
    *messages = 0;
    while (all.size() < 20) {
      auto reply = raw.receive();
      if (!reply) break;
      ++*messages;
      for (auto& e : unbatch(*reply)) all.push_back(std::move(e));
    }
    return all;
  };
  Envelope ping;
  ping.set_kind(v1::PING);
  ping.set_correlation_id("p");

  RawDealer old_client(server->endpoints()[0]);
  old_client.send(ping);  // without load.accepts_batches: a client of an older version
  auto pong = old_client.receive();
  ASSERT_TRUE(pong);
  EXPECT_TRUE(pong->load().accepts_batches()) << "the server says it reads batches";
  old_client.send(stream_of_20("old"));
  std::size_t messages = 0;
  std::vector<Envelope> replies = receive_all(old_client, &messages);
  ASSERT_EQ(replies.size(), 20u);
  EXPECT_EQ(messages, 20u) << "one REPLY per message for a client that never said it reads batches";
  EXPECT_EQ(server->stats().batches_sent.load(), 0u);

  RawDealer new_client(server->endpoints()[0]);
  ping.mutable_load()->set_accepts_batches(true);  // what our client says in its PINGs
  new_client.send(ping);
  ASSERT_TRUE(new_client.receive());
  new_client.send(stream_of_20("new"));
  replies = receive_all(new_client, &messages);
  ASSERT_EQ(replies.size(), 20u);
  EXPECT_EQ(messages, 2u) << "BATCHes of at most 16 (BatchWriter::kMaxEntries)";
  for (std::size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i].sequence(), i) << "a stream keeps its order across batches";
    EXPECT_EQ(replies[i].end_of_stream(), i == 19);
  }
  // Counted once libzmq took each, which may be after the client already read it.
  EXPECT_TRUE(eventually([&] { return server->stats().batches_sent.load() == 2u; }))
      << server->stats().batches_sent.load();
}

/// Issue 15: every garbage frame with invalid UTF-8 in a string field made protobuf write an
/// ERROR line of its own (unthrottled). They are routed into the rate-limited log now.
// A handler answering on the I/O thread with finish_payload(): each call's only reply is written
// straight into the batch gathered for its client (no message of its own, no outbox). What
// arrives must be what the ordinary path sends: every reply once, batched for a client that reads
// batches, alone for one that does not, a stream's replies in order, the calls gone from the table.
TEST(ServerTest, RepliesWrittenStraightIntoABatchArriveLikeQueuedOnes) {
  auto server = start_server(make_handler([](std::shared_ptr<ServerCall> call) {
    if (call->method() == "t/Stream") {  // three replies: only the first could be the last
      v1::EchoReply part;
      part.set_text("part");
      call->send_payload(part);
      call->send_payload(part);
    }
    call->finish_payload(call->payload_type_url(), call->payload_value());
  }));
  auto send_batch = [](RawDealer& raw, const std::string& prefix, int n, const std::string& method) {
    Envelope batch;
    batch.set_kind(v1::BATCH);
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + std::to_string(i);
      batch.add_batch(raw_request(id, method, 1'000'000, "text " + id).SerializeAsString());
    }
    raw.send(batch);
  };
  auto receive = [](RawDealer& raw, std::size_t want, std::size_t* messages) {
    std::vector<Envelope> all;
    *messages = 0;
    while (all.size() < want) {
      auto reply = raw.receive();
      if (!reply) break;
      ++*messages;
      for (auto& e : unbatch(*reply)) all.push_back(std::move(e));
    }
    return all;
  };
  // A client that sends batches reads them: 40 unary calls come back in batches of at most 16.
  RawDealer batching(server->endpoints()[0]);
  send_batch(batching, "u", 40, "t/Echo");
  std::size_t messages = 0;
  std::vector<Envelope> replies = receive(batching, 40, &messages);
  ASSERT_EQ(replies.size(), 40u);
  EXPECT_GE(messages, 3u);
  EXPECT_LT(messages, 40u) << "the replies were batched";
  std::set<std::string> seen;
  for (const Envelope& r : replies) {
    EXPECT_EQ(r.kind(), v1::REPLY);
    EXPECT_TRUE(r.end_of_stream());
    EXPECT_EQ(r.sequence(), 0u);
    v1::EchoRequest echoed;  // the request's own payload, sent back
    EXPECT_TRUE(r.payload().UnpackTo(&echoed));
    EXPECT_EQ(echoed.text(), "text " + r.correlation_id());
    EXPECT_TRUE(seen.insert(r.correlation_id()).second) << "one reply per call: " << r.correlation_id();
  }
  // Streams from the same handler: more than one reply, so all of them take the ordinary way.
  send_batch(batching, "s", 3, "t/Stream");
  replies = receive(batching, 9, &messages);
  ASSERT_EQ(replies.size(), 9u);
  std::map<std::string, std::uint64_t> next;
  for (const Envelope& r : replies) {
    EXPECT_EQ(r.sequence(), next[r.correlation_id()]++) << r.correlation_id() << " in order";
    EXPECT_EQ(r.end_of_stream(), r.sequence() == 2);
  }
  // A client that never sent a batch gets each reply alone.
  RawDealer plain(server->endpoints()[0]);
  for (int i = 0; i < 5; ++i) plain.send(raw_request("p" + std::to_string(i), "t/Echo", 1'000'000, "plain"));
  replies = receive(plain, 5, &messages);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(messages, 5u);
  EXPECT_TRUE(eventually([&] { return server->stats().replies_sent.load() == 40u + 9u + 5u; }))
      << server->stats().replies_sent.load();
  EXPECT_EQ(server->active_calls(), 0u);
  EXPECT_EQ(server->stats().replies_dropped.load(), 0u);
  EXPECT_EQ(server->stats().replies_direct.load(), 40u) << "the batching client's unary calls, nothing else";
}

TEST(ServerTest, GarbageFramesDoNotFloodTheLog) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  // A REQUEST whose method is not UTF-8 (bytes patched in: serializing it would log here too).
  std::string bytes = raw_request("bad", "AAAAAAAA", 1'000'000).SerializeAsString();
  bytes.replace(bytes.find("AAAAAAAA"), 8, "\xff\xfe\xfd\xfc\xff\xfe\xfd\xfc");
  std::fflush(stderr);
  char path[] = "/tmp/parley-stderr-XXXXXX";
  int capture = ::mkstemp(path);
  ASSERT_GE(capture, 0);
  int saved = ::dup(2);
  ::dup2(capture, 2);
  const std::uint64_t before = protobuf_log_lines();
  for (int i = 0; i < 200; ++i) raw.send_frames({bytes});
  int answered = 0;
  for (int i = 0; i < 200; ++i) answered += raw.receive() ? 1 : 0;
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(capture);
  std::ifstream in(path);
  std::string line;
  int protobuf_lines = 0;
  while (std::getline(in, line)) protobuf_lines += line.find("UTF-8") != std::string::npos ? 1 : 0;
  ::unlink(path);
  EXPECT_EQ(answered, 200) << "each frame is answered";
  EXPECT_GE(protobuf_log_lines(), before + 200) << "protobuf's complaints go through our handler";
  EXPECT_LE(protobuf_lines, 3) << "the log was flooded";
  EXPECT_EQ(server->stats().malformed.load(), 200u);
}

TEST(ServerTest, UnknownCancelAndStreamDataAreDroppedQuietly) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  Envelope cancel;
  cancel.set_kind(v1::CANCEL);
  cancel.set_correlation_id("nobody");
  raw.send(cancel);
  Envelope data;
  data.set_kind(v1::STREAM_DATA);
  data.set_correlation_id("nobody");
  data.set_sequence(1);
  raw.send(data);
  ASSERT_TRUE(eventually([&] { return server->stats().received.load() == 2; }));
  EXPECT_TRUE(eventually([&] { return server->stats().stream_data_dropped.load() == 1; }));
  EXPECT_EQ(server->stats().malformed.load(), 0u);
  EXPECT_FALSE(raw.receive(30ms));
}

TEST(ServerTest, ReplyToAVanishedClientIsCountedAsUnroutable) {
  TestService service;
  auto server = start_server(service.handler());
  auto raw = std::make_unique<RawDealer>(server->endpoints()[0]);
  Envelope req = raw_request("gone", "t/Hold", 5'000'000);
  raw->send(req);
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  raw.reset();  // the client disappears
  auto call = service.held_at(0);
  // The ROUTER notices the disconnect asynchronously: keep streaming until a send is refused.
  bool counted = eventually([&] {
    call->send(echo_reply("anyone?"));
    return server->stats().send_failed_unroutable.load() > 0;
  });
  EXPECT_TRUE(counted);
  EXPECT_TRUE(eventually([&] { return call->cancelled(); })) << "an undeliverable stream is cancelled";
  EXPECT_TRUE(eventually([&] { return server->active_calls() == 0; }));
}

TEST(ServerTest, FullHighWaterMarkIsCounted) {
  TestService service;
  ServerOptions o;
  o.send_hwm = 1;
  auto server = start_server(service.handler(), o);
  RawDealer raw(server->endpoints()[0]);
  int one = 1;
  int small = 4096;
  zmq_setsockopt(raw.socket(), ZMQ_RCVHWM, &one, sizeof(one));
  zmq_setsockopt(raw.socket(), ZMQ_RCVBUF, &small, sizeof(small));
  raw.send(raw_request("flood", "t/Hold", 10'000'000));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  auto call = service.held_at(0);
  const Envelope big = echo_reply(std::string(64 * 1024, 'z'));
  std::uint64_t sent = 0;
  // The client never reads: kernel buffers fill, then libzmq's queue, then sends are refused.
  bool counted = eventually(
      [&] {
        while (sent - server->stats().replies_sent.load() < 16 && call->send(big)) ++sent;
        return server->stats().send_failed_hwm.load() > 0;
      },
      10s);
  EXPECT_TRUE(counted) << "sent " << sent;
  EXPECT_TRUE(eventually([&] { return call->cancelled(); }));
  EXPECT_FALSE(call->send(big));
}

TEST(ServerTest, StopCancelsOpenCalls) {
  TestService service;
  auto server = start_server(service.handler());
  RawDealer raw(server->endpoints()[0]);
  raw.send(raw_request("open", "t/Hold", 5'000'000));
  ASSERT_TRUE(eventually([&] { return service.held_count() == 1; }));
  server->stop();
  ASSERT_EQ(service.cancel_statuses().size(), 1u);
  EXPECT_EQ(service.cancel_statuses()[0].code(), StatusCode::kUnavailable);
  EXPECT_FALSE(service.held_at(0)->finish(Status::ok()));
  EXPECT_EQ(server->active_calls(), 0);
}

}  // namespace
}  // namespace parley::transport::testing
