// The orchestrator's view of the services a turn uses (NLU, QA, LM, action webhooks), as an
// asynchronous interface. Exists so the policy and session actors are tested with in-process
// fakes and run against the real ZeroMQ services unchanged. Depends on the service protos.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/v1/lm.pb.h"
#include "parley/v1/nlu.pb.h"
#include "parley/v1/qa.pb.h"
#include "services/dialog/bot/bot.h"
#include "services/dialog/engine/cancellation.h"
#include "shared/common/status.h"

namespace parley::dialog {

using Deadline = std::chrono::steady_clock::time_point;

/// Who is calling: copied into the request envelope (session_id, trace_id).
struct CallMeta {
  std::string session_id;
  std::string trace_id;
  Deadline deadline;
  /// When set and cancelled, the call stops (the service is told; `done` gets CANCELLED).
  /// Implementations that cannot stop a call (a blocking webhook POST) let it finish.
  std::shared_ptr<Cancellation> cancel;
};

/// How a call went, for per-stage timings: the round trip seen by the orchestrator and the time the
/// service says it spent (sum of the reply envelope's timings; 0 when it reported none).
struct CallInfo {
  std::chrono::microseconds round_trip{0};
  std::chrono::microseconds service_time{0};
};

template <typename T>
using Done = std::function<void(Result<T>, CallInfo)>;

/// One NLU replica's answer to TrainingStatus (Services::training_status).
struct ReplicaTrainingStatus {
  std::string replica;  ///< its endpoint ("" for an in-process fake)
  Result<v1::TrainingStatusResponse> status;
};

/// Asynchronous service calls. Threading: thread-safe; `done` (and `on_delta`) run on any thread —
/// possibly inline, before the call returns (fakes do) — exactly once per call. Implementations
/// never throw; failures (down, slow, bad reply) arrive as a Status in `done`.
class Services {
 public:
  virtual ~Services() = default;
  virtual void parse(const v1::ParseRequest& req, const CallMeta& meta, Done<v1::ParseResponse> done) = 0;
  virtual void answer(const v1::AnswerRequest& req, const CallMeta& meta, Done<v1::AnswerResponse> done) = 0;
  /// Streams token deltas to on_delta as they arrive; `done` gets the whole text in text_delta and
  /// the finish reason / usage of the last reply.
  virtual void generate(const v1::GenerateRequest& req, const CallMeta& meta,
                        std::function<void(const std::string&)> on_delta, Done<v1::GenerateResponse> done) = 0;
  /// POSTs `json_body` to the webhook; `done` gets the response body (HTTP 2xx only).
  virtual void webhook(const WebhookDef& hook, std::string json_body, const CallMeta& meta, Done<std::string> done) = 0;

  /// The NLU's fine-tuning job for a bot and the model serving it, asked of every live NLU
  /// replica (each fine-tunes the bot itself): one entry per replica, by endpoint; none when no
  /// replica is live. `done` runs once, on any thread, by meta.deadline. The default answers one
  /// UNIMPLEMENTED entry (fakes without an NLU).
  virtual void training_status(const v1::TrainingStatusRequest& req, const CallMeta& meta,
                               std::function<void(std::vector<ReplicaTrainingStatus>)> done) {
    (void)req;
    (void)meta;
    std::vector<ReplicaTrainingStatus> out;
    out.push_back({"", unimplemented("this Services has no NLU training status")});
    done(std::move(out));
  }

  /// Blocking calls used when a bot is (re)loaded; never from an actor handler.
  virtual Result<v1::TrainResponse> train(const v1::TrainRequest& req, std::chrono::milliseconds timeout) = 0;
  virtual Result<v1::IngestResponse> ingest(const v1::IngestRequest& req, std::chrono::milliseconds timeout) = 0;
  /// Blocking: the NLU and QA forget a deleted bot (DropBot, DropKnowledgeBase). Best effort; the
  /// default does nothing (fakes).
  virtual Status drop_bot(const std::string& bot_id, std::chrono::milliseconds timeout) {
    (void)bot_id;
    (void)timeout;
    return Status::ok();
  }
  /// Process shutdown: the blocking calls above that are in flight return CANCELLED at once, and
  /// later ones fail the same way, so the thread that makes them (the bot sync) can be joined
  /// without waiting out a deadline on a replica that went away. The default does nothing.
  virtual void cancel_blocking_calls() {}
};

}  // namespace parley::dialog
