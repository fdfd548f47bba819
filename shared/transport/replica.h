// Private to the transport: one replica as a client's I/O thread knows it (its DEALER and monitor
// sockets, what it reported, this client's bookkeeping), and the socket set-up/tear-down.
// Exists so the liveness, picking and discovery units share one plain record. Depends on
// client.h (options), envelope_codec.h, zmq_util.h, wire.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/transport/client.h"
#include "shared/transport/envelope_codec.h"
#include "shared/transport/wire.h"

namespace parley::transport::detail {

/// Liveness of one replica (replica_liveness.h owns the rules).
struct Health {
  bool live = false;
  Clock::time_point last_heard{};  // last message of any kind from the replica
};

/// One replica: plain data owned by the client's I/O thread (tests build them without sockets).
struct Replica {
  std::uint64_t serial = 0;  // unique per client, never reused (calls remember where they went)
  std::string endpoint;      // "tcp://10.0.3.7:7101"
  std::string target;        // the target it came from
  std::string name;          // self-reported in replies and pongs
  void* socket = nullptr;    // DEALER
  void* monitor = nullptr;   // PAIR receiving the DEALER's monitor events
  int socket_fd = -1;        // ZMQ_FDs, polled with poll(2)
  int monitor_fd = -1;
  /// Drain the DEALER to EAGAIN before sleeping: its ZMQ_FD signalled, or we sent on it (a send
  /// may consume the notification of a reply that arrived meanwhile).
  bool dirty = true;
  /// Same for the monitor PAIR: a new pipe's reader starts awake, so events do not signal
  /// ZMQ_FD until one read has hit EAGAIN; drain it once at start and whenever it signals.
  bool monitor_dirty = true;
  Health health;
  bool retired = false;  // gone from DNS: no new calls; closed once its calls are done
  Load load;             // last LoadReport seen
  int in_flight = 0;     // this client's calls on it
  std::uint64_t calls_sent = 0;
  /// REQUESTs gathered in this loop turn, sent as one BATCH at its end (ClientCore::flush_batch),
  /// and the keys of their calls (what a failed send must retry or fail).
  BatchWriter out;
  std::vector<std::uint64_t> out_calls;

  bool live() const { return health.live; }
  /// Can take a new call: live, not retired, not draining.
  bool accepts_calls() const { return health.live && !retired && !load.draining; }
};

/// The replicas one call was sent to (the last kMax; inline: no allocation per call).
class TriedReplicas {
 public:
  static constexpr std::size_t kMax = 4;
  bool contains(std::uint64_t serial) const {
    for (std::size_t i = 0; i < std::min(count_, kMax); ++i) {
      if (serials_[i] == serial) return true;
    }
    return false;
  }
  void add(std::uint64_t serial) { serials_[count_++ % kMax] = serial; }

 private:
  std::array<std::uint64_t, kMax> serials_{};
  std::size_t count_ = 0;
};

/// Creates the DEALER (options from `options`, CURVE with `client_keys` when options.curve is
/// set), its monitor PAIR, connects to r.endpoint and fills the sockets and fds of `r`. On error
/// nothing stays open.
Status open_replica_sockets(Replica& r, const ClientOptions& options, const CurveKeyPair& client_keys);
/// Closes both sockets (linger 0); safe to call twice.
void close_replica_sockets(Replica& r);

/// "tcp://10.0.3.7:7101 (nlu-7f9c@...)" for logs and error messages.
std::string describe(const Replica& r);

}  // namespace parley::transport::detail
