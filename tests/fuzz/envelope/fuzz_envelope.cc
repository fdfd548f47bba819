// Fuzz target: a ZeroMQ frame as a service's server reads it — peek_kind() and
// read_request_fields() (the allocation-free walks that decide how, and whether, to parse) against
// a full protobuf parse of parley.v1.Envelope (they must agree on the kind, and on every field
// when the reader says no parse is needed), the BATCH reader against the parser's `batch` entries, then the typed
// payloads a service unpacks. Depends on shared/transport
// (envelope_codec), parley_proto.
#include <cstddef>
#include <cstdint>

#include "parley/v1/dialog.pb.h"
#include "parley/v1/envelope.pb.h"
#include "parley/v1/lm.pb.h"
#include "parley/v1/nlu.pb.h"
#include "shared/transport/envelope_codec.h"
#include "shared/transport/protobuf_log.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    parley::transport::route_protobuf_logs();  // as the server does: no log flood
    return true;
  }();
  (void)quiet;
  const std::optional<int> kind = parley::transport::detail::peek_kind(data, size);
  parley::v1::Envelope env;
  const bool parsed = size <= static_cast<std::size_t>(INT32_MAX) && env.ParseFromArray(data, static_cast<int>(size));
  // The server's request reader: the same verdict on wire format as peek_kind, the parser's kind,
  // and when it says `simple` (the server then skips the parse) the parse must succeed and agree.
  parley::transport::detail::RequestFields fields;
  const bool read = parley::transport::detail::read_request_fields(data, size, &fields);
  if (read != kind.has_value()) __builtin_trap();
  if (read && fields.simple) {
    if (!parsed || fields.method != env.method() || fields.correlation_id != env.correlation_id() ||
        fields.session_id != env.session_id() || fields.trace_id != env.trace_id() || fields.id != env.id() ||
        fields.deadline_remaining_us != env.deadline_remaining_us() || fields.sequence != env.sequence() ||
        fields.end_of_stream != env.end_of_stream() || fields.idempotent != env.idempotent() ||
        fields.type_url != env.payload().type_url() || fields.value != env.payload().value()) {
      __builtin_trap();
    }
  }
  if (!kind) return 0;
  // peek_kind must read what a parser reads whenever the bytes parse.
  if (parsed && static_cast<int>(env.kind()) != *kind) __builtin_trap();
  if (parsed && fields.kind != *kind) __builtin_trap();
  if (!parsed) return 0;
  // A BATCH's reader must find exactly the entries the parser found, in order.
  parley::transport::detail::BatchReader batch;
  if (!batch.open(data, size) || batch.count() != static_cast<std::size_t>(env.batch_size())) __builtin_trap();
  int i = 0;
  for (std::string_view entry; batch.next(&entry); ++i) {
    if (entry != env.batch(i)) __builtin_trap();
  }
  if (i != env.batch_size()) __builtin_trap();
  parley::v1::TurnRequest turn;
  (void)env.payload().UnpackTo(&turn);
  parley::v1::ParseRequest parse;
  (void)env.payload().UnpackTo(&parse);
  parley::v1::GenerateRequest gen;
  (void)env.payload().UnpackTo(&gen);
  parley::transport::detail::clear_transport_fields(env, /*keep_id=*/false);
  (void)env.SerializeAsString();
  return 0;
}
