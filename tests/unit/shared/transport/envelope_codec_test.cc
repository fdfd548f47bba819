// envelope_codec: the transport's fields written straight into the wire must parse back exactly
// as the generated setters would have set them; peek_kind and the reply/request readers must agree
// with a full parse and refuse what is not wire format. Also IdGenerator's numeric form (the client's call keys).
// Depends on shared/transport/envelope_codec.h, parley_proto, GoogleTest.
#include "shared/transport/envelope_codec.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <zmq.h>

#include <functional>
#include <random>
#include <set>

#include "parley/v1/echo.pb.h"

namespace parley::transport::detail {
namespace {

Envelope parse(Message& m) {
  Envelope e;
  EXPECT_TRUE(e.ParseFromArray(zmq_msg_data(m.get()), static_cast<int>(zmq_msg_size(m.get()))));
  return e;
}

Envelope user_part() {
  v1::EchoRequest req;
  req.set_text("hello");
  Envelope e;
  e.set_method("parley.v1.Echo/Echo");
  e.set_session_id("session-1");
  e.mutable_payload()->PackFrom(req);
  (*e.mutable_metadata())["k"] = "v";
  return e;
}

TEST(EnvelopeCodecTest, WrittenFieldsParseBackLikeSetters) {
  const Load load{3, -1, 64, true};  // a negative value takes the 10-byte varint
  TransportFields f;
  f.id = "c0a1b2c-7";
  f.correlation_id = "c0a1b2c-6";
  f.trace_id = "trace-0123456789abcdef";
  f.deadline_remaining_us = -25;
  f.sequence = 300;
  f.end_of_stream = true;
  f.kind = v1::REPLY;
  f.idempotent = true;
  f.load = &load;
  const std::string replica(200, 'r');  // a length that takes a 2-byte varint
  f.replica = replica;
  Envelope body = user_part();
  Message from_envelope = encode_envelope(body, f);
  Message from_bytes = encode_envelope(body.SerializeAsString(), f);
  ASSERT_EQ(zmq_msg_size(from_envelope.get()), zmq_msg_size(from_bytes.get()));

  Envelope expected = user_part();
  expected.set_id("c0a1b2c-7");
  expected.set_correlation_id("c0a1b2c-6");
  expected.set_trace_id("trace-0123456789abcdef");
  expected.set_deadline_remaining_us(-25);
  expected.set_sequence(300);
  expected.set_end_of_stream(true);
  expected.set_kind(v1::REPLY);
  expected.set_idempotent(true);
  set_load(expected, load);
  expected.set_replica(std::string(200, 'r'));
  for (Message* m : {&from_envelope, &from_bytes}) {
    Envelope got = parse(*m);
    EXPECT_EQ(got.SerializeAsString(), expected.SerializeAsString()) << got.DebugString();
  }
  EXPECT_EQ(zmq_msg_size(from_envelope.get()), expected.ByteSizeLong()) << "no field written twice";
}

TEST(EnvelopeCodecTest, DefaultsAreNotWrittenButAnEmptyLoadIs) {
  TransportFields none;
  EXPECT_EQ(none.size(), 0u);
  const Load zero{};
  TransportFields f;
  f.load = &zero;
  Message m = encode_envelope(std::string_view(), f);
  Envelope got = parse(m);
  EXPECT_TRUE(got.has_load()) << "a zero report is still a report";
  EXPECT_EQ(zmq_msg_size(m.get()), 2u);  // tag 13 + length 0
}

TEST(EnvelopeCodecTest, ClearTransportFieldsLeavesTheCallersFields) {
  Envelope e = user_part();
  e.set_id("mine");
  e.set_correlation_id("x");
  e.set_kind(v1::PONG);
  e.set_sequence(9);
  e.set_replica("r");
  e.mutable_load()->set_in_flight(4);
  Envelope keep = e;
  clear_transport_fields(keep, /*keep_id=*/true);
  EXPECT_EQ(keep.id(), "mine");
  EXPECT_TRUE(keep.correlation_id().empty());
  EXPECT_EQ(keep.kind(), 0);
  EXPECT_FALSE(keep.has_load());
  EXPECT_TRUE(keep.replica().empty());
  EXPECT_EQ(keep.method(), "parley.v1.Echo/Echo");
  EXPECT_EQ(keep.session_id(), "session-1");
  EXPECT_TRUE(keep.has_payload());
  clear_transport_fields(e, /*keep_id=*/false);
  EXPECT_TRUE(e.id().empty());
}

// Client::call(const Envelope&) serializes a request as it is when this says false: it must
// see every field clear_transport_fields() would have cleared.
TEST(EnvelopeCodecTest, HasTransportFieldsSeesEachFieldTheClearWouldDrop) {
  EXPECT_FALSE(has_transport_fields(user_part(), /*keep_id=*/false));
  const std::vector<std::pair<const char*, std::function<void(Envelope&)>>> cases = {
      {"correlation_id", [](Envelope& e) { e.set_correlation_id("c"); }},
      {"deadline_remaining_us", [](Envelope& e) { e.set_deadline_remaining_us(5); }},
      {"sequence", [](Envelope& e) { e.set_sequence(2); }},
      {"end_of_stream", [](Envelope& e) { e.set_end_of_stream(true); }},
      {"kind", [](Envelope& e) { e.set_kind(v1::REQUEST); }},
      {"idempotent", [](Envelope& e) { e.set_idempotent(true); }},
      {"load", [](Envelope& e) { e.mutable_load(); }},
      {"replica", [](Envelope& e) { e.set_replica("r"); }},
      {"batch", [](Envelope& e) { e.add_batch(std::string("x")); }},
  };
  for (const auto& [name, set] : cases) {
    Envelope e = user_part();
    set(e);
    EXPECT_TRUE(has_transport_fields(e, /*keep_id=*/false)) << name;
    EXPECT_TRUE(has_transport_fields(e, /*keep_id=*/true)) << name;
    clear_transport_fields(e, /*keep_id=*/false);
    EXPECT_FALSE(has_transport_fields(e, /*keep_id=*/false)) << name << " survives the clear";
  }
  Envelope with_id = user_part();
  with_id.set_id("mine");
  EXPECT_TRUE(has_transport_fields(with_id, /*keep_id=*/false));
  EXPECT_FALSE(has_transport_fields(with_id, /*keep_id=*/true));
}

TEST(EnvelopeCodecTest, PeekKindAgreesWithAParse) {
  for (int kind : {0, 1, 2, 3, 4, 5, 6, 99, -3}) {
    Envelope e = user_part();
    e.set_kind(static_cast<v1::EnvelopeKind>(kind));
    e.set_deadline_remaining_us(-1);
    e.mutable_status()->set_code(v1::Status::INTERNAL);
    const std::string bytes = e.SerializeAsString();
    EXPECT_EQ(peek_kind(bytes.data(), bytes.size()), kind);
  }
  // The last occurrence wins, as in a parser.
  Envelope a, b;
  a.set_kind(v1::REQUEST);
  b.set_kind(v1::CANCEL);
  const std::string both = a.SerializeAsString() + b.SerializeAsString();
  EXPECT_EQ(peek_kind(both.data(), both.size()), v1::CANCEL);
}

TEST(EnvelopeCodecTest, PeekKindRefusesWhatIsNotWireFormat) {
  const std::string truncated = user_part().SerializeAsString().substr(0, 10);
  EXPECT_EQ(peek_kind(truncated.data(), truncated.size()), std::nullopt);
  const std::string group = "\x0b";  // start-group wire type: not in an Envelope
  EXPECT_EQ(peek_kind(group.data(), group.size()), std::nullopt);
  const std::string long_varint(11, '\xff');
  EXPECT_EQ(peek_kind(long_varint.data(), long_varint.size()), std::nullopt);
  const std::string overlong_length = "\x0a\x7f" "abc";  // field 1, 127 bytes announced, 3 present
  EXPECT_EQ(peek_kind(overlong_length.data(), overlong_length.size()), std::nullopt);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {  // random bytes never crash it, and a full parse agrees when it succeeds
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    std::optional<int> k = peek_kind(junk.data(), junk.size());
    Envelope e;
    if (k && e.ParseFromString(junk)) {
      EXPECT_EQ(*k, static_cast<int>(e.kind()));
    }
  }
}

std::string bytes_of(Message& m) {
  return std::string(static_cast<const char*>(zmq_msg_data(m.get())), zmq_msg_size(m.get()));
}

// read_reply_fields (call_view's reader) must see what a full parse sees, in replies made by the
// generated code, by our own encoders, and in junk a parser happens to accept.
void expect_same(const ReplyFields& f, const Envelope& e, const std::string& what) {
  EXPECT_EQ(f.kind, static_cast<int>(e.kind())) << what;
  EXPECT_EQ(f.correlation_id, e.correlation_id()) << what;
  EXPECT_EQ(f.replica, e.replica()) << what;
  EXPECT_EQ(f.status_code, static_cast<int>(e.status().code())) << what;
  EXPECT_EQ(f.end_of_stream, e.end_of_stream()) << what;
  EXPECT_EQ(f.sequence, e.sequence()) << what;
  EXPECT_EQ(f.has_load, e.has_load()) << what;
  EXPECT_EQ(f.load.in_flight, e.load().in_flight()) << what;
  EXPECT_EQ(f.load.queue_depth, e.load().queue_depth()) << what;
  EXPECT_EQ(f.load.capacity, e.load().capacity()) << what;
  EXPECT_EQ(f.load.draining, e.load().draining()) << what;
  EXPECT_EQ(f.load.accepts_batches, e.load().accepts_batches()) << what;
  EXPECT_EQ(f.has_payload, e.has_payload()) << what;
  EXPECT_EQ(f.type_url, e.payload().type_url()) << what;
  EXPECT_EQ(f.value, e.payload().value()) << what;
  std::int64_t sum = 0;
  for (const auto& t : e.timings()) sum += t.duration_us();
  EXPECT_EQ(f.service_time_us, sum) << what;
}

TEST(EnvelopeCodecTest, ReplyFieldsAgreeWithAParse) {
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    Envelope e = user_part();
    if (rng() % 2) e.set_kind(v1::REPLY);
    if (rng() % 2) e.set_correlation_id("c-" + std::to_string(rng() % 1000));
    if (rng() % 2) e.set_replica(std::string(rng() % 40, 'r'));
    if (rng() % 3 == 0) e.mutable_status()->set_code(static_cast<v1::Status::Code>(rng() % 17));
    if (rng() % 3 == 0) e.mutable_status()->set_message("why");
    if (rng() % 2) e.set_end_of_stream(true);
    if (rng() % 2) e.set_sequence(rng() % 100000);
    if (rng() % 2) {
      e.mutable_load()->set_in_flight(static_cast<int>(rng() % 50) - 5);
      e.mutable_load()->set_capacity(static_cast<int>(rng() % 500));
      e.mutable_load()->set_draining(rng() % 2);
      e.mutable_load()->set_accepts_batches(rng() % 2);
    }
    if (rng() % 4 == 0) e.clear_payload();
    for (int t = static_cast<int>(rng() % 4); t > 0; --t) {
      auto* timing = e.add_timings();
      timing->set_stage("s");
      timing->set_duration_us(static_cast<std::int64_t>(rng() % 100000));
    }
    const std::string bytes = e.SerializeAsString();
    ReplyFields f;
    ASSERT_TRUE(read_reply_fields(bytes.data(), bytes.size(), &f)) << i;
    expect_same(f, e, "case " + std::to_string(i));
  }
  // Our own encoders: a payload reply with the transport's fields after it.
  v1::EchoReply typed;
  typed.set_text("typed");
  const Load load{3, 1, 9, true, true};
  TransportFields tf;
  tf.correlation_id = "c-9";
  tf.kind = v1::REPLY;
  tf.sequence = 4;
  tf.end_of_stream = true;
  tf.replica = "rep";
  tf.load = &load;
  PayloadRef payload;
  const std::string url = "type.googleapis.com/parley.v1.EchoReply";
  payload.type_url = url;
  payload.message = &typed;
  Message m = encode_payload(payload, tf);
  const std::string bytes = bytes_of(m);
  Envelope e;
  ASSERT_TRUE(e.ParseFromString(bytes));
  ReplyFields f;
  ASSERT_TRUE(read_reply_fields(bytes.data(), bytes.size(), &f));
  expect_same(f, e, "encode_payload");
  // The last occurrence of a field wins and embedded messages merge, as in a parser.
  Envelope a, b;
  a.set_sequence(1);
  a.mutable_load()->set_in_flight(5);
  b.set_sequence(2);
  b.mutable_load()->set_capacity(7);
  const std::string both = a.SerializeAsString() + b.SerializeAsString();
  ASSERT_TRUE(e.ParseFromString(both));
  ASSERT_TRUE(read_reply_fields(both.data(), both.size(), &f));
  expect_same(f, e, "two messages concatenated");
  // Junk never crashes it; when both accept it, they agree.
  google::protobuf::LogSilencer quiet;  // the parser logs every invalid UTF-8 type URL it refuses
  for (int i = 0; i < 3000; ++i) {
    std::string junk = i % 2 ? bytes.substr(0, rng() % (bytes.size() + 1)) : std::string(rng() % 64, '\0');
    if (i % 2 == 0) {
      for (char& c : junk) c = static_cast<char>(rng());
    } else if (!junk.empty()) {
      junk[rng() % junk.size()] = static_cast<char>(rng());
    }
    ReplyFields g;
    Envelope parsed;
    if (read_reply_fields(junk.data(), junk.size(), &g) && parsed.ParseFromString(junk)) {
      expect_same(g, parsed, "junk " + std::to_string(i));
    }
  }
}


// read_request_fields (the server's reader): when it says `simple`, a parse must succeed and see
// exactly the fields it read; what it leaves to the parser it must still walk (the kind).
void expect_same(const RequestFields& f, const Envelope& e, const std::string& what) {
  EXPECT_EQ(f.kind, static_cast<int>(e.kind())) << what;
  EXPECT_EQ(f.id, e.id()) << what;
  EXPECT_EQ(f.correlation_id, e.correlation_id()) << what;
  EXPECT_EQ(f.session_id, e.session_id()) << what;
  EXPECT_EQ(f.method, e.method()) << what;
  EXPECT_EQ(f.trace_id, e.trace_id()) << what;
  EXPECT_EQ(f.deadline_remaining_us, e.deadline_remaining_us()) << what;
  EXPECT_EQ(f.sequence, e.sequence()) << what;
  EXPECT_EQ(f.end_of_stream, e.end_of_stream()) << what;
  EXPECT_EQ(f.idempotent, e.idempotent()) << what;
  EXPECT_EQ(f.type_url, e.payload().type_url()) << what;
  EXPECT_EQ(f.value, e.payload().value()) << what;
}

Envelope random_request(std::mt19937& rng) {
  Envelope e;
  e.set_kind(v1::REQUEST);
  auto text = [&](std::size_t max) { return std::string(rng() % (max + 1), static_cast<char>('a' + rng() % 26)); };
  if (rng() % 2) e.set_id(text(20));
  if (rng() % 4) e.set_correlation_id(text(12));
  if (rng() % 2) e.set_session_id(text(40));
  if (rng() % 4) e.set_method(rng() % 2 ? "parley.v1.Echo/Echo" : text(200));
  if (rng() % 2) e.set_trace_id(text(32));
  if (rng() % 2) e.set_deadline_remaining_us(static_cast<std::int64_t>(rng() % 2000000) - 1000);
  if (rng() % 3 == 0) e.set_sequence(rng());
  if (rng() % 2) e.set_end_of_stream(true);
  if (rng() % 3 == 0) e.set_idempotent(true);
  if (rng() % 5 == 0) e.set_replica(text(30));
  if (rng() % 4) {
    v1::EchoRequest req;
    req.set_text(text(300));
    req.set_repeat(static_cast<int>(rng() % 5));
    e.mutable_payload()->PackFrom(req);
  } else if (rng() % 2) {
    e.mutable_payload();  // present but empty
  }
  return e;
}

TEST(EnvelopeCodecTest, RequestFieldsAgreeWithAParse) {
  std::mt19937 rng(13);
  for (int i = 0; i < 500; ++i) {
    const Envelope e = random_request(rng);
    const std::string bytes = e.SerializeAsString();
    RequestFields f;
    ASSERT_TRUE(read_request_fields(bytes.data(), bytes.size(), &f)) << i;
    EXPECT_TRUE(f.simple) << i;
    expect_same(f, e, "case " + std::to_string(i));
  }
  // What the client sends: its body, then the transport's fields (encode_envelope).
  Envelope body;
  body.set_method("parley.v1.Echo/Echo");
  v1::EchoRequest req;
  req.set_text("hi");
  body.mutable_payload()->PackFrom(req);
  TransportFields tf;
  tf.id = "7";
  tf.correlation_id = "7";
  tf.session_id = "s";
  tf.trace_id = "t";
  tf.deadline_remaining_us = 30'000'000;
  tf.kind = v1::REQUEST;
  tf.end_of_stream = true;
  tf.idempotent = true;
  Message m = encode_envelope(body, tf);
  const std::string sent = bytes_of(m);
  RequestFields f;
  ASSERT_TRUE(read_request_fields(sent.data(), sent.size(), &f));
  EXPECT_TRUE(f.simple);
  expect_same(f, parse(m), "encode_envelope");
  // The last occurrence wins and the payload merges, as in a parser.
  Envelope a, b;
  a.set_method("first");
  a.mutable_payload()->set_type_url("type.googleapis.com/A");
  a.mutable_payload()->set_value("va");
  b.set_method("second");
  b.mutable_payload()->set_value("vb");
  const std::string both = a.SerializeAsString() + b.SerializeAsString();
  Envelope merged;
  ASSERT_TRUE(merged.ParseFromString(both));
  ASSERT_TRUE(read_request_fields(both.data(), both.size(), &f));
  EXPECT_TRUE(f.simple);
  expect_same(f, merged, "two messages concatenated");
}

TEST(EnvelopeCodecTest, RequestFieldsLeaveToTheParserWhatTheyDoNotCheck) {
  Envelope base;
  base.set_kind(v1::REQUEST);
  base.set_correlation_id("c");
  base.set_method("m");
  const std::string plain = base.SerializeAsString();
  std::vector<std::pair<std::string, std::string>> cases;  // name, bytes
  auto with = [&](const std::string& name, const std::function<void(Envelope&)>& set) {
    Envelope e = base;
    set(e);
    cases.emplace_back(name, e.SerializeAsString());
  };
  with("metadata", [](Envelope& e) { e.mutable_metadata()->insert({std::string("k"), std::string("v")}); });
  with("status", [](Envelope& e) { e.mutable_status()->set_message("why"); });
  with("load", [](Envelope& e) { e.mutable_load()->set_capacity(3); });
  with("timings", [](Envelope& e) { e.add_timings()->set_stage("s"); });
  with("UTF-8 method", [](Envelope& e) { e.set_method("m\xc3\xa9thode"); });
  with("UTF-8 type URL", [](Envelope& e) { e.mutable_payload()->set_type_url("t\xc3\xa9"); });
  cases.emplace_back("unknown field 99", plain + std::string("\x98\x06\x01", 3));
  cases.emplace_back("method as a varint", plain + std::string("\x20\x01", 2));
  cases.emplace_back("an Any with an unknown field", plain + std::string("\x52\x02\x18\x01", 4));
  cases.emplace_back("an overlong key", plain + std::string("\xb8\x00\x01", 3));  // field 7, 2 bytes
  cases.emplace_back("an overlong length", plain + std::string("\x0a\x81\x00" "x", 4));  // field 1
  for (const auto& [name, bytes] : cases) {
    RequestFields f;
    ASSERT_TRUE(read_request_fields(bytes.data(), bytes.size(), &f)) << name;
    EXPECT_FALSE(f.simple) << name;
    EXPECT_EQ(f.kind, v1::REQUEST) << name;
  }
  const std::string invalid_utf8 = plain + std::string("\x22\x01\xff", 3);  // method = "\xff"
  RequestFields f;
  ASSERT_TRUE(read_request_fields(invalid_utf8.data(), invalid_utf8.size(), &f));
  EXPECT_FALSE(f.simple);
  EXPECT_FALSE(read_request_fields("\x0b", 1, &f)) << "a group is not in an Envelope";
  const std::string truncated = plain.substr(0, plain.size() - 1);
  EXPECT_FALSE(read_request_fields(truncated.data(), truncated.size(), &f));
}

TEST(EnvelopeCodecTest, RequestFieldsSaySimpleOnlyWhenAParseAgrees) {
  // Mutated requests and random bytes: whenever the reader says simple, the parser accepts the
  // bytes and sees the same fields; it never crashes. The counts keep the test from passing on
  // a reader that never says simple.
  google::protobuf::LogSilencer quiet;
  std::mt19937 rng(17);
  int simple = 0, refused_by_both = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string junk = random_request(rng).SerializeAsString();
    switch (i % 4) {
      case 0:
        junk.resize(rng() % (junk.size() + 1));
        break;
      case 1:
        if (!junk.empty()) junk[rng() % junk.size()] = static_cast<char>(rng());
        break;
      case 2:
        for (int k = 0; k < 3 && !junk.empty(); ++k) junk[rng() % junk.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      default:
        junk.assign(rng() % 48, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        break;
    }
    RequestFields f;
    Envelope parsed;
    const bool read = read_request_fields(junk.data(), junk.size(), &f);
    const bool parses = parsed.ParseFromString(junk);
    if (read && f.simple) {
      ++simple;
      ASSERT_TRUE(parses) << "junk " << i << " read as simple but does not parse";
      expect_same(f, parsed, "junk " + std::to_string(i));
    }
    if (read && parses) {
      EXPECT_EQ(f.kind, static_cast<int>(parsed.kind())) << i;
    }
    if (!read && !parses) ++refused_by_both;
  }
  EXPECT_GT(simple, 5000);
  EXPECT_GT(refused_by_both, 1000);
}

TEST(EnvelopeCodecTest, ABatchHoldsItsEnvelopesInOrderAndParsesAsOneEnvelope) {
  const Load load{1, 0, 8, false, true};
  std::vector<std::string> sent;
  BatchWriter w;
  for (int i = 0; i < 3; ++i) {
    TransportFields f;
    const std::string id = "c-" + std::to_string(i);
    f.correlation_id = id;
    f.kind = v1::REPLY;
    f.sequence = static_cast<std::uint64_t>(i);
    f.load = &load;
    const std::string body = user_part().SerializeAsString();
    w.add(body, f);
    Message alone = encode_envelope(body, f);
    sent.push_back(bytes_of(alone));
  }
  const std::string ready = sent[0];
  w.add(ready.data(), ready.size());  // a ready envelope, as the server batches replies
  sent.push_back(ready);
  ASSERT_EQ(w.count(), 4u);
  Message m = w.finish();
  EXPECT_TRUE(w.empty()) << "finish() leaves the writer ready for the next batch";
  const std::string wire = bytes_of(m);

  EXPECT_EQ(peek_kind(wire.data(), wire.size()), v1::BATCH);
  Envelope parsed;  // what any protobuf reader sees: one envelope, kind BATCH, the entries in `batch`
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.kind(), v1::BATCH);
  ASSERT_EQ(parsed.batch_size(), 4);
  BatchReader r;
  ASSERT_TRUE(r.open(wire.data(), wire.size()));
  EXPECT_EQ(r.count(), 4u);
  std::size_t i = 0;
  for (std::string_view e; r.next(&e); ++i) {
    ASSERT_LT(i, sent.size());
    EXPECT_EQ(e, sent[i]) << "entry " << i;
    EXPECT_EQ(parsed.batch(static_cast<int>(i)), sent[i]);
    Envelope entry;
    ASSERT_TRUE(entry.ParseFromArray(e.data(), static_cast<int>(e.size())));
    EXPECT_TRUE(entry.load().accepts_batches());
  }
  EXPECT_EQ(i, 4u);
}

TEST(EnvelopeCodecTest, ABatchOfOneIsThePlainEnvelope) {
  TransportFields f;
  f.correlation_id = "c-1";
  f.kind = v1::REQUEST;
  const std::string body = user_part().SerializeAsString();
  BatchWriter w;
  w.add(body, f);
  Message batched = w.finish();
  Message alone = encode_envelope(body, f);
  EXPECT_EQ(bytes_of(batched), bytes_of(alone)) << "a batch of one would only cost bytes";
}

TEST(EnvelopeCodecTest, BatchLimitsAndMalformedBatches) {
  BatchWriter w;
  const std::string small(100, 'x');
  EXPECT_FALSE(w.fits(BatchWriter::kMaxEntryBytes + 1)) << "big envelopes go alone";
  for (std::size_t i = 0; i < BatchWriter::kMaxEntries; ++i) {
    ASSERT_TRUE(w.fits(small.size()));
    w.add(small.data(), small.size());
  }
  EXPECT_FALSE(w.fits(small.size())) << "full at kMaxEntries";
  w.clear();
  EXPECT_TRUE(w.fits(small.size()));

  BatchReader r;
  const std::string truncated = std::string("\x58\x07\x8a\x01\x05", 5) + "abc";  // entry says 5 bytes, 3 follow
  EXPECT_FALSE(r.open(truncated.data(), truncated.size()));
  const std::string group = std::string("\x58\x07\x0b", 3);  // a start-group tag: not an Envelope
  EXPECT_FALSE(r.open(group.data(), group.size()));
  const std::string empty = std::string("\x58\x07", 2);
  ASSERT_TRUE(r.open(empty.data(), empty.size()));
  EXPECT_EQ(r.count(), 0u) << "well formed, but nothing in it (the server answers INVALID_ARGUMENT)";
  std::string_view e;
  EXPECT_FALSE(r.next(&e));
}

TEST(EnvelopeCodecTest, IdsAreShortAndTheirNumberParsesBack) {
  IdGenerator ids("c");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t n = ids.reserve();
    const std::string id = ids.format(n);
    EXPECT_LE(id.size(), 15u) << id << ": beyond std::string's small buffer";
    EXPECT_EQ(ids.parse(id), n);
    EXPECT_TRUE(seen.insert(id).second);
  }
  IdGenerator::Buffer buffer;
  const std::string_view v = ids.next_into(buffer);
  EXPECT_TRUE(ids.parse(v).has_value());
  IdGenerator other("c");
  EXPECT_EQ(other.parse(ids.next()), std::nullopt) << "another generator's id is not ours";
  const std::string p = ids.prefix();
  for (const std::string& bad : {p, p + "0a", p + "A", p + "a-", p + "zzzzzzzzzzzzzzz", std::string("x")}) {
    EXPECT_EQ(ids.parse(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ids.parse(p + "0"), 0u);
}

}  // namespace
}  // namespace parley::transport::detail
