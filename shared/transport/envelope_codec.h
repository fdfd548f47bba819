// Private to the transport: writes the transport's own Envelope fields (ids, kind, sequence,
// deadline, load, replica...) straight into a zmq message, after the caller's fields serialized
// once. Exists because building those fields through the generated setters cost a string
// allocation each and a full re-serialization per send (issue 18). A parser sees one ordinary
// parley.v1.Envelope: protobuf accepts fields in any order, and the caller's serialized part is
// cleared of these fields first so none appears twice. Depends on wire.h, zmq_util.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/transport/wire.h"
#include "shared/transport/zmq_util.h"

namespace parley::transport::detail {

/// The fields of parley.v1.Envelope (envelope.proto) the transport writes itself, all optional:
/// proto3 defaults (empty, 0, false) are not written, like the generated code does. `load` is
/// written whenever set, even all zero (the peer's has_load() then says "a report").
struct TransportFields {
  std::string_view id;              // 1
  std::string_view correlation_id;  // 2
  std::string_view session_id;      // 3
  std::int64_t deadline_remaining_us = 0;  // 5
  std::uint64_t sequence = 0;       // 6
  bool end_of_stream = false;       // 7
  std::string_view trace_id;        // 9
  int kind = 0;                     // 11
  bool idempotent = false;          // 12
  const Load* load = nullptr;       // 13
  std::string_view replica;         // 16

  /// Bytes write() produces.
  std::size_t size() const;
  /// Writes the fields at `out` (size() bytes); returns the end.
  std::uint8_t* write(std::uint8_t* out) const;
};

/// One zmq message holding `body` (a serialized Envelope without the transport's fields)
/// followed by `fields`: one allocation, one copy of the body.
Message encode_envelope(std::string_view body, const TransportFields& fields);
/// Same, serializing `body` (its transport fields cleared by the caller) straight into the
/// message: no intermediate buffer.
Message encode_envelope(const Envelope& body, const TransportFields& fields);

/// A payload written as Envelope.payload (a google.protobuf.Any) straight from its parts: the
/// message is serialized once, into the envelope's bytes (no Any, no intermediate string).
struct PayloadRef {
  std::string_view type_url;
  const google::protobuf::MessageLite* message = nullptr;  // serialized here, or
  std::string_view value;                                  // the bytes already serialized

  /// Bytes the payload field takes (computed once, the message's size with it).
  std::size_t size() const;
  std::uint8_t* write(std::uint8_t* out) const;  // after size()

 private:
  mutable std::size_t value_size_ = 0;
  mutable std::size_t size_ = 0;  // size(), computed once (the parts must not change after it)
};

/// One zmq message holding an Envelope made of `payload` followed by `fields` (what
/// encode_envelope() of an envelope holding only that payload would send).
Message encode_payload(const PayloadRef& payload, const TransportFields& fields);

/// What the client reads off a reply without parsing it into an Envelope (Client::call_view).
/// Views of the bytes it was read from. Fields this does not list (metadata, the status message,
/// ids) are left for a full parse.
struct ReplyFields {
  int kind = 0;
  std::string_view correlation_id;
  std::string_view replica;
  int status_code = 0;  // 0: no status, or OK
  bool end_of_stream = false;
  std::uint64_t sequence = 0;
  bool has_load = false;
  Load load;
  bool has_payload = false;
  std::string_view type_url;  // the payload's (an Any)
  std::string_view value;
  std::int64_t service_time_us = 0;  // the sum of the timings' duration_us
};
/// Reads `data` as an Envelope's wire format into `out` (the last occurrence of a field wins,
/// embedded messages merge, as a parser would); false when it is not well-formed wire format.
bool read_reply_fields(const void* data, std::size_t size, ReplyFields* out);

/// What the server reads off a REQUEST without parsing it (issue 18): the I/O thread routes the
/// call on these views and ServerCall::request() parses the envelope on first use, on the thread
/// that wants it. Views of the bytes they were read from.
struct RequestFields {
  int kind = 0;
  std::string_view id;
  std::string_view correlation_id;
  std::string_view session_id;
  std::string_view method;
  std::string_view trace_id;
  std::int64_t deadline_remaining_us = 0;
  std::uint64_t sequence = 0;
  bool end_of_stream = false;
  bool idempotent = false;
  std::string_view type_url;  // the payload's (an Any); empty when there is none
  std::string_view value;
  /// True when a parse is certain to succeed and to give exactly these fields: the envelope holds
  /// only the fields above (and replica, batch), each with its own wire type, keys and lengths
  /// encoded in the fewest bytes, the strings (method, type URL) ASCII and the payload only a
  /// type URL and a value: what every encoder writes. Anything else (metadata, a status, unknown
  /// fields, UTF-8 beyond ASCII, unusual encodings) is left to the parser to judge.
  bool simple = false;
};
/// Reads `data` as an Envelope's wire format into `out` (the last occurrence of a field wins,
/// as in a parser); false when it is not well-formed wire format. `kind` is always what a parser
/// would read; the other fields only when `simple`.
bool read_request_fields(const void* data, std::size_t size, RequestFields* out);

/// The `kind` of a serialized Envelope (the last occurrence, as a parser would read it; 0 when
/// absent), found by walking the top-level fields without parsing or allocating; nullopt when
/// the bytes are not well-formed wire format. Lets the server parse a REQUEST straight into the
/// call's own arena.
std::optional<int> peek_kind(const void* data, std::size_t size);

/// Several envelopes in one BATCH message (proto/README.md, "Batches"): what a loop turn has for
/// one peer goes to libzmq as one message, so libzmq's per-message work (its I/O thread's
/// decoding, pipe hand-offs, frees) is paid once per batch (issue 18's pipelined throughput).
///
///   BatchWriter w;  w.add(body, fields);  w.add(envelope_bytes, n);  ...
///   Message m = w.finish();   // one entry: that plain envelope; more: one BATCH envelope
///
/// Reused across turns: the buffer keeps its capacity.
class BatchWriter {
 public:
  /// What one batch holds at most; callers flush before going past either. 16: with 64 calls in
  /// flight (transport_bench) batches of 16 keep four in the pipe, so both ends work at once;
  /// 32 was no better and 64 moved every call as one convoy (0.36-0.61x raw against 0.46-0.53x).
  static constexpr std::size_t kMaxEntries = 16;
  static constexpr std::size_t kMaxBytes = 256 * 1024;
  /// Envelopes bigger than this go out alone (copying them into a batch would cost more than
  /// the message it saves).
  static constexpr std::size_t kMaxEntryBytes = 16 * 1024;
  /// The most envelopes a receiver accepts in one BATCH (more is malformed): a batch is served
  /// in one go, before anyone else's messages, so its size is bounded like a read batch.
  static constexpr std::size_t kMaxReceivedEntries = 256;

  /// An envelope made of `body` followed by `fields` (what encode_envelope() would send).
  void add(std::string_view body, const TransportFields& fields);
  /// A serialized envelope.
  void add(const void* envelope, std::size_t size);
  /// An envelope made of `payload` followed by `fields` (what encode_payload() would send),
  /// written straight into the batch.
  void add(const PayloadRef& payload, const TransportFields& fields);
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return buf_.size(); }
  bool empty() const { return count_ == 0; }
  /// True when an envelope of `size` bytes fits in this batch (else flush first, or send alone).
  bool fits(std::size_t size) const {
    return size <= kMaxEntryBytes && count_ < kMaxEntries && buf_.size() + size + 16 <= kMaxBytes;
  }
  /// The message to send (count() >= 1); the writer is empty afterwards.
  Message finish();
  void clear();

 private:
  void start_entry(std::size_t size);
  std::string buf_;
  std::size_t count_ = 0;
  std::size_t last_entry_ = 0;  // where the last entry's bytes start
};

/// The entries of a received BATCH envelope, in order, as views of its bytes.
///
///   BatchReader r;
///   if (!r.open(data, size)) -> malformed (nothing delivered)
///   for (std::string_view e; r.next(&e);) handle(e);
class BatchReader {
 public:
  /// False when the bytes are not well-formed wire format.
  bool open(const void* data, std::size_t size);
  bool next(std::string_view* entry);
  /// Entries found by open().
  std::size_t count() const { return count_; }

 private:
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  std::size_t count_ = 0;
};

/// Parses `data` into `envelope` (false: not an Envelope, or over 2 GiB); never throws.
bool parse_envelope(Envelope& envelope, const void* data, std::size_t size);

/// Clears the fields the transport writes itself (so they are never on the wire twice).
void clear_transport_fields(Envelope& envelope, bool keep_id);
/// True when `envelope` holds any field clear_transport_fields() would clear.
bool has_transport_fields(const Envelope& envelope, bool keep_id);

/// A unique id written into a caller-provided buffer (no allocation): what IdGenerator::next()
/// returns, as a view of `buffer`.
class IdBuffer {
 public:
  std::string_view next(IdGenerator& ids) { return ids.next_into(buffer_); }

 private:
  IdGenerator::Buffer buffer_;
};

}  // namespace parley::transport::detail
