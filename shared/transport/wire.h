// Wire helpers shared by the transport's client and server: Status <-> envelope, ids, deadlines.
// Exists so both ends fill and read envelopes the same way (proto/README.md is the contract).
// Depends on shared/common, parley_proto.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
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
  bool accepts_batches = false;  // reads BATCH envelopes (servers of this version always do)
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

/// Unique ids for envelopes and calls: "<random prefix>-<counter in base 36>". Thread-safe.
class IdGenerator {
 public:
  /// Room for any id (prefix of at most 15 characters, 13 base-36 digits).
  using Buffer = std::array<char, 40>;

  /// `tag` is put in front of the random prefix (e.g. "c" for clients) to help reading logs.
  explicit IdGenerator(std::string_view tag);
  std::string next();
  /// Same as next(), written into `buffer` (no allocation); the view points into it.
  std::string_view next_into(Buffer& buffer);
  /// Reserves the next counter value; format(n) is then its id (for callers that key by number).
  std::uint64_t reserve() { return counter_.fetch_add(1, std::memory_order_relaxed); }
  std::string format(std::uint64_t n) const;
  /// The counter inside an id of this generator; nullopt for any other string.
  std::optional<std::uint64_t> parse(std::string_view id) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace parley::transport
