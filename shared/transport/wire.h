// Wire helpers shared by the transport's client and server: Status <-> envelope, ids, deadlines.
// Exists so both ends fill and read envelopes the same way (proto/README.md is the contract).
// Depends on shared/common, parley_proto.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/v1/envelope.pb.h"
#include "shared/common/status.h"

namespace parley::transport {

using Envelope = v1::Envelope;
using Clock = std::chrono::steady_clock;

/// Load of one replica, as piggy-backed on replies and pongs (parley.v1.LoadReport).
struct Load {
  std::int32_t in_flight = 0;    // calls being worked on
  std::int32_t queue_depth = 0;  // calls waiting
  std::int32_t capacity = 0;     // mailbox bound; 0 = unknown
  bool draining = false;         // send it nothing new
};

/// Copies `status` into an envelope's status field.
void set_status(Envelope& envelope, const Status& status);
/// The envelope's status as a parley::Status (unknown wire codes become UNKNOWN).
Status status_of(const Envelope& envelope);

void set_load(Envelope& envelope, const Load& load);
Load load_of(const Envelope& envelope);

/// "REQUEST", "PONG", ... ("KIND_<n>" for values outside the enum).
std::string kind_name(int kind);

/// The value to put in deadline_remaining_us for `deadline` at `now`: at least 1 (0 means "no
/// deadline" on the wire), or negative when the deadline has already passed.
std::int64_t remaining_us(Clock::time_point deadline, Clock::time_point now);

/// Unique ids for envelopes and calls: "<random prefix>-<counter>". Thread-safe.
class IdGenerator {
 public:
  /// `tag` is put in front of the random prefix (e.g. "c" for clients) to help reading logs.
  explicit IdGenerator(std::string_view tag);
  std::string next();

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace parley::transport
