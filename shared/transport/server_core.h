// Private to the transport: the server's I/O-thread state and the queue ServerCall posts replies
// to. Exists so server.cc (the I/O loop) and server_call.cc (the reply path) share one definition.
// Depends on server.h, mailbox.h, zmq_util.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shared/transport/envelope_codec.h"
#include "shared/transport/mailbox.h"
#include "shared/transport/server.h"
#include "shared/transport/server_call_table.h"
#include "shared/transport/zap.h"
#include "shared/transport/zmq_util.h"

namespace parley::transport::detail {

/// One unit of work for the I/O thread: a serialized reply to send, or a task to run there.
struct ServerOutbound {
  std::shared_ptr<ServerCall> call;  // null for tasks
  Message message;
  std::function<void()> task;
  bool last = false;           // the call is over once this is sent
  bool notify_cancel = false;  // the call was cancelled: run its on_cancel after sending
  bool deadline = false;       // count as deadline_exceeded
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(ServerOptions options, std::shared_ptr<ServerHandler> handler)
      : options_(std::move(options)), handler_(std::move(handler)), ids_("s") {}

  Status bind();
  void run();
  void request_stop() {
    stop_.store(true);
    outbox_.wake();
  }

  Load current_load() const {
    Load load;
    if (options_.load_reporter) {
      load = options_.load_reporter();
    } else {
      load.in_flight = static_cast<std::int32_t>(stats_.active_calls.load(std::memory_order_relaxed));
    }
    load.draining = load.draining || draining_.load(std::memory_order_relaxed);
    load.accepts_batches = true;
    return load;
  }

  /// Any thread. False when the server has stopped (item dropped).
  bool push(ServerOutbound&& item) { return outbox_.push(std::move(item)); }
  /// A reply from ServerCall::enqueue_locked (the call's mutex held): sent at once from this
  /// thread when the loop is asleep with nothing queued (no hand-off into the I/O thread: the
  /// service host replies from workers), else queued. False when the server has stopped.
  bool push_reply(ServerOutbound&& item) {
    if (!on_io_thread() && send_inline(item)) return true;
    return outbox_.push(std::move(item));
  }
  void post_task(std::function<void()> task) {
    ServerOutbound item;
    item.task = std::move(task);
    outbox_.push(std::move(item));
  }

  const ServerOptions& options() const { return options_; }
  ServerStats& stats() { return stats_; }
  IdGenerator& ids() { return ids_; }
  const std::string& replica() const { return replica_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  void set_draining(bool d) { draining_.store(d); }
  /// I/O thread, a handler answering on it: a call's only reply (sequence 0, last) written
  /// straight into the batch gathered for the call's client, which reads batches: no zmq message
  /// of its own, no trip through the outbox (issue 18). The call leaves the table here. False
  /// (nothing done) when the reply must go the ordinary way. Sent by flush_direct().
  bool batch_direct(ServerCall& call, const PayloadRef& payload, const TransportFields& fields);
  bool on_io_thread() const { return outbox_.on_owner_thread(); }
  bool draining() const { return draining_.load(); }

 private:
  void read_socket();
  void handle_message(const std::string& identity, const void* data, std::size_t size, int frames);
  /// One envelope (alone or from a batch, `in_batch`).
  void handle_envelope(const std::string& identity, const void* data, std::size_t size, bool in_batch);
  void on_batch(const std::string& identity, const void* data, std::size_t size);
  /// `identity` reads BATCH envelopes (it sent one, or said so in a PING).
  void note_batch_peer(const std::string& identity);
  void on_request(const std::string& identity, const void* data, std::size_t size, const RequestFields& fields);
  void on_stream_data(const std::string& identity, Envelope&& env);
  void on_cancel(const std::string& identity, const Envelope& env);
  void on_ping(const std::string& identity, const Envelope& env);
  /// Answers a message that is not part of an accepted call (malformed, draining, expired).
  void reply_direct(const std::string& identity, std::string_view correlation_id, const Status& status,
                    v1::EnvelopeKind kind = v1::REPLY);
  void malformed(const std::string& identity, std::string_view correlation_id, const std::string& why);
  /// push_reply()'s fast path: true when `item` was handled here (see "Wake-up rules" 8).
  bool send_inline(ServerOutbound& item);
  void drain_outbox(bool signaled);
  /// Sends what batch_direct() gathered (drain_outbox() does first).
  void flush_direct();
  void process(ServerOutbound& item);
  /// What process() does once the reply was handed to libzmq (`err` 0) or refused.
  void after_send(ServerOutbound& item, int err);
  /// Sends the replies gathered for one client as one BATCH (one alone as itself).
  void flush_replies(const std::string& identity, std::vector<ServerOutbound*>& items);
  /// Sends identity + message; counts and logs a failure. Returns the errno (0 = sent).
  int send_frames(const std::string& identity, Message& message);
  void expire_deadlines(Clock::time_point now);
  void remove_call(ServerCall* call);
  void shutdown();

  ServerOptions options_;
  std::shared_ptr<ServerHandler> handler_;
  ServerStats stats_;
  IdGenerator ids_;
  Mailbox<ServerOutbound> outbox_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::string replica_;
  std::vector<std::string> endpoints_;
  void* socket_ = nullptr;
  std::shared_ptr<ZapDomain> zap_;  // CURVE client allow list (kept while the socket lives)

  // The loop's state below belongs to whoever holds loop_mu_: the I/O thread for a whole turn
  // (it lets go only while it sleeps in poll(2)), or a worker sending a reply inline.
  std::mutex loop_mu_;
  bool loop_idle_ = false;  // the I/O thread is in (or about to enter) poll(2)
  ServerCallTable calls_;
  DeadlineHeap<ServerCall> deadlines_;
  std::vector<ServerOutbound> batch_;
  // Connections that read batches (they sent one, or said so in a PING): their replies are
  // batched. Bounded: past kMaxBatchPeers it starts over (those peers get single envelopes until
  // they batch or ping again; pings come every second).
  std::unordered_set<std::string> batch_peers_;
  struct ReplyGroup {
    const std::string* identity = nullptr;
    std::vector<ServerOutbound*> items;
  };
  std::vector<ReplyGroup> groups_;  // drain_outbox's replies by client (reused)
  BatchWriter batch_writer_;
  BatchWriter direct_;            // batch_direct()'s replies, all to direct_identity_
  std::string direct_identity_;
  // The ROUTER must be drained to EAGAIN before sleeping: its ZMQ_FD signalled, or we sent on
  // it (a send may consume the notification of a message that arrived meanwhile).
  bool socket_dirty_ = true;
};

}  // namespace parley::transport::detail
