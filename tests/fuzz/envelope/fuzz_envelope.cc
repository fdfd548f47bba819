// Fuzz target: a ZeroMQ frame as a service's server reads it — peek_kind() (the allocation-free
// walk that decides how to parse) against a full protobuf parse of parley.v1.Envelope (they must
// agree on the kind), the BATCH reader against the parser's `batch` entries, then the typed
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
  if (!kind) return 0;
  // peek_kind must read what a parser reads whenever the bytes parse.
  if (parsed && static_cast<int>(env.kind()) != *kind) __builtin_trap();
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
