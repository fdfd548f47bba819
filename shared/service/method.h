// Typed service methods: how a service declares what it answers, independent of the wire.
// Exists so a service's code sees protobuf requests and replies, never envelopes, Any payloads or
// sockets; the host does the packing, deadlines, metrics and error mapping. Depends on common, proto.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shared/common/status.h"

namespace parley::service {

/// What a handler may ask about the call it serves. Valid for the duration of the handler call.
/// Threading: handlers run on the host's worker pool; a CallContext is used by one thread at a time.
class CallContext {
 public:
  virtual ~CallContext() = default;
  virtual const std::string& method() const = 0;
  virtual const std::string& session_id() const = 0;
  virtual const std::string& trace_id() const = 0;
  virtual std::chrono::steady_clock::time_point deadline() const = 0;
  /// True once the client cancelled or the deadline passed: stop work, the reply will be dropped.
  virtual bool cancelled() const = 0;
  /// Adds a stage timing to the reply envelope (services report where their time went).
  virtual void add_timing(std::string stage, std::chrono::microseconds duration) = 0;
};

/// A stream of typed replies for server-streaming methods. write() returns false when the call
/// is over (cancelled, deadline passed, client gone): the handler should stop.
template <typename Reply>
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool write(const Reply& reply) = 0;
};

/// The client's side of a bidirectional stream: its requests in order (the one carried by the
/// call's REQUEST envelope first, then each STREAM_DATA envelope's).
template <typename Request>
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  /// Blocks for the next request until `until`. Returns the request; std::nullopt once the client
  /// closed its stream (end of stream); CANCELLED when the call was cancelled or the client went
  /// away; DEADLINE_EXCEEDED when `until` (or the call's deadline) passed first;
  /// INVALID_ARGUMENT when a payload is not a Request; RESOURCE_EXHAUSTED when the client sent
  /// more than the host buffers (256 envelopes) without the handler reading.
  virtual Result<std::optional<Request>> read(std::chrono::steady_clock::time_point until) = 0;
};

/// Unary: one request, one reply.
template <typename Request, typename Reply>
using UnaryHandler = std::function<Result<Reply>(const Request&, CallContext&)>;

/// Server stream: one request, replies written as they come, then a final Status.
template <typename Request, typename Reply>
using ServerStreamHandler = std::function<Status(const Request&, StreamWriter<Reply>&, CallContext&)>;

/// Bidirectional stream: requests read as they come (StreamReader), replies written as they come,
/// then a final Status. The handler holds a worker for the whole call.
template <typename Request, typename Reply>
using BidiStreamHandler = std::function<Status(StreamReader<Request>&, StreamWriter<Reply>&, CallContext&)>;

}  // namespace parley::service
