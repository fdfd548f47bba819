// Counters of the transport's server and client, as plain atomics.
// Exists so the service host can export them to Prometheus without the transport depending on a
// metrics library. All fields are monotonically increasing counters unless marked "gauge".
// Depends on nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace parley::transport {

using Counter = std::atomic<std::uint64_t>;

/// Server counters. Written by the server's I/O thread and by threads sending replies; read from
/// any thread (relaxed loads are fine for export).
struct ServerStats {
  Counter received{0};              // envelopes read from the socket (well-formed or not)
  Counter requests{0};              // REQUESTs handed to the handler
  Counter malformed{0};             // bad frames/protobuf/fields/kinds (answered when routable)
  Counter replies_sent{0};          // REPLY and PONG envelopes handed to libzmq
  Counter send_failed_hwm{0};       // send refused: the peer's high-water mark was full
  Counter send_failed_unroutable{0};  // send refused: the peer is gone (ZMQ_ROUTER_MANDATORY)
  Counter send_failed_other{0};
  Counter deadline_exceeded{0};     // calls answered DEADLINE_EXCEEDED (on arrival or later)
  Counter cancelled{0};             // calls cancelled by the client (CANCEL)
  Counter replies_dropped{0};       // send()/finish() on a call already over (cancelled, expired)
  Counter stream_data{0};           // STREAM_DATA envelopes delivered to calls
  Counter stream_data_dropped{0};   // STREAM_DATA for a call that is over or unknown
  Counter pings{0};                 // PINGs answered
  Counter rejected_draining{0};     // REQUESTs answered UNAVAILABLE because the server drains
  Counter replies_inline{0};        // replies sent by the replying thread itself (loop asleep)
  Counter replies_direct{0};        // only replies written straight into a client's batch (I/O thread)
  Counter batches_received{0};      // BATCH messages read (their envelopes count in `received`)
  Counter batches_sent{0};          // BATCH messages of replies handed to libzmq
  std::atomic<std::int64_t> active_calls{0};  // gauge: calls accepted and not over
};

/// Client counters. Written by the client's I/O thread (and by call() for `calls`).
struct ClientStats {
  Counter calls{0};              // call()/call_sync() invocations
  Counter completed_ok{0};       // calls whose final reply was OK
  Counter retries{0};            // re-sends of an idempotent call to another replica
  Counter send_failures{0};      // sends refused by libzmq (HWM full, peer not connected)
  Counter unknown_replies{0};    // replies for calls no longer pending (after cancel/deadline)
  Counter malformed_replies{0};  // frames that were not one parseable envelope
  Counter pings_sent{0};
  Counter pongs{0};
  Counter replica_deaths{0};     // live -> dead transitions
  Counter handshake_failures{0};  // ZMTP/CURVE handshakes that failed (wrong keys?)
  Counter commands_inline{0};    // calls, stream data and cancels carried out on the caller's thread
  Counter sync_reads{0};         // call_sync replies read by the waiting caller itself
  Counter views_in_place{0};     // call_view replies handed over as views of the bytes (no parse)
  Counter batches_sent{0};       // BATCH messages of requests handed to libzmq
  Counter batches_received{0};   // BATCH messages of replies read
  /// Failed calls by final status code (index = StatusCode value, 0..16).
  std::array<Counter, 17> failures_by_code{};
  std::atomic<std::uint32_t> replicas_live{0};   // gauge
  std::atomic<std::uint32_t> replicas_total{0};  // gauge: known and not retired

  std::uint64_t failures(int code) const { return failures_by_code[static_cast<std::size_t>(code)].load(); }
};

}  // namespace parley::transport
