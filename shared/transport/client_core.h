// Private to the transport: the client's I/O thread — its loop, the commands other threads post
// to it, and the life of a call (dispatch, retries, replies, deadlines). Replica liveness,
// discovery and the picking policy are units of their own (replica_*.h) that this one drives.
// Depends on client.h, call_table.h, mailbox.h, replica*.h, zmq_util.h.
#pragma once

#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "shared/transport/call_table.h"
#include "shared/transport/client.h"
#include "shared/transport/mailbox.h"
#include "shared/transport/replica.h"
#include "shared/transport/replica_discovery.h"
#include "shared/transport/replica_liveness.h"
#include "shared/transport/replica_picker.h"
#include "shared/transport/zmq_util.h"

namespace parley::transport::detail {

/// Shared between a CallHandle's copies and the I/O thread.
struct CallToken {
  std::weak_ptr<ClientCore> core;
  std::uint64_t key = 0;       // the number in correlation_id: the call's key in the CallTable
  std::string correlation_id;  // ClientCore::ids().format(key)
  std::atomic<bool> done{false};
  /// ZMQ_FD of the replica the call was sent to when it was sent inline (else -1): call_sync
  /// polls it to read its own reply (ClientCore::read_for).
  std::atomic<int> sent_on_fd{-1};
  /// Made by call_sync: its callback only hands the result to the caller's thread, so that
  /// thread may deliver it itself (ClientCore::run_inline, read_for).
  bool sync = false;
};

/// A parsed reply seen as call_view() shows it (views of `reply`'s strings).
ReplyView view_of(const Envelope& reply);
/// A reply read off its bytes (read_reply_fields) seen the same way.
ReplyView view_of(const ReplyFields& fields);

// Commands posted to the I/O thread (handled exhaustively with std::visit). Envelopes travel
// serialized on the caller's thread, without the fields the transport writes per send.
struct StartCall {
  std::shared_ptr<CallToken> token;
  std::string body;
  CallOptions options;
  Clock::time_point deadline;
  ReplyCallback on_reply;
  std::shared_ptr<ViewCallback> on_view;  // call_view: on_reply adapts to it
};
struct StreamSend {
  std::shared_ptr<CallToken> token;
  std::string body;
  bool has_id = false;  // the caller set the envelope's id (else the transport writes one)
  bool end_of_stream = false;
};
struct CancelCall {
  std::shared_ptr<CallToken> token;
};
struct TargetsResolved {
  std::string target;
  std::vector<std::string> endpoints;
};
struct RunTask {
  std::function<void()> fn;
};
using Command = std::variant<StartCall, StreamSend, CancelCall, TargetsResolved, RunTask>;

class ClientCore : public std::enable_shared_from_this<ClientCore> {
 public:
  explicit ClientCore(ClientOptions options);
  ~ClientCore();

  // Any thread.
  Status init();
  void start();
  void stop();
  bool post(Command&& command) { return mailbox_.push(std::move(command)); }
  /// A caller's StartCall, StreamSend or CancelCall: carried out at once on the calling thread
  /// when the loop is asleep with nothing queued (no hand-off into the I/O thread: issue 18's
  /// round trip), else posted. False only when the client stopped (`command` is then intact).
  bool submit(Command&& command);
  bool on_io_thread() const { return mailbox_.on_owner_thread(); }
  bool wait_for_live(std::size_t live, std::chrono::milliseconds timeout);
  /// call_sync's fast path, on the caller's thread once `token`'s socket signalled: reads that
  /// replica's socket here when the loop is asleep, running `token`'s own callback here (every
  /// other callback still runs on the I/O thread). False: the loop is busy or the socket is not
  /// a replica's any more; the loop will deliver the reply.
  bool read_for(CallToken& token);
  /// At most one call_sync at a time polls a replica socket beside the I/O thread (more would
  /// all wake for every message): true when the caller may, until it calls release_sync_poller().
  bool acquire_sync_poller() { return sync_pollers_.fetch_add(1, std::memory_order_acq_rel) == 0; }
  void release_sync_poller() { sync_pollers_.fetch_sub(1, std::memory_order_acq_rel); }
  void refresh_targets();
  Clock::time_point deadline_for(const CallOptions& options, Clock::time_point now) const;

  const ClientOptions& options() const { return options_; }
  ClientStats& stats() { return stats_; }
  IdGenerator& ids() { return ids_; }

  // I/O thread.
  std::vector<ReplicaInfo> snapshot() const;

 private:
  // The loop.
  void run();
  void shutdown();
  void rebuild_poll_items();
  int poll_timeout_ms(Clock::time_point now) const;
  void run_timers(Clock::time_point now);
  /// Drains the mailbox and carries out its commands, REQUESTs gathered into batches.
  void handle_commands(bool signaled, Clock::time_point now);

  /// submit()'s fast path: true when `command` was carried out here (see "Wake-up rules" 8).
  bool run_inline(Command& command);
  /// The end of a caller's inline turn: wakes the sleeping loop when the turn left it work.
  void end_inline_turn(Clock::time_point now);
  /// When the loop must wake next for timers (deadlines, pings, parked calls).
  Clock::time_point next_timer(Clock::time_point now) const;
  /// Socket has a message waiting (ZMQ_EVENTS): a send on another thread may have swallowed
  /// its ZMQ_FD notification.
  static bool has_input(const Replica& replica);
  void run_deferred();

  // Commands.
  void handle(StartCall& c, Clock::time_point now);
  void handle(StreamSend& c, Clock::time_point now);
  void handle(CancelCall& c, Clock::time_point now);
  void handle(TargetsResolved& c, Clock::time_point now);
  void handle(RunTask& c, Clock::time_point now);

  // A call's life.
  void dispatch(PendingCall& call, Clock::time_point now);
  int send_request(PendingCall& call, Replica& replica, Clock::time_point now);
  /// False when the send failed and the call was completed (`call` is gone).
  bool send_stream(PendingCall& call, QueuedStreamData&& data, Clock::time_point now);
  /// Sends what `replica` gathered this turn (one BATCH; one REQUEST alone as itself). A refused
  /// send moves its calls on to other replicas (or parks them), as dispatch() does when a
  /// single send is refused.
  void flush_batch(Replica& replica, Clock::time_point now);
  void flush_batches(Clock::time_point now);
  /// Flushes the batch holding `call`'s REQUEST (before its stream data or cancel); the call
  /// again, or nullptr when a refused batch ended it.
  PendingCall* settle(PendingCall& call, Clock::time_point now);
  /// CANCEL for `correlation_id`; `why` travels in its status so the server knows the reason.
  void send_cancel(Replica& replica, const std::string& correlation_id, const Status& why);
  void park(PendingCall& call, Clock::time_point now);
  void dispatch_waiting(Clock::time_point now);
  void release(PendingCall& call);
  bool retryable(const PendingCall& call, Clock::time_point now) const;
  /// Retries `call` elsewhere when allowed, else completes it with UNAVAILABLE(`why`).
  void retry_or_fail(PendingCall& call, const std::string& why, Clock::time_point now);
  void on_reply(Replica& replica, Result<Envelope>&& reply, Clock::time_point now);
  /// Ends the call: frees state, then invokes on_reply with `result` (`call` is gone after).
  void complete(PendingCall& call, Result<Envelope>&& result);
  /// A view call's last reply, read in place (read_view): complete()'s bookkeeping, then its callback.
  void complete_view(PendingCall& call, const ReplyView& view);
  void invoke_view(ViewCallback& callback, const ReplyView& view);
  /// A reply for a call_view call, handed over as a view of `data` when it can be (status OK,
  /// not in an inline turn); false: read it the ordinary way.
  bool read_view(Replica& replica, const void* data, std::size_t size, Clock::time_point now);
  void invoke(ReplyCallback& callback, Result<Envelope>&& result);
  /// A stream's non-final reply: the call keeps its callback for the replies after it (an inline
  /// turn defers the reply with a handle on the same callable, never the callable itself).
  void invoke_stream(PendingCall& call, Result<Envelope>&& result);

  // Replica events (client_core_replicas.cc: sockets, liveness outcomes, the replica set).
  Status add_replica(const std::string& endpoint, const std::string& target);
  void read_replica(Replica& replica, Clock::time_point now);
  /// One received message's bytes: an envelope, or a BATCH of them (true).
  bool read_message(Replica& replica, const void* data, std::size_t size, Clock::time_point now);
  /// `data` as one envelope, handed to on_envelope; counted and logged when malformed.
  void read_envelope(Replica& replica, const void* data, std::size_t size, Clock::time_point now);
  void read_monitor(Replica& replica, Clock::time_point now);
  void on_envelope(Replica& replica, Result<Envelope>&& envelope, Clock::time_point now);
  void became_live(Replica& replica, Clock::time_point now);
  /// The replica died: calls on it move (when retryable) or fail.
  void became_dead(Replica& replica, const std::string& reason, Clock::time_point now);
  void send_ping(Replica& replica);
  void remove_retired();
  void publish_gauges();
  /// "3 replicas known: 1 live, 1 draining" (for UNAVAILABLE messages).
  std::string replica_summary() const;

  ClientOptions options_;
  ClientStats stats_;
  IdGenerator ids_;
  Mailbox<Command> mailbox_;
  std::atomic<bool> stop_{false};
  std::atomic<int> sync_pollers_{0};
  std::thread io_thread_;
  std::mutex stop_mu_;
  std::unique_ptr<ReplicaDiscovery> discovery_;  // set in init()

  // The loop's state below belongs to whoever holds loop_mu_: the I/O thread for a whole turn
  // (it lets go only while it sleeps in poll(2)), or a caller running a command inline.
  std::mutex loop_mu_;
  bool loop_idle_ = false;                  // the I/O thread is in (or about to enter) poll(2)
  Clock::time_point sleep_until_{};         // ... with this timeout
  bool inline_turn_ = false;                // a caller is running a command: callbacks are deferred
  bool gathering_ = false;                  // the loop handles its mailbox: REQUESTs are batched
  std::vector<Command> commands_;           // handle_commands()' (reused)
  const CallToken* inline_owner_ = nullptr;  // ... except this call's own (read_for)
  struct Deferred {
    ReplyCallback callback;
    Result<Envelope> result;
  };
  std::size_t views_open_ = 0;  // open calls made by call_view (read_view looks only while > 0)
  std::vector<Deferred> deferred_;          // callbacks owed by inline commands (run by the loop)

  // wait_for_live.
  std::mutex live_mu_;
  std::condition_variable live_cv_;

  // The loop's (under loop_mu_; init() before the thread starts).
  std::vector<std::unique_ptr<Replica>> replicas_;
  ReplicaLiveness liveness_;
  LeastLoadedPicker picker_;
  std::uint64_t next_serial_ = 1;
  CallTable calls_;
  std::vector<PendingCall*> waiting_;  // parked: no replica took them yet
  std::vector<Replica*> liveness_view_;
  std::vector<pollfd> poll_fds_;
  std::vector<Replica*> poll_replicas_;
  bool poll_dirty_ = true;
  bool retired_dirty_ = false;
  std::string ping_bytes_;
  CurveKeyPair curve_client_keys_;
};

}  // namespace parley::transport::detail
