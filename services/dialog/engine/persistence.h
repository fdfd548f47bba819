// The persistence step of a turn: store round trips (inline, or on a store executor so a slow
// Redis never holds an actor thread), adopting what the store holds as the session's state, and
// recording a finished turn in it. Depends on turn.h, shared/store, shared/actor/executor.h.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "services/dialog/engine/turn.h"
#include "shared/actor/executor.h"
#include "shared/store/session_store.h"

namespace parley::dialog {

/// Runs `op` (one store round trip) and hands its result and duration to `deliver`: inline, on
/// the caller's thread, when `executor` is null (the memory store: a mutex, no I/O); otherwise on
/// the executor (`deliver` then runs on an executor thread and should message the actor).
template <typename T>
void run_store_op(actor::Executor* executor, std::function<Result<T>()> op,
                  std::function<void(Result<T>, std::chrono::microseconds)> deliver) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  const auto start = std::chrono::steady_clock::now();
  if (executor == nullptr) {
    Result<T> r = op();
    deliver(std::move(r), duration_cast<microseconds>(std::chrono::steady_clock::now() - start));
    return;
  }
  executor->post([op = std::move(op), deliver = std::move(deliver), start]() mutable {
    Result<T> r = op();
    deliver(std::move(r), duration_cast<microseconds>(std::chrono::steady_clock::now() - start));
  });
}

/// Makes `state` what the store holds: parsed again only when the stored version differs from the
/// one in hand (another replica took a turn). Errors: NOT_FOUND (deleted or expired; `state` is
/// reset), UNAVAILABLE (the store failed), DATA_LOSS (the value does not parse).
Status adopt_stored(std::optional<v1::Session>& state, const Result<store::Entry>& stored, const std::string& session_id);

/// Records the finished turn in `state`: when the NLU failed (the policy did not run) the state is
/// first restored to what was loaded; then turns + 1, updated_at, a history entry (user text,
/// intent, the bot's messages), history trimmed to `max_history` turns.
void record_turn(v1::Session& state, const TurnRun& run, int max_history);

/// The bytes stored for a session (its version is the store's, not part of the value).
std::string stored_value(const v1::Session& state);

/// Fills the response's session-level fields from the stored state (outcome, active form,
/// requested slot, turn number, session slots) and the orchestrator/total timings.
void complete_response(TurnRun& run, const v1::Session& state, DialogMetrics* metrics);

}  // namespace parley::dialog
