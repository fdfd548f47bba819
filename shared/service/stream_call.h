// Long-lived streaming calls served without a thread (Host::stream): the typed API a service
// sees (StreamHandler, StreamCall, EventSink), the type-erased call the host implements
// (RawStream), and the per-call actor that feeds a handler one event at a time on the worker pool.
// Why: a voice or recognition stream lasts minutes; holding a worker thread for it (bidi_stream)
// caps a process at `service.workers` open streams. Here a call costs a handler object and a
// mailbox; work runs on the pool only when a message, the end of the stream, a cancellation or
// an event the handler's own work posted back arrives. Depends on method.h, shared/actor, proto.
#pragma once

#include <google/protobuf/message.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "parley/v1/envelope.pb.h"
#include "shared/actor/actor.h"
#include "shared/service/method.h"

namespace parley::service {

/// How a stream method behaves (Host::stream).
struct StreamOptions {
  /// No envelope from the client for this long ends the call DEADLINE_EXCEEDED (0 = never); not
  /// counted once the client has closed its side (the service may then take its time).
  std::chrono::milliseconds idle_timeout{0};
  /// Client envelopes waiting for the handler before the call fails RESOURCE_EXHAUSTED ("client
  /// sent more than N stream messages ahead of the service"): the I/O side never blocks, and
  /// nothing is dropped silently.
  std::size_t max_buffered = 256;
};

/// A copyable, thread-safe handle that queues an Event for one call's handler (on_event), from
/// any thread: an engine's completion callback, another actor. Outlives the call safely: once
/// the call is over, post() returns UNAVAILABLE and the event is dropped (nobody wants it).
template <typename Event>
class EventSink {
 public:
  EventSink() = default;
  explicit EventSink(std::function<Status(Event)> post) : post_(std::move(post)) {}
  Status post(Event event) const { return post_ ? post_(std::move(event)) : unavailable("no call"); }

 private:
  std::function<Status(Event)> post_;
};

class RawStream;

/// A copyable, thread-safe handle to write replies to one call and end it, for code that lives
/// apart from the handler (another actor's sink): it keeps the call's transport side alive, and
/// once the call is over write() returns false and finish() does nothing.
template <typename Reply>
class ReplySink {
 public:
  ReplySink() = default;
  explicit ReplySink(std::shared_ptr<RawStream> raw) : raw_(std::move(raw)) {}
  bool write(const Reply& reply) const;
  void finish(const Status& status) const;
  bool finished() const;

 private:
  std::shared_ptr<RawStream> raw_;
};

/// The server's side of one stream call, handed to the handler's factory. Valid while the
/// handler lives (use replies() / sink() for code that may outlive it). Threading: write(),
/// finish(), replies() and sink() may be called from any thread.
template <typename Reply, typename Event>
class StreamCall {
 public:
  virtual ~StreamCall() = default;
  /// Sends one reply; false when the call is over (client gone, cancelled, finished).
  virtual bool write(const Reply& reply) = 0;
  /// Ends the call: OK, or an error status the client receives. Idempotent (the first wins).
  /// The handler gets no further events and is destroyed after the current one.
  virtual void finish(const Status& status) = 0;
  virtual bool finished() const = 0;
  /// Where the handler's asynchronous work sends its results back (as on_event calls).
  virtual EventSink<Event> sink() const = 0;
  /// write()/finish() as a handle that outlives the handler.
  virtual ReplySink<Reply> replies() const = 0;
  virtual CallContext& context() = 0;
};

/// One call's logic. The host calls these one at a time (never concurrently) on its worker
/// pool, in order: on_request for the REQUEST's payload, then for each STREAM_DATA payload;
/// on_end_of_stream once the client closed its side; on_event for each posted Event; and
/// on_cancelled when the call ended without finish() (client cancel or gone, deadline, idle
/// timeout, too many buffered envelopes, host stopping) — no reply can be sent after it.
/// Handlers must not block (no waiting on engines: post the result back as an Event).
template <typename Request, typename Reply, typename Event>
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual void on_request(Request& request) = 0;
  virtual void on_end_of_stream() = 0;
  virtual void on_event(Event& event) = 0;
  virtual void on_cancelled(const Status& why) = 0;
};

/// Makes the handler of a new call (on the worker pool, before its first event).
template <typename Request, typename Reply, typename Event>
using StreamFactory = std::function<std::unique_ptr<StreamHandler<Request, Reply, Event>>(StreamCall<Reply, Event>& call)>;

/// The host's type-erased side of a stream call (implemented in host.cc). Thread-safe.
class RawStream : public CallContext {
 public:
  /// Sends one reply payload; false when the call is over.
  virtual bool send_payload(const google::protobuf::Message& reply) = 0;
  /// The service ends the call with `status` (OK: a last reply carrying the timings); counted in
  /// the host's request metrics once. Idempotent (the first ending wins).
  virtual void finish(const Status& status) = 0;
  /// The host ends the call (client cancel, idle, overflow, shutdown): like finish(), but the
  /// handler is then told on_cancelled(why).
  virtual void abort(const Status& why) = 0;
  virtual bool finished() const = 0;
  /// True when finish() (not abort()) ended the call.
  virtual bool ended_by_service() const = 0;
  /// What the call ended with (OK while it is open).
  virtual Status end_status() const = 0;
  /// The REQUEST envelope.
  virtual const v1::Envelope& request_envelope() const = 0;
  /// Connects the client's further envelopes (in order, the last one with end_of_stream) and the
  /// transport's cancellation, both run on the transport's I/O thread; and `on_finish`, run once
  /// by whichever thread first calls finish(). None may block.
  virtual void listen(std::function<void(v1::Envelope)> on_envelope, std::function<void(const Status&)> on_cancel,
                      std::function<void()> on_finish) = 0;
};

template <typename Reply>
bool ReplySink<Reply>::write(const Reply& reply) const {
  return raw_ && raw_->send_payload(reply);
}
template <typename Reply>
void ReplySink<Reply>::finish(const Status& status) const {
  if (raw_) raw_->finish(status);
}
template <typename Reply>
bool ReplySink<Reply>::finished() const {
  return !raw_ || raw_->finished();
}

namespace detail {

struct StreamIn {
  v1::Envelope envelope;
};
struct StreamCancel {
  Status why;
};
struct StreamIdleCheck {};
struct StreamClosed {};  ///< the call was finished (from any thread): stop
template <typename Event>
struct StreamPosted {
  Event event;
};

/// One stream call: owns its handler and feeds it the call's messages, serialized.
template <typename Request, typename Reply, typename Event>
class StreamCallActor final
    : public actor::Actor<std::variant<StreamIn, StreamCancel, StreamIdleCheck, StreamClosed, StreamPosted<Event>>>,
      public StreamCall<Reply, Event> {
 public:
  using Msg = std::variant<StreamIn, StreamCancel, StreamIdleCheck, StreamClosed, StreamPosted<Event>>;

  StreamCallActor(std::shared_ptr<RawStream> raw, StreamFactory<Request, Reply, Event> factory, StreamOptions options,
                  std::shared_ptr<std::atomic<std::size_t>> queued)
      : raw_(std::move(raw)), factory_(std::move(factory)), options_(options), queued_(std::move(queued)) {}

  // StreamCall
  bool write(const Reply& reply) override { return raw_->send_payload(reply); }
  void finish(const Status& status) override { raw_->finish(status); }  // its on_finish hook stops this actor
  bool finished() const override { return raw_->finished(); }
  EventSink<Event> sink() const override {
    actor::ActorRef<Msg> ref = self_;
    return EventSink<Event>([ref](Event e) { return ref.tell(StreamPosted<Event>{std::move(e)}); });
  }
  ReplySink<Reply> replies() const override { return ReplySink<Reply>(raw_); }
  CallContext& context() override { return *raw_; }

  void receive(Msg& msg) override {
    actor::match(
        msg, [&](StreamIn& m) { on_in(m.envelope); },
        [&](StreamCancel& m) { end_with(m.why); },
        [&](StreamIdleCheck&) { on_idle_check(); }, [&](StreamClosed&) {},
        [&](StreamPosted<Event>& m) {
          if (handler_ && !raw_->finished()) handler_->on_event(m.event);
        });
    if (raw_->finished()) {
      end_with(raw_->end_status());  // ended elsewhere (I/O side, another thread): tell the handler
      this->stop_self();
    }
  }

 protected:
  void on_start() override {
    self_ = this->self();
    handler_ = factory_(*this);
    last_activity_ = this->now();
    if (options_.idle_timeout.count() > 0) idle_timer_ = this->schedule_self(options_.idle_timeout, StreamIdleCheck{});
    if (!handler_) raw_->abort(internal_error(raw_->method() + ": the service made no handler for the call"));
    if (raw_->finished()) this->stop_self();
  }
  void on_stop() override {
    // Stopped without an ending (the host shuts down, or a handler threw): tell the client.
    end_with(raw_->finished() ? raw_->end_status()
                              : unavailable(raw_->method() + ": the call was stopped (service shutting down or handler failure)"));
    handler_.reset();
  }

 private:
  void on_in(v1::Envelope& env) {
    queued_->fetch_sub(1, std::memory_order_relaxed);
    last_activity_ = this->now();
    if (!handler_ || raw_->finished()) return;
    if (env.has_payload()) {
      Request r;
      if (!env.payload().UnpackTo(&r)) {
        end_with(invalid_argument(raw_->method() + ": payload is not a " + r.GetDescriptor()->full_name() + " (got '" +
                                  env.payload().type_url() + "')"));
        return;
      }
      handler_->on_request(r);
    } else if (first_) {
      end_with(invalid_argument(raw_->method() + ": the REQUEST carries no payload"));
      return;
    }
    first_ = false;
    if (env.end_of_stream()) {
      client_closed_ = true;  // nothing more to wait for from the client: no idle timeout now
      if (!raw_->finished()) handler_->on_end_of_stream();
    }
  }

  void on_idle_check() {
    if (raw_->finished() || client_closed_) return;
    const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(this->now() - last_activity_);
    if (idle < options_.idle_timeout) {
      idle_timer_ = this->schedule_self(options_.idle_timeout - idle, StreamIdleCheck{});
      return;
    }
    end_with(deadline_exceeded(raw_->method() + ": no message from the client for " + std::to_string(options_.idle_timeout.count()) +
                               " ms"));
  }

  // The call ends for a reason the handler did not choose: finish it (if not yet) and tell the
  // handler once (not when the handler ended it, nor when it ended OK).
  void end_with(const Status& why) {
    raw_->abort(why);
    if (handler_ && !cancel_told_ && !raw_->ended_by_service()) {
      cancel_told_ = true;
      handler_->on_cancelled(why);
    }
  }

  std::shared_ptr<RawStream> raw_;
  StreamFactory<Request, Reply, Event> factory_;
  StreamOptions options_;
  std::shared_ptr<std::atomic<std::size_t>> queued_;
  std::unique_ptr<StreamHandler<Request, Reply, Event>> handler_;
  actor::ActorRef<Msg> self_;
  actor::TimePoint last_activity_{};
  actor::TimerId idle_timer_ = actor::kNoTimer;
  bool first_ = true;
  bool client_closed_ = false;
  bool cancel_told_ = false;
};

}  // namespace detail
}  // namespace parley::service
