// Private to the transport: a client's open calls — their records, found by the number inside
// their correlation id, and their deadlines. Exists so a call costs no allocation and no string
// hashing on the I/O thread once the table is warm (issue 18: the string-keyed map, its node and
// a std::multimap node per call were a measurable part of the round trip). Depends on
// client.h, replica.h, deadline_heap.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/transport/client.h"
#include "shared/transport/deadline_heap.h"
#include "shared/transport/replica.h"

namespace parley::transport::detail {

struct CallToken;

/// STREAM_DATA posted while the call waits for a replica: serialized without transport fields.
struct QueuedStreamData {
  std::string body;
  bool has_id = false;  // the caller set the envelope's id (else the transport writes one)
  bool end_of_stream = false;
};

/// One call between StartCall and its end (I/O thread only). Records are reused.
struct PendingCall {
  std::uint64_t key = 0;  // the number in the correlation id (IdGenerator::parse)
  std::shared_ptr<CallToken> token;
  /// The request serialized on the caller's thread, without the transport's fields (those are
  /// written per send, envelope_codec.h). Kept while a retry may need it.
  std::string body;
  CallOptions options;
  Clock::time_point deadline;
  Clock::time_point wait_until{};  // while parked (no live replica); set at the first park
  ReplyCallback on_reply;
  std::shared_ptr<ViewCallback> on_view;  // call_view's callback (on_reply adapts to it), or null
  Replica* replica = nullptr;  // where the call is now; null while parked
  int attempts = 0;
  bool got_reply = false;
  bool stream_sent = false;  // STREAM_DATA went out: the call can no longer move
  bool send_closed = false;
  bool waiting = false;
  std::uint64_t next_stream_sequence = 1;
  std::vector<QueuedStreamData> pending_stream;
  TriedReplicas tried;
  std::string last_error;
  DeadlineHook deadline_hook;  // in CallTable::deadlines() until the call ends

  /// Back to a fresh record, in place (assigning a fresh PendingCall built and destroyed a whole
  /// temporary per call, ~1 % of a pipelined request).
  void reset();
};

/// The open calls of one client.
///
///   PendingCall* c = table.open(key);           // nullptr: key in use
///   table.deadlines().push(c, deadline);
///   PendingCall* c = table.find(key);           // on a reply
///   table.close(c);                             // record back to the pool, deadline dropped
///
/// Threading: the client's I/O thread only.
class CallTable {
 public:
  CallTable();
  ~CallTable();
  CallTable(const CallTable&) = delete;
  CallTable& operator=(const CallTable&) = delete;

  /// A fresh record for `key`; nullptr when a call with that key is open.
  PendingCall* open(std::uint64_t key);
  PendingCall* find(std::uint64_t key) const;
  /// Ends the record: out of the index and the deadline heap, reset, back to the pool.
  void close(PendingCall* call);

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// Every open call (a copy: the caller may close them while walking it).
  std::vector<PendingCall*> all() const;
  DeadlineHeap<PendingCall>& deadlines() { return deadlines_; }
  const DeadlineHeap<PendingCall>& deadlines() const { return deadlines_; }

 private:
  // Open addressing, linear probing, backward-shift deletion; a null slot is empty.
  std::size_t slot_of(std::uint64_t key) const;
  void grow();

  std::vector<PendingCall*> slots_;  // power-of-two size, at most half full
  std::size_t size_ = 0;
  std::vector<std::unique_ptr<PendingCall>> free_;  // records ready for reuse
  DeadlineHeap<PendingCall> deadlines_;
};

}  // namespace parley::transport::detail
