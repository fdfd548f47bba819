// One turn in progress inside a session actor (TurnRun), and the helpers every step uses to add to
// its reply: messages, timings, errors, metrics. Exists so the steps (nlu, qa, lm, webhook,
// persistence) live in files of their own and share one picture of the turn.
// Depends on policy.h (Decision), services.h (CallInfo, Deadline), dialog_metrics.h, dialog.proto.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/bot/bot.h"
#include "services/dialog/engine/cancellation.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/policy.h"
#include "services/dialog/engine/services.h"

namespace parley::dialog {

/// Called with a token delta of an LM-backed reply (streaming). Any thread.
using TokenFn = std::function<void(const std::string&)>;
/// Called once with the turn's response or a failure (NOT_FOUND: no such session; ABORTED: the
/// session changed concurrently on another replica; RESOURCE_EXHAUSTED: too many queued turns;
/// FAILED_PRECONDITION: its bot is not loaded). Any thread.
using TurnDone = std::function<void(Result<v1::TurnResponse>)>;

/// What a caller asked for: one user utterance.
struct TurnInput {
  std::string text;
  TokenFn on_token;
  TurnDone done;
  /// 1 when this is the re-run after a compare-and-set conflict (at most one per turn).
  int attempt = 0;
  /// The caller's name for this turn (SessionManager::new_turn_tag()), so it can interrupt it
  /// later; 0 = none.
  std::uint64_t tag = 0;
  /// Set: the session must belong to this tenant (else the turn fails PERMISSION_DENIED, which
  /// SessionManager answers as NOT_FOUND). Unset: the internal transport (trusted).
  std::optional<std::string> tenant;
};

/// Cut the bot's reply of a stored turn to what was played (the turn had finished when the
/// interruption arrived).
struct CutRequest {
  int turn = 0;             ///< the turn's number (TurnResponse.turn)
  std::string played_text;
  std::string reason;       ///< "barge_in", "client"
  int attempt = 0;          ///< 1 on the re-run after a compare-and-set conflict
};

/// Where a turn is: what the session actor waits for. A reply that arrives in another phase is a
/// bug (logged), never acted on.
enum class TurnPhase {
  kLoading,   ///< the store get of the session
  kParsing,   ///< NLU Parse
  kDeciding,  ///< the policy, on the policy executor
  kStep,      ///< a service call of a step (QA Answer, LM Generate, webhook POST)
  kStoring,   ///< the store put (compare-and-set)
};

/// One turn in progress. Owned by the session actor (shared with the callbacks of its calls, which
/// hand it back in their reply messages so a stale reply is recognised).
struct TurnRun {
  TurnInput input;
  TurnPhase phase = TurnPhase::kLoading;
  std::shared_ptr<const Bot> bot;
  v1::TurnResponse response;
  v1::Session before;  ///< the state as loaded, restored when the NLU failed
  Decision decision;
  std::size_t next_step = 0;
  std::chrono::steady_clock::time_point start;
  Deadline deadline;
  /// Service and store round trips, subtracted from the total for the orchestrator's own time.
  std::chrono::microseconds waited{0};
  /// Time of the store get, reported with the put's as the "store" stage.
  std::chrono::microseconds load_time{0};
  bool error = false;

  /// Stops the turn's service calls (an interruption cancels the LM generation through it).
  std::shared_ptr<Cancellation> cancel = std::make_shared<Cancellation>();
  /// Interrupted: no further steps run, and the bot's messages are cut to `played_text`.
  bool interrupted = false;
  std::string played_text;
  std::string interrupt_reason;
  /// The kind of the message whose call the interruption stopped (its played text becomes one).
  std::string pending_kind;
  /// The messages were cut before the store put (an interruption during the put is cut later).
  bool cut_applied = false;
  /// Not a turn: a cut of a stored turn (store get, cut the history entry, store put).
  std::optional<CutRequest> cut;
};

/// What a step may touch besides its turn: the session's id and (mutable) state, and metrics.
struct TurnScope {
  const std::string& session_id;
  v1::Session& state;
  DialogMetrics* metrics;  ///< may be null
};

/// Appends a stage timing to the response.
void add_timing(v1::TurnResponse& response, const std::string& stage, std::chrono::microseconds d);
/// Observes `d` in parley_dialog_stage_duration_seconds{stage} (no-op without metrics).
void observe_stage(DialogMetrics* metrics, const std::string& stage, std::chrono::microseconds d);
/// Counts a failed service (or store) call in parley_dialog_service_errors_total.
void count_service_error(DialogMetrics* metrics, const std::string& service, const Status& status);
/// Records a finished service call: "<stage>" and "<stage>.service" timings, the stage histogram,
/// and the wait subtracted from the orchestrator's own time.
void record_call(TurnRun& run, DialogMetrics* metrics, const std::string& stage, const CallInfo& info);

/// Appends the bot's response `response` (by name), rendered with the session's slots.
void say(TurnRun& run, const v1::Session& state, const std::string& response, const std::string& kind);
/// A service failed during the turn: an errors[] entry, an "error" event, the builtin service-error
/// reply, a metric and a rate-limited log line. The turn goes on (and answers).
void service_failed(TurnRun& run, const TurnScope& scope, const std::string& service, const Status& status);

/// The call metadata of a step: the session id and min(turn deadline, now + timeout).
CallMeta call_meta(const TurnRun& run, const std::string& session_id, std::chrono::milliseconds timeout);

}  // namespace parley::dialog
