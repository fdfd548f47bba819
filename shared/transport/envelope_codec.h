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

/// The `kind` of a serialized Envelope (the last occurrence, as a parser would read it; 0 when
/// absent), found by walking the top-level fields without parsing or allocating; nullopt when
/// the bytes are not well-formed wire format. Lets the server parse a REQUEST straight into the
/// call's own arena.
std::optional<int> peek_kind(const void* data, std::size_t size);

/// Clears the fields the transport writes itself (so they are never on the wire twice).
void clear_transport_fields(Envelope& envelope, bool keep_id);

/// A unique id written into a caller-provided buffer (no allocation): what IdGenerator::next()
/// returns, as a view of `buffer`.
class IdBuffer {
 public:
  std::string_view next(IdGenerator& ids) { return ids.next_into(buffer_); }

 private:
  IdGenerator::Buffer buffer_;
};

}  // namespace parley::transport::detail
